"""Issue 22: teams and CI. Laptop A, laptop B and a CI runner (each its own PCC_ENV_DATA_DIR and
checkout) against ONE emulator; the emulator's generation instruments (``/_emulator``) and its
value check say what the set and the agents really hold, and every answer is checked against
them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.revision import (
    is_marker,
    marker_value,
    new_revision,
    next_revision,
    parse_marker,
    read_record,
    user_keys,
    values_digest,
)
from pcc_env.rules import KEY_MAX_LENGTH, KEY_PATTERN
from pcc_env.testing import run_emulator
from tests.cli_helpers import emulator_api as api
from tests.cli_helpers import pipecat_cli_path, run_cli, write_requests
from tests.cli_helpers import run_on_machine as cli

SET = "team-secrets"


@pytest.fixture
def emu() -> Any:
    with run_emulator(provision_delay=0.05, deploy_delay=0.05) as server:
        yield server


def machine(tmp_path: Path, name: str, **values: str) -> Path:
    """A checkout of the project on one machine, with its own .env and data dir."""
    root = tmp_path / name
    root.mkdir()
    (root / "pcc-deploy.toml").write_text(f'secret_set = "{SET}"\nregion = "us-west"\n')
    write_env(root, **values)
    return root


def write_env(root: Path, **values: str) -> None:
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def live_keys(emu: EmulatorServer) -> list[str]:
    return [s["fieldName"] for s in api(emu, "GET", f"/v1/secrets/{SET}")["secrets"]]


def ready(emu: EmulatorServer) -> None:
    deadline = time.monotonic() + 10
    while api(emu, "GET", f"/v1/secrets/{SET}")["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def run_while_b_pushes(
    emu: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    b: Path,
    cwd: Path,
    *args: str,
) -> Any:
    """``pcc-env ARGS`` in-process in ``cwd`` (its own data dir), with machine ``b``'s whole push
    landing between this command's last read and its PUT: the race no client can close."""
    from typer.testing import CliRunner

    import pcc_env.client
    from pcc_env.cli.app import app

    real_put = pcc_env.client.SecretsClient.put_secrets
    calls: list[int] = []

    def b_writes_first(self: Any, *put_args: Any, **kwargs: Any) -> Any:
        if not calls:
            calls.append(1)
            assert cli(emu, b, "push").code == 0  # B's whole push, before this PUT
        return real_put(self, *put_args, **kwargs)

    monkeypatch.setattr(pcc_env.client.SecretsClient, "put_secrets", b_writes_first)
    monkeypatch.chdir(cwd)
    env = {**emu.env(), "PCC_ENV_DATA_DIR": str(cwd / ".state"), "NO_COLOR": "1"}
    return CliRunner().invoke(app, list(args), env=env)


def deploy(emu: EmulatorServer, name: str) -> None:
    """An agent bound to the set, as `pipecat cloud deploy` makes it, once it is ready."""
    ready(emu)
    api(emu, "POST", "/v1/agents", {"serviceName": name, "image": "b:1", "secretSet": SET})
    deadline = time.monotonic() + 10
    while not runs(emu, name)["ready"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.01)  # a write after this is strictly later than the deployment


def runs(emu: EmulatorServer, agent: str) -> dict[str, Any]:
    return api(emu, "GET", f"/_emulator/agents/{agent}")  # type: ignore[no-any-return]


def runs_latest(emu: EmulatorServer, agent: str) -> bool:
    """The truth, from the emulator alone: the agent runs the set's latest write."""
    g = runs(emu, agent)["sets"][SET]
    return bool(g["deployed"] == g["current"])


def state_of(emu: EmulatorServer, cwd: Path, agent: str) -> str:
    r = cli(emu, cwd, "status", "--json")
    assert r.code == 0, r.output
    [block] = json.loads(r.stdout)["sets"]
    return next(a["state"] for a in block["agents"] if a["name"] == agent)  # type: ignore[no-any-return]


# The record itself (pure) ------------------------------------------------------------------------


