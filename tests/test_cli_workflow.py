"""push / export / check end to end: the real entry point against the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.revision import user_keys
from pcc_env.testing import run_emulator
from tests.cli_helpers import ROOT, run_cli
from tests.cli_helpers import run_against as cli
from tests.cli_helpers import write_requests as writes

BOT = str(ROOT / "examples" / "bot.py") + ":BotSettings"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pcc-deploy.toml").write_text(
        'agent_name = "bot"\nsecret_set = "proj-secrets"\nregion = "us-west"\n'
    )
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-1\nDAILY_API_KEY=d-1\nCARTESIA_API_KEY=c-1\n")
    return tmp_path


def test_push_plan_marks_and_one_put(emulator: EmulatorServer, project: Path) -> None:
    r = cli(emulator, project, "push")
    assert r.code == 0, r.stderr
    assert "+ OPENAI_API_KEY" in r.stdout and "ready" in r.stdout and "redeployed" in r.stderr
    stats = emulator.stats()
    assert stats["requests"]["PUT /v1/secrets/{setName}"] == 1
    assert stats["requests"]["GET /v1/secrets/{setName}"] >= 2  # plan, then status polls
    assert emulator.check_value("proj-secrets", "DAILY_API_KEY", "d-1")

    r = cli(emulator, project, "push")
    assert "= OPENAI_API_KEY" in r.stdout and "+" not in r.stdout.split("\n", 1)[1]
    (project / ".env").write_text(
        "OPENAI_API_KEY=sk-2\nDAILY_API_KEY=d-1\nCARTESIA_API_KEY=c-1\nNEW=n\n"
    )
    r = cli(emulator, project, "push")
    assert "~ OPENAI_API_KEY" in r.stdout and "= DAILY_API_KEY" in r.stdout and "+ NEW" in r.stdout
    assert emulator.check_value("proj-secrets", "OPENAI_API_KEY", "sk-2")


def test_push_dry_run_and_json(emulator: EmulatorServer, project: Path) -> None:
    r = cli(emulator, project, "push", "--dry-run")
    assert r.code == 0 and "Dry run" in r.stderr
    assert writes(emulator) == 0
    r = cli(emulator, project, "push", "--json")
    data = json.loads(r.stdout)
    assert data["plan"]["new"] == ["OPENAI_API_KEY", "DAILY_API_KEY", "CARTESIA_API_KEY"]
    assert data["result"]["ok"] is True and data["result"]["status"] == "ready"
    r = cli(emulator, project, "push", "--json", "--dry-run")
    assert json.loads(r.stdout)["dryRun"] is True


def test_push_no_wait(emulator: EmulatorServer, project: Path) -> None:
    r = cli(emulator, project, "push", "--no-wait")
    assert r.code == 0 and "not waiting" in r.stdout
    # The plan, and the re-read that checks nobody wrote since (issue 22: the record's one
    # request when the set has no record to replace).
    assert emulator.stats()["requests"]["GET /v1/secrets/{setName}"] == 2


def test_prune(emulator: EmulatorServer, project: Path) -> None:
    cli(emulator, project, "push")
    (project / ".env").write_text("OPENAI_API_KEY=sk-1\nDAILY_API_KEY=d-1\n")
    r = cli(emulator, project, "push")
    assert "kept on the remote" in r.stdout and "CARTESIA_API_KEY" in r.stdout
    emulator.reset_stats()
    r = cli(emulator, project, "push", "--prune")
    assert r.code == 2 and "--yes" in r.stderr and writes(emulator) == 0
    r = cli(emulator, project, "push", "--prune", "--yes")
    assert r.code == 0 and "- CARTESIA_API_KEY" in r.stdout
    # The pruned key, and the previous record's marker (issue 22: replaced by this write's).
    assert emulator.stats()["requests"]["DELETE /v1/secrets/{setName}/{secretKey}"] == 2
    keys = [user_keys(w["keys"]) for w in emulator.stats()["writes"]]
    assert [k for k in keys if k] == [["OPENAI_API_KEY", "DAILY_API_KEY"], ["CARTESIA_API_KEY"]]


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        ("BAD.KEY=v\n", [], "'BAD.KEY'"),
        ("A=1\nEMPTY=\n", [], "'EMPTY'"),
        ("A=1\nnot a pair\n", [], "line 2"),
        ("A=${HOME}/x\n", [], "--no-interpolate"),
        ("", ["--prune", "--yes"], "no keys"),
        ("A=\n", ["--prune", "--yes", "--skip-empty"], "empty file"),
        ("", [], "no keys"),
        ("A=\x00\n", [], "NUL"),
    ],
)
def test_push_guards_exit_2_and_send_nothing(
    emulator: EmulatorServer, project: Path, content: str, args: list[str], needle: str
) -> None:
    (project / ".env").write_text(content)
    r = cli(emulator, project, "push", *args)
    assert r.code == 2, (r.stdout, r.stderr)
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert writes(emulator) == 0


def test_push_skip_empty_and_no_interpolate(emulator: EmulatorServer, project: Path) -> None:
    (project / ".env").write_text("A=1\nEMPTY=\nURL=${HOST}/x\n")
    r = cli(emulator, project, "push", "--skip-empty", "--no-interpolate")
    assert r.code == 0, r.stderr
    assert "EMPTY" in r.stderr and emulator.check_value("proj-secrets", "URL", "${HOST}/x")
    keys = emulator.stats()["writes"][0]["keys"]
    assert keys[:2] == ["A", "URL"] and keys[2].startswith("PCCENV_REV1_")  # + the record


def test_prune_of_every_remote_key_is_refused(emulator: EmulatorServer, project: Path) -> None:
    cli(emulator, project, "push")
    (project / ".env").write_text("SOMETHING_ELSE=1\n")
    emulator.reset_stats()
    r = cli(emulator, project, "push", "--prune", "--yes")
    assert r.code == 2 and "every key" in r.stderr and writes(emulator) == 0


def test_region_mismatch_is_refused_before_any_write(
    emulator: EmulatorServer, project: Path
) -> None:
    cli(emulator, project, "push")
    emulator.reset_stats()
    r = cli(emulator, project, "push", "--region", "eu-central")
    assert r.code == 2 and "cannot change" in r.stderr and writes(emulator) == 0


def test_set_name_sources(emulator: EmulatorServer, project: Path, tmp_path: Path) -> None:
    assert cli(emulator, project, "push", "--set", "flag-set", "--no-wait").code == 0
    assert emulator.check_value("flag-set", "OPENAI_API_KEY", "sk-1")
    other = tmp_path / "deploy" / "prod.toml"
    other.parent.mkdir()
    other.write_text('secret_set = "file-set"\nregion = "eu-central"\n')
    assert cli(emulator, project, "push", "--deploy-file", str(other), "--no-wait").code == 0
    assert emulator.emulator.store.get_set("file-set").region == "eu-central"
    (project / "pcc-deploy.toml").unlink()
    r = cli(emulator, project, "push")
    assert r.code == 2 and "--set" in r.stderr and "pcc-deploy.toml" in r.stderr


def test_pyproject_env_file(emulator: EmulatorServer, project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.pcc-env]\nenv_file = "config/prod.env"\n')
    (project / "config").mkdir()
    (project / "config" / "prod.env").write_text("FROM_PYPROJECT=1\n")
    assert cli(emulator, project, "push", "--no-wait").code == 0
    assert emulator.check_value("proj-secrets", "FROM_PYPROJECT", "1")


def test_push_to_image_pull_secret_is_refused(emulator: EmulatorServer, project: Path) -> None:
    cli(emulator, project, "secrets", "image-pull-secret", "proj-secrets", "ghcr.io", stdin="u:t\n")
    r = cli(emulator, project, "push")
    assert r.code == 2 and "image pull secret" in r.stderr


def test_push_failed_provisioning_exits_1(project: Path) -> None:
    with run_emulator(provision_delay=0.05, fail_sets=["proj-*"]) as emu:
        r = cli(emu, project, "push")
    assert r.code == 1 and "Provisioning failed" in r.stderr


def test_export_stdout_and_idempotent_file(emulator: EmulatorServer, project: Path) -> None:
    (project / ".env").write_text("OPENAI_API_KEY=sk-1\nEXTRA_ONLY_IN_SET=x\n")
    cli(emulator, project, "push")
    r = cli(emulator, project, "export", "--settings", BOT)
    assert r.code == 0, r.stderr
    out = r.stdout
    assert "# OpenAI key for the LLM service (required, secret)\nOPENAI_API_KEY=\n" in out
    assert (
        "# --- In secret set 'proj-secrets' but not in the settings model ---\nEXTRA_ONLY_IN_SET="
        in out
    )
    assert "# --- In the settings model but not in secret set 'proj-secrets' ---" in out
    assert "sk-1" not in out and re.search(r"^[A-Z_]+=\S", out, re.M) is None

    target = project / ".env.example"
    assert cli(emulator, project, "export", "--settings", BOT, "--output", str(target)).code == 0
    first = target.read_text()
    assert first == out
    target.write_text(first.replace("OPENAI_API_KEY=\n", "# team note: ask Ana\nOPENAI_API_KEY=\n"))
    edited = target.read_text()
    r = cli(emulator, project, "export", "--settings", BOT, "--output", str(target))
    assert r.code == 0 and "up to date" in r.stderr and target.read_text() == edited
    # the set gains a key: it is added, hand edits kept; twice changes nothing
    cli(emulator, project, "secrets", "set", "proj-secrets", "LATE_KEY=1")
    cli(emulator, project, "export", "--settings", BOT, "--output", str(target))
    updated = target.read_text()
    assert "# team note: ask Ana" in updated and "LATE_KEY=" in updated
    cli(emulator, project, "export", "--settings", BOT, "--output", str(target))
    assert target.read_text() == updated
    # --force regenerates
    cli(emulator, project, "export", "--settings", BOT, "--output", str(target), "--force")
    assert "team note" not in target.read_text()


def test_export_refuses_a_file_with_values(emulator: EmulatorServer, project: Path) -> None:
    cli(emulator, project, "push")
    before = (project / ".env").read_text()
    r = cli(emulator, project, "export", "--output", ".env")
    assert r.code == 2 and "holds values" in r.stderr
    assert (project / ".env").read_text() == before


def test_export_model_only_needs_no_set(emulator: EmulatorServer, project: Path) -> None:
    (project / "pcc-deploy.toml").unlink()
    r = cli(emulator, project, "export", "--settings", BOT)
    assert r.code == 0 and "CARTESIA_VOICE_ID=" in r.stdout
    assert emulator.stats()["total"] == 0


def test_export_errors(emulator: EmulatorServer, project: Path) -> None:
    assert cli(emulator, project, "export").code == 1  # set does not exist yet
    assert cli(emulator, project, "export", "--settings", "nope.py:X").code == 2
    assert cli(emulator, project, "export", "--settings", "bad-ref").code == 2
    cli(emulator, project, "secrets", "image-pull-secret", "pull-set", "ghcr.io", stdin="u:t\n")
    r = cli(emulator, project, "export", "--set", "pull-set")
    assert r.code == 2 and "image pull secret" in r.stderr


def test_check_passes_and_fails(emulator: EmulatorServer, project: Path) -> None:
    cli(emulator, project, "push")
    r = cli(emulator, project, "check", "--settings", BOT, "--env-file", ".env")
    assert r.code == 0, r.stdout + r.stderr
    assert "All checks passed" in r.stdout
    (project / ".env").write_text("OPENAI_API_KEY=sk-1\nDAILY_API_KEY=d-1\n")
    cli(emulator, project, "push", "--prune", "--yes")
    r = cli(emulator, project, "check", "--settings", BOT, "--env-file", ".env", "--json")
    assert r.code == 1
    data = json.loads(r.stdout)
    failed = {f["check"]: f["message"] for f in data["findings"] if not f["ok"]}
    assert "CARTESIA_API_KEY" in failed["required-keys"]
    assert "CARTESIA_API_KEY" in failed["env-file"]


def test_check_region_and_image_credentials(emulator: EmulatorServer, project: Path) -> None:
    cli(emulator, project, "push")
    (project / "pcc-deploy.toml").write_text(
        'secret_set = "proj-secrets"\nregion = "us-east"\nimage_credentials = "pull-creds"\n'
    )
    r = cli(emulator, project, "check")
    assert r.code == 1
    assert "FAIL set region 'us-west' differs from the deploy region 'us-east'" in r.stdout
    assert "FAIL image pull secret 'pull-creds' does not exist" in r.stdout
    cli(
        emulator,
        project,
        "secrets",
        "image-pull-secret",
        "pull-creds",
        "ghcr.io",
        "--region",
        "us-west",
        stdin="u:t\n",
    )
    r = cli(emulator, project, "check")
    assert (
        "image pull secret 'pull-creds' is in 'us-west', not the deploy region 'us-east'"
        in r.stdout
    )


@pytest.mark.serial  # "pending" is 3 s of wall clock between two commands
def test_check_missing_set_and_wait(project: Path) -> None:
    with run_emulator(provision_delay=3.0) as emu:
        # long enough that the check after --no-wait surely sees "pending", even on a busy machine
        r = cli(emu, project, "check")
        assert r.code == 1 and "does not exist" in r.stdout
        cli(emu, project, "push", "--no-wait")
        r = cli(emu, project, "check")
        assert r.code == 1 and "is pending" in r.stdout
        r = cli(emu, project, "check", "--wait")
        assert r.code == 0, r.stdout


def test_canary_over_push_export_check_outputs_and_files(
    emulator: EmulatorServer, project: Path
) -> None:
    canaries = {
        k: f"canary-{k.lower()}-5d1f"
        for k in ("OPENAI_API_KEY", "DAILY_API_KEY", "CARTESIA_API_KEY")
    }
    (project / ".env").write_text("".join(f"{k}={v}\n" for k, v in canaries.items()))
    results = [
        cli(emulator, project, "push", "--dry-run"),
        cli(emulator, project, "push"),
        cli(emulator, project, "push", "--json"),
        cli(emulator, project, "export", "--settings", BOT, "--output", ".env.example"),
        cli(emulator, project, "check", "--settings", BOT, "--env-file", ".env"),
        cli(emulator, project, "check", "--settings", BOT, "--env-file", ".env", "--json"),
        cli(emulator, project, "push", "--region", "eu-central"),
    ]
    (project / ".env").write_text(f"BAD.KEY={canaries['OPENAI_API_KEY']}\n")
    results.append(cli(emulator, project, "push"))
    for r in results:
        for c in canaries.values():
            assert c not in r.stdout and c not in r.stderr and all(c not in a for a in r.argv)
    for path in project.rglob("*"):
        if path.is_file() and path.name != ".env":
            for c in canaries.values():
                assert c not in path.read_text(errors="replace"), path
    assert all(emulator.check_value("proj-secrets", k, v) for k, v in canaries.items())


def test_demo(tmp_path: Path) -> None:
    r = run_cli("demo", cwd=tmp_path, env={"HOME": str(tmp_path / "home")})
    assert r.code == 0, r.stdout + r.stderr
    match = re.search(r"working in (\S+)", r.stdout)
    assert match
    workdir = Path(match.group(1))
    try:
        for step in ("[3]", "[5]", "[6]", "[7]", "All checks passed", "Done."):
            assert step in r.stdout
        assert list(tmp_path.iterdir()) == []  # nothing in the cwd, nothing in HOME
        assert "sk-demo" not in r.stdout and "sk-demo" not in r.stderr
    finally:
        import shutil

        shutil.rmtree(workdir)
