"""Targets end to end (issue 13): pyproject targets, fan-out to regions, merged env files,
PIPECAT_DEPLOY_CONFIG_PATH, --all-targets with all-or-nothing guards, reserved keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import run_against as cli
from tests.cli_helpers import write_requests as writes

PYPROJECT = """
[tool.pcc-env.targets.staging]
set = "bot-staging"
region = "us-west"
env_files = [".env", ".env.staging"]

[tool.pcc-env.targets.prod]
regions = ["us-west", "us-east", "eu-central"]
env_files = [".env", ".env.prod"]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "bot"\n')
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-common\nDAILY_API_KEY=d-common\n")
    (tmp_path / ".env.staging").write_text("OPENAI_API_KEY=sk-staging\n")
    (tmp_path / ".env.prod").write_text("OPENAI_API_KEY=sk-prod\nPROD_ONLY=p\n")
    return tmp_path


def region_of(emu: EmulatorServer, name: str) -> str:
    return str(emu.emulator.store.get_set(name).region)


def test_targets_command_shows_what_each_target_resolves_to(
    emulator: EmulatorServer, project: Path
) -> None:
    r = cli(emulator, project, "targets", "--json")
    assert r.code == 0, r.stderr
    by_name = {t["target"]: t for t in json.loads(r.stdout)["targets"]}
    assert by_name["staging"]["sets"] == [{"set": "bot-staging", "region": "us-west"}]
    assert [s["set"] for s in by_name["prod"]["sets"]] == [
        "bot-us-west",
        "bot-us-east",
        "bot-eu-central",
    ]
    assert by_name["prod"]["envFiles"] == [".env", ".env.prod"]
    assert emulator.stats()["total"] == 0
    r = cli(emulator, project, "targets")
    assert "bot-eu-central" in r.stdout and "staging" in r.stdout


def test_push_target_merges_env_files_later_wins(emulator: EmulatorServer, project: Path) -> None:
    r = cli(emulator, project, "push", "-t", "staging")
    assert r.code == 0, r.stderr
    assert emulator.check_value("bot-staging", "OPENAI_API_KEY", "sk-staging")
    assert emulator.check_value("bot-staging", "DAILY_API_KEY", "d-common")
    assert "sk-" not in r.output