def test_marker_name_is_a_valid_key_and_env_name_and_round_trips() -> None:
    rev = new_revision(["A", "B"], {"A": "1", "B": "2"}, now=1_764_884_175.123)
    assert re.fullmatch(KEY_PATTERN, rev.name) and len(rev.name) <= KEY_MAX_LENGTH
    assert re.fullmatch(r"[A-Z_][A-Z0-9_]*", rev.name)  # a valid env var name too
    assert parse_marker(rev.name) == rev and rev.written_at.microsecond == 123_000
    assert is_marker(rev.name) and user_keys(["A", rev.name]) == ["A"]
    assert rev.matches_values({"A": "1", "B": "2"})
    assert not rev.matches_values({"A": "1", "B": "3"}) and not rev.matches_values({"A": "1"})
    assert rev.covers_keys(["B", "A", rev.name]) and not rev.covers_keys(["A"])
    # Each write has its own salt: the same values give another digest.
    again = new_revision(["A", "B"], {"A": "1", "B": "2"}, now=1_764_884_175.123)
    assert again.values_digest != rev.values_digest or again.salt == rev.salt
    assert marker_value(["B", "A"]).endswith("covers: A,B")


def test_the_digest_is_one_over_every_pair_and_is_slow() -> None:
    """Guessing one value needs every other value of the write; each try costs one scrypt."""
    started = time.perf_counter()
    one = values_digest("S1", {"LOG_LEVEL": "debug", "OPENAI_API_KEY": "sk-CANARY-team-1"})
    took = time.perf_counter() - started
    assert len(one) == 16 and took > 0.005
    # Right value of LOG_LEVEL, unknown API key: the guess cannot be confirmed.
    assert values_digest("S1", {"LOG_LEVEL": "debug"}) != one
    assert values_digest("S2", {"LOG_LEVEL": "debug", "OPENAI_API_KEY": "sk-CANARY-team-1"}) != one


def test_readers_pick_the_newest_marker_and_two_markers_vouch_for_nothing() -> None:
    old = new_revision(["A"], {"A": "1"}, now=1_000_000_000)
    new = new_revision(["A"], {"A": "2"}, now=1_000_000_100)
    record = read_record(["A", new.name, old.name])
    assert record.latest == new and record.written_at == new.timestamp
    assert record.trusted is None and "2 pcc-env records" in record.why_unknown()
    assert read_record(["A", new.name]).trusted == new
    assert read_record(["A", "B", new.name]).trusted is None  # another tool added B


def test_a_no_op_write_keeps_the_record_and_force_moves_it() -> None:
    rev = new_revision(["A"], {"A": "1"}, now=1_000_000_000)
    record = read_record(["A", rev.name])
    assert next_revision(record, ["A"], {"A": "1"}, now=2e9) == rev
    assert next_revision(record, ["A"], {"A": "2"}, now=2e9).timestamp == 2e9
    assert next_revision(record, ["A"], {"A": "1"}, now=2e9, force=True).timestamp == 2e9


def test_user_keys_with_the_record_prefix_are_refused(emu: EmulatorServer, tmp_path: Path) -> None:
    a = machine(tmp_path, "a", PCCENV_REVOLT="x", OK="1")
    r = cli(emu, a, "push", "--allow-reserved")
    assert r.code == 2 and "PCCENV_REV" in r.stderr and write_requests(emu) == 0
    r = cli(emu, a, "secrets", "set", SET, "pccenv_rev_mine=1")
    assert r.code == 2 and write_requests(emu) == 0


# Item 2: "Nothing to push" only when the set's own record says so -------------------------------


