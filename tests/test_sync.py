"""The pure push plan and the template writer (no I/O)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pcc_env.dotenv_file import (
    NO_LONGER_MARK,
    TemplateEntry,
    non_template_lines,
    parse_env_bytes,
    render_template,
    secrets_to_send,
    update_template,
)
from pcc_env.errors import DotenvError, InputError
from pcc_env.models import SecretSetDetail
from pcc_env.revision import new_revision
from pcc_env.sync import PushState, plan_push


def remote(*keys: str, region: str = "us-west") -> SecretSetDetail:
    return SecretSetDetail.model_validate(
        {"region": region, "status": "ready", "secrets": [{"fieldName": k} for k in keys]}
    )


def test_plan_marks_new_changed_unchanged_and_prune() -> None:
    salt = "s"
    previous = (
        salt,
        {
            "SAME": PushState.digest(salt, "SAME", "1"),
            "EDITED": PushState.digest(salt, "EDITED", "old"),
        },
    )
    values = {"NEW": "n", "SAME": "1", "EDITED": "new", "NEVER_PUSHED_HERE": "x"}
    keys = ("SAME", "EDITED", "NEVER_PUSHED_HERE", "STALE")
    # The local digests count only while the set's record is the one written from here (issue
    # 22: with no record in the set, "=" from this machine's memory was a false "unchanged").
    marker = new_revision(keys, {"SAME": "1", "EDITED": "old"}, now=1e9).name
    plan = plan_push("s-set", values, remote(*keys, marker), previous, cached_marker=marker)
    assert plan.keys("+") == ["NEW"]
    assert plan.keys("=") == ["SAME"]
    assert plan.keys("~") == ["EDITED"]
    # In the set, but not covered by the record this machine wrote: unknown, not "changed".
    assert plan.keys("?") == ["NEVER_PUSHED_HERE"]
    assert plan.to_delete == [] and plan.kept_remote == ["STALE"]
    unknown = plan_push("s-set", values, remote(*keys), previous)
    assert unknown.keys("?") == ["SAME", "EDITED", "NEVER_PUSHED_HERE"]
    pruned = plan_push("s-set", values, remote("SAME", "STALE", marker), previous, prune=True)
    assert pruned.to_delete == ["STALE"] and pruned.kept_remote == []


def test_plan_repr_and_json_hold_no_values() -> None:
    plan = plan_push("s-set", {"K": "canary-plan-1"}, None, ("s", {}))
    assert "canary-plan-1" not in repr(plan) and "canary-plan-1" not in str(plan.to_json())
    assert plan.to_json()["new"] == ["K"] and plan.exists is False


def test_plan_refuses_region_change() -> None:
    with pytest.raises(InputError, match="region 'us-west', not 'us-east'"):
        plan_push("s-set", {"K": "v"}, remote("K"), ("s", {}), region="us-east")
    assert plan_push("s-set", {"K": "v"}, remote("K"), ("s", {}), region="us-west")


def test_plan_refuses_prune_of_everything_and_from_empty() -> None:
    with pytest.raises(InputError, match="every key"):
        plan_push("s-set", {"OTHER": "v"}, remote("A", "B"), ("s", {}), prune=True)
    with pytest.raises(InputError, match="empty file"):
        plan_push("s-set", {}, remote("A"), ("s", {}), prune=True)
    with pytest.raises(InputError, match="no keys"):
        plan_push("s-set", {}, None, ("s", {}))


def test_state_file_is_0600_and_holds_digests_only(tmp_path: Path) -> None:
    state = PushState(tmp_path / "state" / "push-state.json")
    k = b"k" * 32
    state.record("http://h", "my-set", {"K": "canary-state-77"}, key=k)
    text = state.path.read_text()
    assert "canary-state-77" not in text and "my-set" in text
    assert state.path.stat().st_mode & 0o777 == 0o600
    salt, digests = state.previous("http://h", "my-set", key=k)
    assert digests["K"] == PushState.digest(salt, "K", "canary-state-77")
    state.record("http://h", "my-set", {}, deleted=["K"], key=k)
    assert state.previous("http://h", "my-set", key=k)[1] == {}


def test_the_state_file_alone_cannot_test_a_guess(tmp_path: Path) -> None:
    """Review of issue 22: per-key digests salted with a salt in the same file let whoever
    copies the file (a backup, a synced home) test guesses of a weak value offline. The digests
    are keyed by the API key too: the file's salt and digests match no guess without it, and a
    slot written under another API key (rotated) or by an older pcc-env is no cache."""
    import hashlib
    import json

    state = PushState(tmp_path / "push-state.json")
    key = hashlib.sha256(b"the API key").digest()
    state.record("h", "s", {"FLAG": "true"}, key=key, marker="PCCENV_REV1_A")
    slot = json.loads(state.path.read_text())["h|s"]
    file_salt = slot["salt"]
    guesses = ["true", "false", "1", "0", "yes"]
    assert all(PushState.digest(file_salt, "FLAG", g) != slot["digests"]["FLAG"] for g in guesses)
    keyed_salt, digests = state.previous("h", "s", key=key)
    assert digests["FLAG"] == PushState.digest(keyed_salt, "FLAG", "true")
    other = hashlib.sha256(b"a rotated API key").digest()
    assert state.previous("h", "s", key=other)[1] == {}
    assert state.cached_marker("h", "s", key=other) is None
    old = {"h|s": {"salt": file_salt, "digests": slot["digests"], "marker": "PCCENV_REV1_A"}}
    state.path.write_text(json.dumps(old))  # what pcc-env wrote before the keyed digests
    assert state.cached_marker("h", "s", key=key) is None


def env(text: str) -> object:
    return parse_env_bytes(text.encode(), Path(".env"))


def test_secrets_to_send_guards_list_every_problem() -> None:
    parsed = parse_env_bytes(
        b"GOOD=1\nBAD.KEY=x\nEMPTY=\nINTERP=${HOME}/x\nmixed=1\nMIXED=2\n", Path(".env")
    )
    with pytest.raises(DotenvError) as info:
        secrets_to_send(parsed)
    text = str(info.value)
    assert "'BAD.KEY'" in text and "'EMPTY'" in text and "'INTERP'" in text
    assert "'mixed' and 'MIXED' differ only in case" in text
    assert ".env:" in text


PEM_BODY = [
    "MHcCAQEEIBqcanary0pemline0one0xxxxxxxxxxxxxxxxxxxxxxoAoGCCqGSM49",
    "AwEHoUQDQgAEcanary0pemline0two0yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
    "zzzzcanary0pemline0three0zzzzzzzzz+/zzzzzzzzzzzzzzzzzzzzzzzzz==",
]


@pytest.mark.parametrize("skip_empty", [False, True])
def test_unquoted_multiline_value_is_refused_by_line_number_only(skip_empty: bool) -> None:
    text = "\n".join(
        [
            "A=1",
            "PRIVATE_KEY=-----BEGIN EC PRIVATE KEY-----",
            *PEM_BODY,
            "-----END EC PRIVATE KEY-----",
        ]
    )
    with pytest.raises(DotenvError) as info:
        secrets_to_send(parse_env_bytes(text.encode(), Path(".env")), skip_empty=skip_empty)
    message = str(info.value)
    assert "lines 3, 4" in message and "no '='" in message and "double quotes" in message
    for line in PEM_BODY:
        for start in range(len(line) - 6):
            assert line[start : start + 6] not in message.replace(".env", "")
    assert "canary" not in repr(info.value.problems)


def test_a_line_that_cannot_be_parsed_is_named_by_number_only() -> None:
    with pytest.raises(DotenvError) as info:
        parse_env_bytes(b"GOOD=1\nA='sk-canary-unterminated\n", Path(".env"))
    assert "line 2: cannot be parsed" in str(info.value)
    assert "canary" not in str(info.value)


def test_skip_empty_and_no_interpolate() -> None:
    parsed = parse_env_bytes(b"A=1\nB=\nC=${X}y\n", Path(".env"))
    values, skipped = secrets_to_send(parsed, interpolate=False, skip_empty=True)
    assert values == {"A": "1", "C": "${X}y"} and skipped == ["B"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"A=1\nB=\x00\n", "line 2: contains a NUL byte"),
        (b"A=1\n\nB=\xff\n", "line 3: not valid UTF-8"),
    ],
)
def test_unreadable_bytes(data: bytes, message: str) -> None:
    with pytest.raises(DotenvError, match=message):
        parse_env_bytes(data, Path(".env"))


def test_duplicates_are_detected() -> None:
    parsed = parse_env_bytes(b"A=1\nA=2\n", Path(".env"))
    assert parsed.duplicates == ["A"]


ENTRIES = [
    TemplateEntry("A", ("first key (required)",)),
    TemplateEntry("B", ("default: x",)),
    TemplateEntry("ONLY_SET", (), "In secret set 's' but not in the settings model"),
]


def test_render_template_groups_and_no_values() -> None:
    text = render_template(ENTRIES, ["header"])
    assert text.splitlines() == [
        "# header",
        "# pcc-env export keys: A B ONLY_SET",
        "",
        "# first key (required)",
        "A=",
        "# default: x",
        "B=",
        "",
        "# --- In secret set 's' but not in the settings model ---",
        "ONLY_SET=",
    ]
    assert non_template_lines(text) == []


def test_update_template_keeps_hand_edits_adds_marks_and_is_idempotent() -> None:
    existing = (
        "# my own notes\n# pcc-env export keys: B GONE A\nB=\n# keep this comment\nGONE=\n"
        "HAND_ADDED=\nA=\n"
    )
    updated = update_template(existing, ENTRIES)
    lines = updated.splitlines()
    assert lines[:8] == [
        "# my own notes",
        "# pcc-env export keys: A B ONLY_SET GONE",
        "B=",
        "# keep this comment",
        NO_LONGER_MARK,  # exported before, gone now
        "GONE=",
        "HAND_ADDED=",  # never exported: not marked
        "A=",
    ]
    assert "ONLY_SET=" in lines
    assert update_template(updated, ENTRIES) == updated
    # a key that comes back loses its mark
    back = update_template(updated, [*ENTRIES, TemplateEntry("GONE")])
    assert (
        NO_LONGER_MARK not in back
        and update_template(back, [*ENTRIES, TemplateEntry("GONE")]) == back
    )


def test_update_of_a_template_without_record_marks_nothing_and_adds_the_record() -> None:
    existing = "# Onboarding template\n# copy it\n\nA=\nOLD=\n"
    updated = update_template(existing, ENTRIES)
    assert NO_LONGER_MARK not in updated  # OLD may be hand-added: nothing says otherwise
    assert updated.splitlines()[:5] == [
        "# Onboarding template",
        "# copy it",
        "# pcc-env export keys: A B ONLY_SET",
        "",
        "A=",
    ]
    assert update_template(updated, ENTRIES) == updated
    # With mark_gone False (the set's keys were not read), nothing new is marked.
    record = "# pcc-env export keys: A ONLY_SET\nA=\nONLY_SET=\n"
    offline = update_template(record, ENTRIES[:1], mark_gone=False)
    assert NO_LONGER_MARK not in offline
    assert offline.splitlines()[0] == "# pcc-env export keys: A ONLY_SET"


def test_template_with_values_is_detected() -> None:
    assert non_template_lines("A=\n# c\nB=secret\n") == [3]


@pytest.mark.parametrize(
    "text",
    [
        "A: sk-yaml-value\n",
        '{"A": "sk-json-value"}\n',
        "export A sk-shell-value\n",
        "A=\nsk-bare-token\n",
        "export A=sk-exported\n",
        "A='sk-quoted'\n",
    ],
)
def test_values_in_any_format_are_not_a_template(text: str) -> None:
    assert non_template_lines(text)


def test_template_descriptions_and_defaults_stay_on_one_line() -> None:
    from pydantic import Field

    from pcc_env.runtime import SecretSettings
    from pcc_env.sync import template_entries

    class Hostile(SecretSettings):
        model_a: str = Field(
            default="x\nINJECTED_DEFAULT=sk-evil", description="desc\nINJECTED_DESC=sk-evil\x1b[2J"
        )

    text = render_template(template_entries(Hostile, None, None), ["h"])
    assert "INJECTED_DESC=" not in [line.split("=")[0] + "=" for line in text.splitlines()]
    # model_a has a default: optional, so commented out with it (issue 21 item 7), on one line.
    assert [line for line in text.splitlines() if not line.startswith("#") and line] == []
    assert [line for line in text.splitlines() if "MODEL_A=" in line] == [
        '# MODEL_A="x INJECTED_DEFAULT=sk-evil"'
    ]
    assert "\x1b" not in text


def test_a_file_is_parsed_once_unless_it_has_something_to_expand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """python-dotenv expands only ${...}: a file without one is parsed once (push start-up),
    and gives what the second, interpolating parse would."""
    import dotenv

    import pcc_env.dotenv_file as dotenv_file

    calls: list[bool] = []
    real = dotenv.dotenv_values

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(bool(kwargs.get("interpolate")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dotenv_file, "dotenv_values", counted)
    plain = "A=1\nB='$HOME x'\nC=\"$NOT_BRACED\"\nD=\n"
    parsed = parse_env_bytes(plain.encode(), Path(".env"))
    assert calls == [False]
    assert parsed.interpolated == dict(real(stream=io.StringIO(plain), interpolate=True))
    calls.clear()
    monkeypatch.setenv("PCC_ENV_TEST_EXPANDED", "x")
    braced = parse_env_bytes(b"A=${PCC_ENV_TEST_EXPANDED}-y\n", Path(".env"))
    assert calls == [False, True] and braced.interpolated["A"] == "x-y"
    assert braced.raw["A"] == "${PCC_ENV_TEST_EXPANDED}-y"
