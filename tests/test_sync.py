"""The pure push plan and the template writer (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcc_env.dotenv_file import (
    NO_LONGER_MARK,
    TemplateEntry,
    parse_env_bytes,
    render_template,
    secrets_to_send,
    template_keys_with_values,
    update_template,
)
from pcc_env.errors import DotenvError, InputError
from pcc_env.models import SecretSetDetail
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
    plan = plan_push(
        "s-set", values, remote("SAME", "EDITED", "NEVER_PUSHED_HERE", "STALE"), previous
    )
    assert plan.keys("+") == ["NEW"]
    assert plan.keys("=") == ["SAME"]
    assert plan.keys("~") == ["EDITED", "NEVER_PUSHED_HERE"]
    assert plan.to_delete == [] and plan.kept_remote == ["STALE"]
    pruned = plan_push("s-set", values, remote("SAME", "STALE"), previous, prune=True)
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
    state.record("http://h", "my-set", {"K": "canary-state-77"})
    text = state.path.read_text()
    assert "canary-state-77" not in text and "my-set" in text
    assert state.path.stat().st_mode & 0o777 == 0o600
    salt, digests = state.previous("http://h", "my-set")
    assert digests["K"] == PushState.digest(salt, "K", "canary-state-77")
    state.record("http://h", "my-set", {}, deleted=["K"])
    assert state.previous("http://h", "my-set")[1] == {}


def env(text: str) -> object:
    return parse_env_bytes(text.encode(), Path(".env"))


def test_secrets_to_send_guards_list_every_problem() -> None:
    parsed = parse_env_bytes(
        b"GOOD=1\nBAD.KEY=x\nnot a line\nEMPTY=\nINTERP=${HOME}/x\n", Path(".env")
    )
    with pytest.raises(DotenvError) as info:
        secrets_to_send(parsed)
    text = str(info.value)
    assert "line 3" in text and "'BAD.KEY'" in text and "'EMPTY'" in text and "'INTERP'" in text
    assert ".env:" in text


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
        "",
        "# first key (required)",
        "A=",
        "# default: x",
        "B=",
        "",
        "# --- In secret set 's' but not in the settings model ---",
        "ONLY_SET=",
    ]
    assert template_keys_with_values(text) == []


def test_update_template_keeps_hand_edits_adds_marks_and_is_idempotent() -> None:
    existing = "# my own notes\nB=\n# keep this comment\nGONE=\nA=\n"
    updated = update_template(existing, ENTRIES)
    lines = updated.splitlines()
    assert lines[:6] == [
        "# my own notes",
        "B=",
        "# keep this comment",
        NO_LONGER_MARK,
        "GONE=",
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


def test_template_with_values_is_detected() -> None:
    assert template_keys_with_values("A=\n# c\nB=secret\n") == [3]