def test_teammates_push_is_seen_from_another_laptop(emu: EmulatorServer, tmp_path: Path) -> None:
    """Before: laptop A printed '= OPENAI_API_KEY' and 'Nothing to push' while the set held
    B's value. After: '? OPENAI_API_KEY' (value unknown), and A's push sends."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1", DAILY_API_KEY="d-1")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-B-2", DAILY_API_KEY="d-1")
    assert cli(emu, a, "push").code == 0
    assert cli(emu, b, "push").code == 0
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-B-2")  # the truth
    r = cli(emu, a, "push", "--dry-run")
    assert r.code == 0, r.output
    assert "? OPENAI_API_KEY" in r.stdout and "= OPENAI_API_KEY" not in r.stdout
    assert "Nothing to push" not in r.output and "value unknown" in r.stdout
    r = cli(emu, a, "push")
    assert r.code == 0 and "Pushed" in r.stdout
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-A-1")


def test_nothing_to_push_from_a_fresh_machine_when_the_record_says_so(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """CI (fresh data dir) with the values laptop A pushed: nothing to send, by the record."""
    values = {"OPENAI_API_KEY": "sk-CANARY-A-1", "DAILY_API_KEY": "d-1"}
    a = machine(tmp_path, "a", **values)
    ci = machine(tmp_path, "ci", **values)
    assert cli(emu, a, "push").code == 0
    rev = read_record(live_keys(emu)).trusted
    assert rev is not None
    emu.reset_stats()
    r = cli(emu, ci, "push", "--json")
    assert r.code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["result"]["sent"] is False and doc["plan"]["unchanged"] == list(values)
    assert emu.stats()["requests"] == {"GET /v1/secrets/{setName}": 1}  # one GET, no write
    r = cli(emu, ci, "push")
    assert f"as recorded by pcc-env at {rev.written_at:%H:%M} UTC" in r.stdout, r.stdout


def test_keys_added_by_another_tool_make_the_record_unknown(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    assert cli(emu, a, "push").code == 0
    # Another tool (the REST API, as the dashboard would) adds a key and changes a value.
    api(
        emu,
        "PUT",
        f"/v1/secrets/{SET}",
        {"secrets": [{"secretKey": "EXTRA", "secretValue": "e"},
                     {"secretKey": "OPENAI_API_KEY", "secretValue": "sk-CANARY-other"}]},
    )  # fmt: skip
    r = cli(emu, a, "push", "--dry-run")
    assert "? OPENAI_API_KEY" in r.stdout and "keys were added or removed" in r.stdout
    assert "Nothing to push" not in r.output


def test_a_value_changed_by_the_pipecat_cli_without_a_new_key_is_invisible(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """Item 6, the documented limit: a write that changes no key name leaves the record as it
    was; no client can see it. --force sends regardless."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    assert cli(emu, a, "push").code == 0
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NO_COLOR": "1", **emu.env()}
    argv = ["cloud", "secrets", "set", SET, "OPENAI_API_KEY=sk-CANARY-pipecat", "--skip"]
    done = subprocess.run(
        [pipecat_cli_path(), *argv],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    r = cli(emu, a, "push")
    assert "Nothing to push" in r.stdout and "cannot be seen" in r.stdout
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-pipecat")  # the limit, shown
    assert cli(emu, a, "push", "--force").code == 0
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-A-1")


# Item 3: stale and current from the record --------------------------------------------------------


def test_a_ci_push_makes_agents_stale_on_every_machine(emu: EmulatorServer, tmp_path: Path) -> None:
    """Before: laptop A's status said 'current' after CI's push (A never wrote it, or wrote
    before). After: stale everywhere, as the emulator's generations say."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-A-1")
    ci = machine(tmp_path, "ci", OPENAI_API_KEY="sk-CANARY-CI-3")
    assert cli(emu, a, "push").code == 0
    deploy(emu, "bot")
    assert runs_latest(emu, "bot")
    assert state_of(emu, a, "bot") == "current" and state_of(emu, b, "bot") == "current"
    r = cli(emu, ci, "push")
    assert r.code == 0 and "Now stale" in r.stderr and "bot" in r.stderr
    assert not runs_latest(emu, "bot")  # the truth
    for where in (a, b, ci):
        assert state_of(emu, where, "bot") == "stale"
    r = cli(emu, b, "check")
    assert r.code == 0 and re.search(r"WARN agents running values older .*: bot", r.stdout)
    assert "All checks passed" not in r.stdout
    assert cli(emu, b, "check", "--strict").code == 1
    r = cli(emu, b, "redeploy")
    assert r.code == 0 and runs_latest(emu, "bot")
    for where in (a, b, ci):
        assert state_of(emu, where, "bot") == "current"


def test_a_set_with_no_record_gives_unknown_never_current(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    api(emu, "PUT", f"/v1/secrets/{SET}", {"secrets": [{"secretKey": "K", "secretValue": "v"}]})
    deploy(emu, "bot")
    assert state_of(emu, a, "bot") == "unknown"
    r = cli(emu, a, "status")
    assert "no pcc-env record" in r.stdout and "1 unknown" in r.stdout
    r = cli(emu, a, "check")
    assert "WARN cannot tell whether these agents run the latest values" in r.stdout
    r = cli(emu, a, "push", "--redeploy")  # unknown agents are redeployed too
    assert r.code == 0 and runs_latest(emu, "bot") and state_of(emu, a, "bot") == "current"


def test_a_push_that_sends_nothing_makes_no_agent_stale(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-A-1")
    assert cli(emu, a, "push").code == 0
    deploy(emu, "bot")
    marker = [k for k in live_keys(emu) if is_marker(k)]
    assert cli(emu, b, "push").code == 0  # nothing to push
    assert [k for k in live_keys(emu) if is_marker(k)] == marker  # the record kept its time
    assert runs_latest(emu, "bot") and state_of(emu, b, "bot") == "current"


def test_secrets_set_writes_the_record_and_says_no_agent_needs_a_redeploy(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    assert cli(emu, a, "push").code == 0
    r = cli(emu, a, "secrets", "set", SET, "EXTRA=e")
    assert r.code == 0, r.output
    assert "must be redeployed" not in r.output and "No deployed agent binds" in r.stderr
    record = read_record(live_keys(emu))
    assert len(record.markers) == 1 and record.trusted is not None  # replaced, not added
    deploy(emu, "bot")
    r = cli(emu, a, "secrets", "unset", SET, "EXTRA", "--yes")
    assert r.code == 0 and "Now stale" in r.stderr
    assert state_of(emu, a, "bot") == "stale" and not runs_latest(emu, "bot")
    r = cli(emu, a, "secrets", "list", SET)
    assert "pcc-env's revision record" in r.output


# Item 4: concurrent writers --------------------------------------------------------------------


def test_a_push_planned_before_anothers_write_sends_nothing(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plans a --prune; B pushes meanwhile; A's write (under --yes) stops with exit 1 before
    sending anything, shows what changed and says to run again. Before: A applied its plan."""
    from typer.testing import CliRunner

    import pcc_env.sync
    from pcc_env.cli.app import app

    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1", OLD="o")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-B-2", OLD="o", NEW_BY_B="n")
    assert cli(emu, a, "push").code == 0
    write_env(a, OPENAI_API_KEY="sk-CANARY-A-1")
    real_plan = pcc_env.sync.plan_push
    calls: list[int] = []

    def plan_then_b_writes(*args: Any, **kwargs: Any) -> Any:
        plan = real_plan(*args, **kwargs)
        if not calls:
            assert cli(emu, b, "push").code == 0  # B writes between A's plan and A's write
            emu.reset_stats()
        calls.append(1)
        return plan

    monkeypatch.setattr(pcc_env.sync, "plan_push", plan_then_b_writes)
    monkeypatch.chdir(a)
    env = {**emu.env(), "PCC_ENV_DATA_DIR": str(a / ".state"), "NO_COLOR": "1"}
    result = CliRunner().invoke(app, ["push", "--prune", "--yes"], env=env)
    out = result.output
    assert result.exit_code == 1, out
    assert "written by someone else since this plan" in out and "Run the push again" in out
    assert "NEW_BY_B" in out  # what changed: B's key, now in the set
    # Nothing applied (no prune from the stale plan): the one request that could write was the
    # DELETE of the planned record's marker, answered 404 because B had replaced it.
    assert emu.stats()["writes"] == [] and emu.stats()["statuses"].get("404") == 1
    assert not any(k.startswith("PUT") for k in emu.stats()["requests"])
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-B-2")
    assert {"OLD", "NEW_BY_B"} <= set(live_keys(emu))
    assert "sk-CANARY" not in out