def test_push_target_fans_out_to_every_region(emulator: EmulatorServer, project: Path) -> None:
    r = cli(emulator, project, "push", "--target", "prod")
    assert r.code == 0, r.stderr
    for region in ("us-west", "us-east", "eu-central"):
        name = f"bot-{region}"
        assert region_of(emulator, name) == region
        assert emulator.check_value(name, "OPENAI_API_KEY", "sk-prod")
        assert emulator.check_value(name, "PROD_ONLY", "p")
        assert name in r.stdout
    assert "sk-prod" not in r.output
    # --region picks one set of the target
    r = cli(emulator, project, "push", "-t", "prod", "--region", "us-east", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["plan"]["set"] == "bot-us-east"


def test_target_from_the_environment(emulator: EmulatorServer, project: Path) -> None:
    r = cli(emulator, project, "push", PCC_ENV_TARGET="staging")
    assert r.code == 0, r.stderr
    assert emulator.check_value("bot-staging", "OPENAI_API_KEY", "sk-staging")
    r = cli(emulator, project, "push", PCC_ENV_TARGET="nope")
    assert r.code == 2 and "no target 'nope'" in r.stderr and "prod, staging" in r.stderr


def test_pipecat_deploy_config_path_is_honoured(emulator: EmulatorServer, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("K=v\n")
    (tmp_path / "pcc-deploy.toml").write_text('secret_set = "default-set"\n')
    other = tmp_path / "pcc-deploy.staging.toml"
    other.write_text('secret_set = "staging-set"\nregion = "us-east"\n')
    r = cli(emulator, tmp_path, "push", PIPECAT_DEPLOY_CONFIG_PATH=str(other))
    assert r.code == 0, r.stderr
    assert region_of(emulator, "staging-set") == "us-east"
    assert "default-set" not in [s.name for s in emulator.emulator.store.list_sets()]


def test_all_targets_pushes_every_set_with_one_summary(
    emulator: EmulatorServer, project: Path
) -> None:
    r = cli(emulator, project, "push", "--all-targets", "--json")
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] is True
    assert sorted(s["plan"]["set"] for s in out["sets"]) == sorted(
        ["bot-staging", "bot-us-west", "bot-us-east", "bot-eu-central"]
    )
    assert emulator.check_value("bot-eu-central", "OPENAI_API_KEY", "sk-prod")
    assert emulator.check_value("bot-staging", "OPENAI_API_KEY", "sk-staging")
    r = cli(emulator, project, "push", "--all-targets", "--force")  # unchanged: sent anyway
    assert r.code == 0
    header = next(line for line in r.stdout.splitlines() if line.startswith("target"))
    # "?": keys whose remote value is not known (issue 22).
    assert header.split("\t") == ["target", "set", "region", "+", "~", "?", "=", "-", "outcome"]
    assert sum("\tready in " in line for line in r.stdout.splitlines()) == 4


def test_all_targets_exits_1_naming_the_set_that_failed(project: Path) -> None:
    with run_emulator(provision_delay=0, fail_sets=["bot-us-east"]) as emu:
        r = cli(emu, project, "push", "--all-targets")
        assert r.code == 1
        assert "'bot-us-east'" in r.stderr
        failed = [line for line in r.stdout.splitlines() if "failed" in line]
        assert len(failed) == 1 and failed[0].startswith("prod\tbot-us-east")
        assert emu.check_value("bot-eu-central", "OPENAI_API_KEY", "sk-prod")  # others landed


def test_a_refusal_in_one_target_sends_nothing_for_any(
    emulator: EmulatorServer, project: Path
) -> None:
    (project / ".env.staging").write_text("OPENAI_API_KEY=\n")  # empty value: refused
    r = cli(emulator, project, "push", "--all-targets")
    assert r.code == 2 and "target 'staging'" in r.stderr and "OPENAI_API_KEY" in r.stderr
    assert writes(emulator) == 0
    # a remote refusal (a set in another region) found while planning also stops every write
    (project / ".env.staging").write_text("OPENAI_API_KEY=sk-staging\n")
    assert (
        cli(emulator, project, "secrets", "set", "bot-us-east", "X=1", "-r", "eu-central").code == 0
    )
    emulator.reset_stats()
    r = cli(emulator, project, "push", "--all-targets")
    assert r.code == 2 and "bot-us-east" in r.stderr and "cannot change" in r.stderr
    assert writes(emulator) == 0


@pytest.mark.parametrize("key", ["PORT", "PIPECAT_LOG_LEVEL", "ESP32_WIFI", "ice_config_url"])
def test_reserved_keys_are_refused_unless_allowed(
    emulator: EmulatorServer, tmp_path: Path, key: str
) -> None:
    (tmp_path / ".env").write_text(f"OK=1\n{key}=x\n")
    r = cli(emulator, tmp_path, "push", "--set", "res-set")
    assert r.code == 2 and key in r.stderr and "--allow-reserved" in r.stderr
    assert writes(emulator) == 0
    r = cli(emulator, tmp_path, "push", "--set", "res-set", "--allow-reserved")
    assert r.code == 0, r.stderr
    assert emulator.check_value("res-set", key, "x")


def test_check_all_targets_reports_keys_missing_in_one_region(
    emulator: EmulatorServer, project: Path
) -> None:
    assert cli(emulator, project, "push", "--all-targets").code == 0
    assert cli(emulator, project, "secrets", "unset", "bot-us-east", "PROD_ONLY", "--yes").code == 0
    r = cli(emulator, project, "check", "--all-targets")
    assert r.code == 1
    line = next(line for line in r.stdout.splitlines() if "differ" in line)
    assert line.startswith("FAIL") and "'bot-us-east' lacks PROD_ONLY" in line
    r = cli(emulator, project, "check", "-t", "staging")
    assert r.code == 0, r.stdout


def test_export_target_lists_the_keys_of_all_its_sets(
    emulator: EmulatorServer, project: Path
) -> None:
    assert cli(emulator, project, "push", "-t", "prod").code == 0
    r = cli(emulator, project, "export", "-t", "prod")
    assert r.code == 0, r.stderr
    keys = [line for line in r.stdout.splitlines() if line.endswith("=")]
    assert sorted(keys) == ["DAILY_API_KEY=", "OPENAI_API_KEY=", "PROD_ONLY="]


def test_watch_refuses_reserved_keys(emulator: EmulatorServer, tmp_path: Path) -> None:
    from tests.test_cli_watch import Watch

    (tmp_path / ".env").write_text("A=1\n")
    w = Watch(emulator, tmp_path, "--debounce", "50")  # the old name of --debounce-ms works
    w.ready()
    (tmp_path / ".env").write_text("A=1\nPORT=9\n")
    line = w.expect("not synced: .*PORT")
    assert "--allow-reserved" in line
    w.stop()
    assert "PORT" not in emulator.emulator.store.get_set("watch-set").keys


def test_targets_leak_no_value(project: Path) -> None:
    from tests.test_no_leaks import Canaries

    canaries = Canaries()
    (project / ".env").write_text(
        f"OPENAI_API_KEY={canaries.new()}\nDAILY_API_KEY={canaries.new()}\n"
    )
    (project / ".env.staging").write_text(f"OPENAI_API_KEY={canaries.new()}\n")
    (project / ".env.prod").write_text(f"OPENAI_API_KEY={canaries.new()}\nPORT={canaries.new()}\n")
    with run_emulator(provision_delay=0, fail_sets=["bot-eu-*"]) as emu:
        env = {"PCC_ENV_LOG_LEVEL": "DEBUG"}
        results = [
            cli(emu, project, "push", "--all-targets", "--dry-run", **env),  # refused: PORT
            cli(emu, project, "push", "--all-targets", "--allow-reserved", "--json", **env),
            cli(emu, project, "push", "-t", "prod", "--allow-reserved", **env),
            cli(emu, project, "check", "--all-targets", "--json", **env),
            cli(emu, project, "targets", "--json", **env),
        ]
    assert [r.code for r in results] == [2, 1, 1, 1, 0]
    for r in results:
        canaries.assert_absent(r.stdout, "stdout")
        canaries.assert_absent(r.stderr, "stderr")
    for path in project.rglob("*"):
        if path.is_file() and not path.name.startswith(".env"):
            canaries.assert_absent(path.read_text(errors="replace"), str(path))


@pytest.mark.serial  # "at once" is 2 s of wall clock from Ctrl-C to exit
def test_ctrl_c_during_all_targets_names_the_accepted_writes_at_once(project: Path) -> None:
    """Writes to several sets run side by side; Ctrl-C while they wait for ``ready`` ends the
    command at once (it used to wait out every set's wait, a minute) and names every set whose
    write was accepted, with the command that follows it."""
    from tests.cli_helpers import interrupt_when, start_cli

    with run_emulator(provision_delay=60) as emu:
        env = {**emu.env(), "PCC_ENV_DATA_DIR": str(project / "state")}
        proc = start_cli("push", "--all-targets", env=env, cwd=project)

        # Staging and the three prod regions written; a moment for the answers to arrive.
        _, err, took = interrupt_when(proc, lambda: writes(emu) >= 4, settle=0.3)
    assert proc.returncode == 130, err
    assert took < 2, f"exit took {took:.1f}s after Ctrl-C"
    sets = ["bot-eu-central", "bot-staging", "bot-us-east", "bot-us-west"]
    assert f"the writes to {', '.join(sets)} were accepted" in err, err
    assert "; ".join(f"pcc-env secrets wait {s}" for s in sets) in err, err
    assert "Traceback" not in err
