from __future__ import annotations

import pytest

from pcc_env.errors import InputError
from pcc_env.rules import (
    check_keys,
    check_set_name,
    escape_text,
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


@pytest.mark.parametrize("name", ["abc\n", "my-set\n", "abc\r\n"])
def test_set_names_with_a_trailing_newline_are_refused(name: str) -> None:
    # `$` accepts a newline before the end of the string; names must match as a whole.
    assert set_name_problems(name)


@pytest.mark.parametrize("key", ["KEY\n", "KEY\r\n", "A_B\n"])
def test_keys_with_a_trailing_newline_are_refused(key: str) -> None:
    assert key_problems(key)


def test_keys_differing_only_in_case_are_refused() -> None:
    with pytest.raises(InputError) as info:
        check_keys(["api_key", "API_KEY", "OTHER"])
    assert "differ only in case" in str(info.value)
    with pytest.raises(InputError):
        parse_assignments(["key=1", "KEY=2"])


def test_an_argument_that_is_not_a_key_is_never_echoed() -> None:
    # `secrets set NAME KEY VALUE`: the value lands where a key belongs.
    value = "sk.live.0123456789abcdef"
    with pytest.raises(InputError) as info:
        parse_assignments(["KEY", value])
    assert "argument 2" in str(info.value)
    assert value not in str(info.value)
    assert "0123456789" not in repr(info.value.problems)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain name", "plain name"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("two\nlines", "two\\x0alines"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("line\u2028sep", "line\\u2028sep"),
        ("café", "café"),
    ],
)
def test_escape_text(raw: str, escaped: str) -> None:
    assert escape_text(raw) == escaped