def test_two_markers_after_a_race_are_cleaned_by_the_next_push(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    assert cli(emu, a, "push").code == 0
    stray = new_revision(["OPENAI_API_KEY"], {"OPENAI_API_KEY": "x"}, now=time.time() - 5)
    api(
        emu,
        "PUT",
        f"/v1/secrets/{SET}",
        {"secrets": [{"secretKey": stray.name, "secretValue": marker_value([])}]},
    )
    r = cli(emu, a, "push", "--dry-run")
    assert "? OPENAI_API_KEY" in r.stdout and "2 pcc-env records" in r.stdout
    assert cli(emu, a, "push").code == 0
    record = read_record(live_keys(emu))
    assert len(record.markers) == 1 and record.trusted is not None


def test_two_writes_neither_saw_are_told_and_the_next_push_mends_the_set(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """Review of issue 22: the API has no conditional write, so two pushes that both read the
    set before either wrote (here: a set with no record yet) both write. The push whose wait
    reads the set last sees both records and says so (exit 1 from the CLI: which value each key
    holds is not known); the next push, from anywhere, rewrites one whole revision."""
    from pcc_env.client import SecretsClient
    from pcc_env.sync import ConcurrentWriteError, PushState, apply_push, plan_for

    class WritesRightAfterB(SecretsClient):
        """B's client: A's whole push lands between B's last read and B's PUT."""

        def put_secrets(self, *args: Any, **kwargs: Any) -> Any:
            apply_push(a_client, plan_a, state=PushState(tmp_path / "a.json"), timeout=10)
            return super().put_secrets(*args, **kwargs)

    values_a = {"OPENAI_API_KEY": "sk-CANARY-race-A", "MODE": "a"}
    values_b = {"OPENAI_API_KEY": "sk-CANARY-race-B", "MODE": "b"}
    with (
        SecretsClient(api_key=emu.token, api_host=emu.api_host) as a_client,
        WritesRightAfterB(api_key=emu.token, api_host=emu.api_host) as b_client,
    ):
        state_b = PushState(tmp_path / "b.json")
        plan_a = plan_for(
            a_client, PushState(tmp_path / "a.json"), SET, values_a, region="us-west", prune=False
        )
        plan_b = plan_for(b_client, state_b, SET, values_b, region="us-west", prune=False)
        with pytest.raises(ConcurrentWriteError) as raised:
            apply_push(b_client, plan_b, state=state_b, timeout=10)
    message = str(raised.value)
    assert "at the same time" in message and "Run the push again" in message
    assert "sk-CANARY" not in message + repr(raised.value)
    assert len(read_record(live_keys(emu)).markers) == 2  # both writes' records
    c = machine(tmp_path, "c", OPENAI_API_KEY="sk-CANARY-race-C", MODE="c")
    dry = cli(emu, c, "push", "--dry-run")
    assert "2 pcc-env records" in dry.stdout and "Nothing to push" not in dry.stdout
    assert cli(emu, c, "push").code == 0
    record = read_record(live_keys(emu))
    assert len(record.markers) == 1 and record.trusted is not None
    assert emu.check_value(SET, "OPENAI_API_KEY", "sk-CANARY-race-C")


def test_the_cli_says_a_write_raced_and_exits_1(
    emu: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race seen from `pcc-env push`: another machine's write lands right after this
    push's last read; the push says both writes were sent, exits 1, redeploys nothing."""
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-B-2")
    result = run_while_b_pushes(emu, monkeypatch, b, a, "push", "--yes")
    assert result.exit_code == 1, result.output
    assert "at the same time" in result.output and "sk-CANARY" not in result.output
    assert "Pushed" not in result.output


# Item 5: the agent knows what it runs ----------------------------------------------------------


def test_runtime_loaded_revision_is_lazy_and_checks_the_values() -> None:
    from pcc_env.runtime import loaded_revision

    values = {"OPENAI_API_KEY": "sk-CANARY-run-1", "LOG_LEVEL": "info"}
    rev = new_revision([*values], values, now=1_764_884_175)
    env = {**values, "PATH": "/bin", rev.name: marker_value(values)}
    loaded = loaded_revision(env)
    assert loaded is not None and loaded.written_at == rev.written_at and loaded.records == 1
    assert loaded.values_match(env) is True
    assert loaded.values_match({**env, "LOG_LEVEL": "debug"}) is False
    assert "sk-CANARY" not in repr(loaded) and "sk-CANARY" not in json.dumps(loaded.to_json())
    assert loaded_revision({"PATH": "/bin"}) is None
    old = new_revision([*values], values, now=1_764_884_000)
    two = loaded_revision({**env, old.name: marker_value(values)})
    assert two is not None and two.marker == rev.name and two.values_match(env) is None


def test_runtime_import_pays_nothing_for_the_record() -> None:
    code = "import sys, pcc_env.runtime\nprint('pcc_env.revision' in sys.modules)\n"
    r = subprocess.run(
        [os.sys.executable, "-c", code], capture_output=True, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert r.stdout.strip() == "False", r.stderr


# Templates, check and the canary ----------------------------------------------------------------


def test_export_and_check_leave_the_record_out(emu: EmulatorServer, tmp_path: Path) -> None:
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-1")
    assert cli(emu, a, "push").code == 0
    r = cli(emu, a, "export")
    assert r.code == 0 and "OPENAI_API_KEY=" in r.stdout and "PCCENV_REV" not in r.stdout
    r = cli(emu, a, "push", "--prune", "--yes")  # the record is never an extra key to prune
    assert r.code == 0 and "- PCCENV" not in r.stdout
    assert read_record(live_keys(emu)).trusted is not None
    r = cli(emu, a, "status", "--json")
    assert json.loads(r.stdout)["sets"][0]["keyCount"] == 1


def test_no_value_or_digest_input_is_ever_printed(emu: EmulatorServer, tmp_path: Path) -> None:
    a = machine(tmp_path, "a", OPENAI_API_KEY="sk-CANARY-A-9", DAILY_API_KEY="d-CANARY-9")
    b = machine(tmp_path, "b", OPENAI_API_KEY="sk-CANARY-B-9", DAILY_API_KEY="d-CANARY-9")
    outputs = []
    for where, args in [
        (a, ("push",)),
        (b, ("push", "--dry-run")),
        (b, ("push", "--json")),
        (a, ("push",)),
        (a, ("status",)),
        (a, ("status", "--json")),
        (b, ("check", "--json")),
        (b, ("secrets", "list", SET)),
    ]:
        outputs.append(cli(emu, where, *args).output)
    for where in (a, b):
        outputs.append((where / ".state" / "push-state.json").read_text())
    text = "\n".join(outputs)
    assert "CANARY" not in text


def test_the_writer_plans_from_its_cache_without_the_slow_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The machine that wrote the set's record has a digest of every pair it covers: its plan
    answers '=' and '~' from them, and only another machine pays for scrypt."""
    from pcc_env import revision as rev
    from pcc_env.models import SecretSetDetail
    from pcc_env.sync import PushState, plan_push

    values = {"A_KEY": "sk-CANARY-cache-1", "B": "two"}
    made = rev.new_revision(values, values, now=time.time())
    keys = [*values, made.name]
    remote = SecretSetDetail.model_validate(
        {"region": "us-west", "status": "ready", "secrets": [{"fieldName": k} for k in keys]}
    )
    salt = "s" * 32
    cache = (salt, {k: PushState.digest(salt, k, v) for k, v in values.items()})
    calls: list[int] = []
    slow = rev.values_digest
    monkeypatch.setattr(rev, "values_digest", lambda *a: calls.append(1) or slow(*a))
    same = plan_push("s", values, remote, cache, cached_marker=made.name)
    assert [c.action for c in same.changes] == ["=", "="] and same.record_matches is True
    changed = plan_push("s", {**values, "B": "three"}, remote, cache, cached_marker=made.name)
    assert [c.action for c in changed.changes] == ["=", "~"]
    assert calls == []  # no scrypt on the writer's machine
    other = plan_push("s", values, remote, (salt, {}), cached_marker=None)
    assert [c.action for c in other.changes] == ["=", "="] and calls == [1]


def test_a_user_key_that_only_starts_like_a_marker_is_never_deleted(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """Another tool's PCCENV_REVIEW_URL (or a name with characters no marker has) is a user's
    key: a push without --prune keeps it, and the record still works."""
    from pcc_env.revision import is_marker

    assert not is_marker("PCCENV_REVIEW_URL") and not is_marker("PCCENV_REV\\x1b[31m")
    assert not is_marker("pccenv_rev1_abc") and is_marker("PCCENV_REV2_FUTURE_FORMAT")
    env = {"PCC_ENV_DATA_DIR": str(tmp_path / "a"), **emu.env()}
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-review-1\nMODE=prod\n")
    assert run_cli("push", "--set", "rv-set", "--yes", env=env, cwd=tmp_path).code == 0
    r = httpx.put(
        f"{emu.api_host}/v1/secrets/rv-set",
        headers={"Authorization": f"Bearer {emu.token}"},
        json={"secrets": [{"secretKey": "PCCENV_REVIEW_URL", "secretValue": "https://x"}]},
    )
    assert r.status_code == 202
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-review-1\nMODE=staging\n")
    r2 = run_cli("push", "--set", "rv-set", "--yes", env=env, cwd=tmp_path)
    assert r2.code == 0, r2.output
    keys = [
        s["fieldName"]
        for s in httpx.get(
            f"{emu.api_host}/v1/secrets/rv-set",
            headers={"Authorization": f"Bearer {emu.token}"},
        ).json()["secrets"]
    ]
    assert "PCCENV_REVIEW_URL" in keys
    assert sum(is_marker(k) for k in keys) == 1
