"""Hostile review of the team-walk fixes (14de0bb): the org's private API key left out of the
set (rules.ORG_API_KEY), the notes for keys left empty that the set holds a value for
(emptyButInSet), and '?' for keys this machine's cache does not cover. Each test fails on that
commit; against the emulator, with the emulator's value check as the truth."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import PCC_ENV, cli_env
from tests.cli_helpers import emulator_api as api
from tests.cli_helpers import run_on_machine as cli

SET = "review-final-secrets"

MODEL = """\
from pydantic import Field, SecretStr

from pcc_env import SecretSettings


class Settings(SecretSettings):
    stt_api_key: SecretStr = Field(description="STT key")
    llm_model: str | None = Field(None, description="LLM model (default: the service's)")
"""

# An agent that calls Pipecat Cloud's API itself (it starts other agents): its model holds the
# org key, so push sends it (test_team_walk.test_an_org_key_the_agents_model_holds_is_sent).
MODEL_WITH_ORG_KEY = MODEL + "    pipecat_api_key: SecretStr\n"


@pytest.fixture
def emu() -> Any:
    with run_emulator(provision_delay=0.05, deploy_delay=0.05) as server:
        yield server


def project(tmp_path: Path, name: str, env: str, model: str = MODEL, pyproject: str = "") -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "pcc-deploy.toml").write_text(f'agent_name = "review-bot"\nsecret_set = "{SET}"\n')
    (root / "settings.py").write_text(model)
    (root / "pyproject.toml").write_text(
        '[tool.pcc-env]\nsettings = "settings:Settings"\n' + pyproject
    )
    (root / ".env").write_text(env)
    return root


def holds(emu: EmulatorServer, key: str, value: str, set_name: str = SET) -> bool:
    body = {"set": set_name, "key": key, "value": value}
    return bool(api(emu, "POST", "/_emulator/check-value", body)["matches"])


def set_keys(emu: EmulatorServer, set_name: str = SET) -> list[str]:
    return [s["fieldName"] for s in api(emu, "GET", f"/v1/secrets/{set_name}")["secrets"]]


def watch_events(
    emu: EmulatorServer, cwd: Path, *args: str, until: tuple[str, ...] = ("synced", "unchanged")
) -> tuple[list[dict[str, Any]], str]:
    """`pcc-env watch --json ARGS` until its first event of a kind in ``until`` (or a skip),
    then Ctrl-C: (every JSON event, stderr)."""
    env = cli_env({**emu.env(), "PCC_ENV_DATA_DIR": str(cwd / ".state")})
    proc = subprocess.Popen(
        [PCC_ENV, "watch", "--json", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            event = json.loads(line)
            events.append(event)
            if event["event"] in (*until, "skipped"):
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        finally:
            if proc.poll() is None:
                proc.kill()
    while not lines.empty():
        events.append(json.loads(lines.get()))
    assert proc.stderr is not None
    return events, proc.stderr.read()


# 1. watch leaves out an org key the model holds, and --prune deletes it from the set ---------


def test_watch_does_not_withhold_or_delete_an_org_key_the_model_holds(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """HIGH (data loss). push sends PIPECAT_API_KEY when the settings model holds it (the agent
    reads it); watch never consults the model (cli/watch.py passes no settings, watch.py
    withholds every org_api_keys(values)): its events say `"withheld": ["PIPECAT_API_KEY"]`
    and, with --prune, its initial sync DELETES the key push sent: the agent, whose model
    requires it, no longer starts."""
    env = "STT_API_KEY=sk-CANARY-rf-stt\nLLM_MODEL=m1\nPIPECAT_API_KEY=pk_CANARY-rf-own\n"
    a = project(tmp_path, "a", env, model=MODEL_WITH_ORG_KEY)
    r = cli(emu, a, "push")
    assert r.code == 0, r.output
    assert holds(emu, "PIPECAT_API_KEY", "pk_CANARY-rf-own")

    events, err = watch_events(emu, a, "--prune", "--yes")
    first = next(e for e in events if e["event"] in ("synced", "unchanged", "skipped"))
    assert "PIPECAT_API_KEY" in set_keys(emu), (first, err)  # fails: watch deleted it
    assert first["withheld"] == [], first
    assert "pk_CANARY" not in json.dumps(events) + err


# 2. push to several sets: the per-set plan still says an empty / withheld key is not in the file


def test_a_push_to_several_sets_does_not_call_keys_in_the_file_not_in_the_file(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """HIGH (false statement, the one 14de0bb fixed for one set). A target with two regions; the
    sets hold LLM_MODEL and PIPECAT_API_KEY; the file has `LLM_MODEL=` (empty) and a filled-in
    PIPECAT_API_KEY. Each set's plan says `kept on the remote (not in the file; --prune deletes
    them): LLM_MODEL, PIPECAT_API_KEY` (_push_many calls show_plan(push.plan) with no `held`),
    although both are in the file; the stderr note is hedged ('unless a set holds a value') and
    --json has neither "withheld" nor "emptyButInSet" for any set."""
    targets = (
        '\n[tool.pcc-env.targets.prod]\nregions = ["us-west", "us-east"]\nset = "rf-bot-{region}"\n'
    )
    full = "STT_API_KEY=sk-CANARY-rf-stt\nLLM_MODEL=m1\nPIPECAT_API_KEY=pk_CANARY-rf-m\n"
    a = project(tmp_path, "a", full, pyproject=targets)
    r = cli(emu, a, "push", "-t", "prod", "--allow-reserved", "--yes")
    assert r.code == 0, r.output
    (a / ".env").write_text(
        "STT_API_KEY=sk-CANARY-rf-stt\nLLM_MODEL=\nPIPECAT_API_KEY=pk_CANARY-rf-m\n"
    )

    r = cli(emu, a, "push", "-t", "prod", "--dry-run")
    assert r.code == 0, r.output
    kept = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("kept on the remote")]
    assert r.stdout.count("LLM_MODEL empty here, but the set holds a value") == 2, r.output
    for line in kept:  # fails: "... (not in the file; ...): LLM_MODEL, PIPECAT_API_KEY"
        assert "LLM_MODEL" not in line and "PIPECAT_API_KEY" not in line, r.output

    r = cli(emu, a, "push", "-t", "prod", "--dry-run", "--json")
    assert r.code == 0, r.output
    for entry in json.loads(r.stdout)["sets"]:  # fails: no "withheld" in any set's plan
        assert entry["plan"].get("withheld") == ["PIPECAT_API_KEY"], entry
        assert "LLM_MODEL" in entry["plan"].get("emptyButInSet", []), entry
    assert "pk_CANARY" not in r.output


# 3. a file whose only key is the org key: "the file has no keys" ---------------------------


def test_a_file_with_only_the_org_key_is_not_said_to_have_no_keys(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """MEDIUM (false message, failing hint). A server's .env with only PIPECAT_API_KEY (filled
    in) pushed to a set by mistake: push says `Error: nothing to push: the file has no keys`
    (plan_push raises it after the key was withheld, before the note is shown); --prune says
    `refusing --prune from an empty file`; watch's event says the same with `"withheld": []`.
    The file has a key: the message should name it as withheld and --allow-reserved."""
    a = project(tmp_path, "a", "PIPECAT_API_KEY=pk_CANARY-rf-only\n")
    for args in (("push", "--dry-run"), ("push", "--prune", "--yes")):
        r = cli(emu, a, *args)
        assert "pk_CANARY" not in r.output
        assert "the file has no keys" not in r.output, r.output  # fails
        assert "empty file" not in r.output, r.output
        assert "PIPECAT_API_KEY" in r.output, r.output

    events, err = watch_events(emu, a, "--set", SET)
    skipped = next(e for e in events if e["event"] == "skipped")
    assert "the file has no keys" not in skipped["message"], skipped  # fails
    assert "pk_CANARY" not in json.dumps(events) + err


# 4. emptyButInSet misses a key whose case differs from the set's -----------------------------


def test_an_empty_key_in_another_case_is_not_said_to_use_the_default(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """MEDIUM (false statement, narrow). The set holds LLM_MODEL (laptop B); laptop A's .env
    writes it `llm_model=` (the model reads env names case-insensitively, as
    rules.reserved_keys says the runtime does). A's plan says `llm_model empty: default used,
    not sent` and lists LLM_MODEL as `not in the file`: the agent gets B's value. The held
    check (`k in plan.kept_remote`, exact case) should compare as the runtime reads; the same
    for `pipecat_api_key` (no 'the set already holds one')."""
    b = project(tmp_path, "b", "STT_API_KEY=sk-CANARY-rf-stt\nLLM_MODEL=model-b\n")
    assert cli(emu, b, "push").code == 0
    a = project(tmp_path, "a", "STT_API_KEY=sk-CANARY-rf-stt\nllm_model=\n")
    r = cli(emu, a, "push", "--dry-run")
    assert r.code == 0, r.output
    assert holds(emu, "LLM_MODEL", "model-b")  # the truth: agents get B's value
    assert "default used" not in r.stdout, r.output  # fails
    r = cli(emu, a, "push", "--dry-run", "--json")
    assert json.loads(r.stdout)["plan"].get("emptyButInSet"), r.stdout  # fails


# 5. the model-holds exemption misses models that read the key -------------------------------


ALIAS_MODEL = """\
from pydantic import AliasChoices, Field, SecretStr

from pcc_env import SecretSettings


class Settings(SecretSettings):
    stt_api_key: SecretStr
    org_key: SecretStr = Field(validation_alias=AliasChoices("PCC_ORG_KEY", "PIPECAT_API_KEY"))
"""

UNLOADABLE_MODEL = """\
import a_module_pcc_env_cannot_import  # the bot's own dependency, not in pcc-env's environment

from pydantic import SecretStr

from pcc_env import SecretSettings


class Settings(SecretSettings):
    stt_api_key: SecretStr
    pipecat_api_key: SecretStr
"""


@pytest.mark.parametrize(
    "model", [ALIAS_MODEL, UNLOADABLE_MODEL], ids=["alias-choices", "unloadable"]
)
def test_an_org_key_the_model_reads_is_not_withheld_with_a_false_reason(
    emu: EmulatorServer, tmp_path: Path, model: str
) -> None:
    """MEDIUM (the agent then fails to start; the note's reason is false). The model reads
    PIPECAT_API_KEY (a required field) through AliasChoices' second choice (describe() gives
    only the first env name, so _OptionalKeys.holds says no), or the model cannot be imported
    by pcc-env (holds() is False for a model that failed to load, silently). push withholds
    the key, saying 'the program outside the agent that reads it has it from its own
    environment': the agent's required field is missing from the set. Expected: sent, or a
    refusal/warning naming the model problem, never the 'outside the agent' reason."""
    a = project(
        tmp_path,
        "a",
        "STT_API_KEY=sk-CANARY-rf-stt\nPIPECAT_API_KEY=pk_CANARY-rf-al\n",
        model=model,
    )
    r = cli(emu, a, "push")
    assert "pk_CANARY" not in r.output
    sent = "PIPECAT_API_KEY" in set_keys(emu) if r.code == 0 else False
    silent_reason = "outside the agent that reads it" in r.output
    assert sent or not silent_reason, r.output  # fails: withheld, with the outside-agent reason


# 6. emptyButInSet lists a key that is not empty here ----------------------------------------


def test_empty_but_in_set_lists_only_keys_left_empty(emu: EmulatorServer, tmp_path: Path) -> None:
    """LOW (JSON semantics). _plan_json puts the withheld (filled-in) PIPECAT_API_KEY into
    "emptyButInSet" ("empty here; the set holds a value agents get"): it is filled in here.
    It belongs in "withheld" only (perhaps with a "withheldButInSet")."""
    full = "STT_API_KEY=sk-CANARY-rf-stt\nPIPECAT_API_KEY=pk_CANARY-rf-e\n"
    a = project(tmp_path, "a", full)
    assert cli(emu, a, "push", "--allow-reserved").code == 0
    r = cli(emu, a, "push", "--dry-run", "--json")
    assert r.code == 0, r.output
    plan = json.loads(r.stdout)["plan"]
    assert plan["withheld"] == ["PIPECAT_API_KEY"]
    assert "PIPECAT_API_KEY" not in plan.get("emptyButInSet", []), plan  # fails


# Controls (pass): run keeps the key; withheld values never reach output ----------------------


def test_run_still_gives_a_local_server_the_org_key(emu: EmulatorServer, tmp_path: Path) -> None:
    a = project(tmp_path, "a", "STT_API_KEY=sk-CANARY-rf-stt\nPIPECAT_API_KEY=pk_CANARY-rf-run\n")
    code = "import os; print(os.environ.get('PIPECAT_API_KEY', '')[-3:] == 'run')"
    r = cli(emu, a, "run", "--", sys.executable, "-c", code)
    assert r.code == 0 and "True" in r.stdout, r.output
