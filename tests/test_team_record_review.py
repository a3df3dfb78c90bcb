"""A hostile review of issue 22's record: the keyed push-state cache, two writes in the same
instant, and watch's later syncs. Each test failed before its fix (2026-12-06).
Two or three machines (each its own PCC_ENV_DATA_DIR and checkout) against one emulator; the
emulator's value check says what the set really holds."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.revision import read_record
from tests.cli_helpers import Result
from tests.test_team_record import SET, api, cli, emu, machine, run_while_b_pushes, write_env

__all__ = ["emu"]  # the shared emulator fixture


def live_keys(emu: EmulatorServer, name: str = SET) -> list[str]:
    return [s["fieldName"] for s in api(emu, "GET", f"/v1/secrets/{name}")["secrets"]]


def state_file(cwd: Path) -> Path:
    return cwd / ".state" / "push-state.json"


def no_traceback(r: Result) -> None:
    assert "Traceback" not in r.output, r.output.strip().splitlines()[-1]


# 1. push-state.json: a malformed file is no cache, never a traceback ----------------------------


def test_a_deeply_nested_state_file_is_no_cache_not_a_traceback(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """MEDIUM. PushState._load catches OSError and ValueError only; json.loads of a deeply
    nested document raises RecursionError: every push (and dry run) is a traceback, exit 1."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-deep-1", MODE="a")
    assert cli(emu, a, "push").code == 0
    state_file(a).write_text("[" * 100_000)
    r = cli(emu, a, "push", "--dry-run")
    no_traceback(r)
    assert r.code == 0, r.output


def test_a_hand_edited_salt_is_no_cache_not_a_traceback(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """MEDIUM. A slot whose check matches but whose salt holds a JSON escape of a lone
    surrogate ("\\ud800") passes _slot (it is a str); _keyed's salt.encode() raises
    UnicodeEncodeError: traceback, exit 1, on every push of this set."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-salt-1", MODE="a")
    assert cli(emu, a, "push").code == 0
    data = json.loads(state_file(a).read_text())
    [slot] = data.values()
    slot["salt"] = "\ud800" + slot["salt"]
    state_file(a).write_text(json.dumps(data))  # json.dumps writes the "\ud800" escape
    r = cli(emu, a, "push", "--dry-run")
    no_traceback(r)
    assert r.code == 0, r.output


def test_a_state_path_that_is_a_directory_is_refused_before_the_write(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """MEDIUM. check_writable probes the directory, not the file: with push-state.json a
    directory the PUT is sent, then record()'s os.replace raises IsADirectoryError: a traceback
    after the write, no wait, exit 1. It should be refused (ConfigError, exit 2) before."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-dir-1")
    state_file(a).mkdir(parents=True)
    r = cli(emu, a, "push", "--yes")
    no_traceback(r)
    assert r.code == 2, r.output
    assert "Nothing was sent" in r.output
    assert not any(k == "OPENAI_API_KEY" for k in _keys_or_none(emu))


def _keys_or_none(emu: EmulatorServer) -> list[str]:
    try:
        return live_keys(emu)
    except httpx.HTTPStatusError:
        return []


# 1. push-state.json: the cache must not lie after an edit of the file ---------------------------


def test_an_edited_marker_in_the_state_file_cannot_make_push_say_nothing_to_push(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """HIGH (needs write access to the state file: a synced home, a backup restored by a
    script). The "check" HMAC vouches only for the API key; the slot's "marker" (the set's
    record name, which every reader of the set's key list sees) is not covered. A writes X=a,
    B then writes X=b; setting A's slot's marker to B's marker makes A's push plan '=' from
    A's own digests and say "Nothing to push" while the set holds B's value."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-mark-A")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-mark-B")
    assert cli(emu, a, "push").code == 0
    assert cli(emu, b, "push").code == 0
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-mark-B")
    [b_marker] = read_record(live_keys(emu)).markers
    data = json.loads(state_file(a).read_text())
    [slot] = data.values()
    slot["marker"] = b_marker
    state_file(a).write_text(json.dumps(data))
    r = cli(emu, a, "push", "--yes")
    assert r.code == 0, r.output
    assert "Nothing to push" not in r.output, r.output
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-mark-A")


def test_a_slot_copied_from_another_set_is_no_cache(emu: EmulatorServer, tmp_path: Path) -> None:
    """HIGH (same precondition). The per-key digests are bound to neither the host nor the
    set: staging's slot copied under prod's name (with prod's marker) makes a push of a rotated
    key to prod say "Nothing to push" after it went to staging first."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-old")
    assert cli(emu, a, "push").code == 0  # prod: the old key
    write_env(a, OPENAI_API_KEY="sk-CANARY-rotated")
    assert cli(emu, a, "push", "--set", "review-staging").code == 0  # staging first
    [prod_marker] = read_record(live_keys(emu)).markers
    data = json.loads(state_file(a).read_text())
    staging = next(v for k, v in data.items() if k.endswith("|review-staging"))
    prod_slot = next(k for k in data if k.endswith(f"|{SET}"))
    data[prod_slot] = {**staging, "marker": prod_marker}
    state_file(a).write_text(json.dumps(data))
    r = cli(emu, a, "push", "--yes")
    assert r.code == 0, r.output
    assert "Nothing to push" not in r.output, r.output
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-rotated")


def test_old_format_slots_are_dropped_from_the_file(emu: EmulatorServer, tmp_path: Path) -> None:
    """LOW (security). A v1 slot (unkeyed digests beside their salt: the weakness of issue 22,
    a copy of the file tests guesses of a weak value offline) is ignored but kept forever:
    record() rewrites only the slot it writes, so a set not pushed again keeps its v1 digests
    in every backup of the file."""
    import hashlib

    a = machine(tmp_path, "a", MODE="a")
    salt = "00" * 16
    v1 = {
        "salt": salt,
        "digests": {"FLAG": hashlib.sha256(f"{salt}\0FLAG\0on".encode()).hexdigest()},
        "marker": "PCCENV_REV1_20261201T000000000Z_000000_000000_0000000000000000",
    }
    state_file(a).parent.mkdir(parents=True)
    state_file(a).write_text(json.dumps({f"{emu.api_host}|review-other": v1}))
    assert cli(emu, a, "push").code == 0
    data = json.loads(state_file(a).read_text())
    assert all(isinstance(s, dict) and s.get("v") == 2 for s in data.values()), data


# 2. watch: a later sync must not vouch for keys it did not send ---------------------------------


def test_watch_after_another_machines_write_does_not_vouch_for_keys_it_did_not_send(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """HIGH (watch, older than today's diff; today's race makes it routine: a watch's sync that
    raced is retried the same way). A watch's later sync sends only the keys changed since its
    last sync, but the record it writes covers its whole file, whoever wrote the set since.
    Here B changes X while the watch runs; the watch then sends only Y, and its record says X
    holds the watch's value: every machine with the watch's file is told "Nothing to push"
    while X holds B's value."""
    from pcc_env.client import SecretsClient
    from pcc_env.sync import PushState
    from pcc_env.targets import SetTarget
    from pcc_env.watch import EnvWatcher

    w = machine(tmp_path, "w", X="w1", Y="y1")
    b = machine(tmp_path, "b", X="b2", Y="y1")
    events: list[Any] = []
    with SecretsClient(api_key=emu.token, api_host=emu.api_host) as client:
        watcher = EnvWatcher(
            client,
            [w / ".env"],
            [SetTarget(SET, "us-west")],
            state=PushState(state_file(w)),
            report=events.append,
            debounce=0.01,
        )
        stop = threading.Event()
        watcher.sync(time.monotonic(), stop)
        assert cli(emu, b, "push").code == 0  # B changes X
        write_env(w, X="w1", Y="y2")
        watcher.sync(time.monotonic(), stop)
        # A later sync under the watch's own record still does not vouch for X.
        write_env(w, X="w1", Y="y3")
        watcher.sync(time.monotonic(), stop)
    assert [e.kind for e in events] == ["synced", "synced", "synced"], events
    assert emu.check_value(SET, "X", "b2")  # the truth: X holds B's value
    c = machine(tmp_path, "c", X="w1", Y="y3")
    dry = cli(emu, c, "push", "--dry-run")
    assert "= X" not in dry.stdout, dry.stdout
    r = cli(emu, w, "push", "--yes")
    assert "Nothing to push" not in r.output, r.output
    assert emu.check_value(SET, "X", "w1")


# 2. ConcurrentWriteError: what the user is told -------------------------------------------------


def test_a_raced_secrets_set_is_not_called_a_push(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOW. `secrets set` raced with a push: the message says "at the same time as this push"
    and "Run the push again", but the user ran `secrets set` (and may have no .env to push)."""
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-B-2")
    result = run_while_b_pushes(emu, monkeypatch, b, tmp_path, "secrets", "set", SET, "MODE=x")
    assert result.exit_code == 1, result.output
    assert "at the same time" in result.output
    assert "this push" not in result.output and "Run the push again" not in result.output


def test_a_raced_push_json_says_the_write_was_sent(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOW. `push --json` that raced: exit 1 and a ConcurrentWriteError, but the document's
    result is {"ok": false} with no "sent": a script reading it cannot tell this (both writes
    sent) from a refusal that sent nothing; `secrets set --json` says "accepted": true."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-B-2")
    result = run_while_b_pushes(emu, monkeypatch, b, a, "push", "--yes", "--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["error"]["type"] == "ConcurrentWriteError"
    assert document["result"].get("sent") is True, document


def test_a_status_read_listing_this_writes_marker_twice_is_no_race() -> None:
    """LOW (hostile or buggy server). raced_with counts marker *entries*: a status read that
    lists this write's own marker twice (and no other) raises ConcurrentWriteError, "written by
    someone else at the same time", exit 1, nothing redeployed. Markers should be counted once
    per name (read_record: dict.fromkeys)."""
    from pcc_env.revision import new_revision
    from pcc_env.sync import raced_with

    rev = new_revision(["A"], {"A": "1"}, now=time.time())
    raced_with(SET, rev, ["A", rev.name, rev.name])  # must not raise
