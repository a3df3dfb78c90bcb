from __future__ import annotations

import pytest

from pcc_env.errors import InputError
from pcc_env.rules import (
    check_keys,
    check_set_name,
    key_problems,
    normalize_host,
    parse_assignment,
    parse_assignments,
    set_name_problems,
)
from tests.seeds import ARGUMENT_TABLE


@pytest.mark.parametrize(
    "name", ["abc", "my-secrets", "a.b.c", "prod.us-west", "x" * 63, "a1b", "0-0"]
)
def test_valid_set_names(name: str) -> None:
    assert set_name_problems(name) == []
    assert check_set_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "x" * 64,
        "My-Secrets",
        "-abc",
        "abc-",
        "a..b",
        ".abc",
        "abc.",
        "a_b",
        "a b",
        "",
        "a.-b",
    ],
)
def test_invalid_set_names(name: str) -> None:
    assert set_name_problems(name)
    with pytest.raises(InputError):
        check_set_name(name)


def test_set_name_reports_every_problem() -> None:
    problems = set_name_problems("A_")
    assert len(problems) == 2  # too short and bad characters


@pytest.mark.parametrize("key", ["A", "API_KEY", "a-b_C9", "K" * 64])
def test_valid_keys(key: str) -> None:
    assert key_problems(key) == []


@pytest.mark.parametrize("key", ["", "K" * 65, "A.B", "A B", "A=B", "É", "A/B"])
def test_invalid_keys(key: str) -> None:
    assert key_problems(key)


def test_check_keys_lists_all_invalid_keys() -> None:
    with pytest.raises(InputError) as info:
        check_keys(["GOOD", "BAD.ONE", "ALSO BAD"])
    assert len(info.value.problems) == 2
    assert "'BAD.ONE'" in str(info.value)


@pytest.mark.parametrize(
    ("argv", "value"),
    [*ARGUMENT_TABLE, ('KEY1="quoted"', "quoted"), ('KEY1="', '"')],
)
def test_parse_assignment_follows_the_docs(argv: str, value: str) -> None:
    assert parse_assignment(argv) == ("KEY1", value)


def test_bare_key_asks_for_the_value() -> None:
    assert parse_assignment("KEY1") == ("KEY1", None)


def test_parse_assignments_reports_every_problem_without_values() -> None:
    canary = "canary-d41d8cd98f00"
    with pytest.raises(InputError) as info:
        parse_assignments(
            [f"BAD.KEY={canary}", "EMPTY=", 'QUOTED=""', f"A={canary}", f"A={canary}"]
        )
    text = str(info.value)
    assert len(info.value.problems) == 4
    assert canary not in text
    assert "argument 1" in text and "argument 2" in text and "argument 5" in text


def test_long_invalid_key_is_not_echoed() -> None:
    pasted = "sk-proj " + "x" * 80  # looks like a value pasted in place of a key
    (problem, *_) = key_problems(pasted)
    assert pasted not in problem
    assert "not shown" in problem


@pytest.mark.parametrize(
    ("host", "expected"),
    [("https://index.docker.io/v1", "https://index.docker.io/v1/"), ("ghcr.io/", "ghcr.io/")],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected
