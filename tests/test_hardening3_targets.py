"""Issue 20, items 1 and 10: two targets that write one secret set are refused before any
request (the commands that write) or flagged (those that read); a region from a target, a deploy
file or --region is validated like a name before it is sent or printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcc_env import rules, targets
from pcc_env.client import SecretsClient
from pcc_env.deploy_config import ProjectSettings, TargetConfig
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import InputError
from pcc_env.sync import PushState
from tests.cli_helpers import run_against as cli

CANARY = "sk-CANARY-h20targets-7f3a9c"
KEPT = "sk-CANARY-h20kept-0b1d"
SHARED = "bot-us-west"

# 'a' writes bot-{region} in us-west, 'b' writes bot-us-west: one set after the template.
TEMPLATED = """
[tool.pcc-env.targets.a]
set = "bot-{region}"
region = "us-west"
env_files = [".env.a"]

[tool.pcc-env.targets.b]
set = "bot-us-west"
env_files = [".env.b"]

[tool.pcc-env.targets.c]
set = "bot-c"
env_files = [".env.a"]
"""

# Two targets without 'set': both take secret_set from the deploy file.
FROM_DEPLOY_FILE = """
[tool.pcc-env.targets.dev]
env_files = [".env.a"]

[tool.pcc-env.targets.prod]
env_files = [".env.b"]
"""

# No clash: every target writes its own set.
DISTINCT = """
[tool.pcc-env.targets.a]
set = "bot-a"
env_files = [".env.a"]

[tool.pcc-env.targets.b]
set = "bot-b"
env_files = [".env.b"]
"""


def _project(tmp_path: Path, pyproject: str, secret_set: str = SHARED) -> Path:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "pcc-deploy.toml").write_text(f'agent_name = "bot"\nsecret_set = "{secret_set}"\n')
    (tmp_path / ".env.a").write_text(f"A_KEY={CANARY}\n")
    (tmp_path / ".env.b").write_text(f"B_KEY={CANARY}\n")
    (tmp_path / ".env").write_text(f"A_KEY={CANARY}\n")
    return tmp_path


def _seed(emu: EmulatorServer, name: str = SHARED) -> None:
    """The set as it is before the run: keys that a prune from the other target would delete."""
    with SecretsClient(api_key=emu.token, api_host=emu.api_host) as client:
        client.put_secrets(name, {"A_KEY": KEPT, "B_KEY": KEPT, "OTHER": KEPT})
        client.wait_ready(name, timeout=10)
    emu.reset_stats()


def _untouched(emu: EmulatorServer, name: str = SHARED) -> None:
    assert emu.stats()["total"] == 0, emu.stats()  # not one request, not even a read
    for key in ("A_KEY", "B_KEY", "OTHER"):
        assert emu.check_value(name, key, KEPT), key


def _no_leak(r: object) -> None:
    text = r.output  # type: ignore[attr-defined]
    assert CANARY not in text and KEPT not in text


# Item 1: two targets, one set --------------------------------------------------------------------


def test_all_targets_with_set_is_a_usage_error_sending_nothing(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    project = _project(tmp_path, DISTINCT)
    _seed(emulator, "one-set")
    for args in (
        ("push", "--all-targets", "--set", "one-set", "--prune", "--yes"),
        ("push", "--all-targets", "--set", "one-set", "--prune", "--yes", "--json"),
        ("check", "--all-targets", "--set", "one-set"),
    ):
        r = cli(emulator, project, *args)
        assert r.code == 2, (args, r.output)
        assert "--set" in r.output and "--all-targets" in r.output
        _untouched(emulator, "one-set")
        _no_leak(r)
        if "--json" in args:
            assert json.loads(r.stdout)["error"]["type"] == "InputError"


@pytest.mark.parametrize(
    "args",
    [
        ("push", "--all-targets", "--prune", "--yes"),
        ("push", "--all-targets", "--redeploy", "--json"),
        ("push", "--all-targets", "--dry-run"),
        ("push", "--target", "a", "--prune", "--yes"),
        ("push", "--target", "b"),
        ("push", "--target", "c", "--set", SHARED),  # --set onto another target's set
        ("watch", "--target", "a", "--prune", "--yes"),
        ("redeploy", "--target", "b"),
    ],
)
def test_writing_commands_refuse_two_targets_on_one_set_before_any_request(
    emulator: EmulatorServer, tmp_path: Path, args: tuple[str, ...]
) -> None:
    project = _project(tmp_path, TEMPLATED)
    _seed(emulator)
    r = cli(emulator, project, *args)
    assert r.code == 2, r.output
    clash = "targets 'a', 'b' and 'c' all" if "c" in args else "targets 'a' and 'b' both"
    assert f"{clash} write secret set 'bot-us-west'" in r.output
    assert "Nothing was sent" in r.output
    _untouched(emulator)
    _no_leak(r)
    if "--json" in args:
        error = json.loads(r.stdout)
        assert error["error"]["type"] == "ConfigError"


def test_targets_taking_one_set_from_the_deploy_file_are_refused(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    project = _project(tmp_path, FROM_DEPLOY_FILE, secret_set="bot")
    _seed(emulator, "bot")
    for args in (("push", "--all-targets", "--prune", "--yes"), ("push", "-t", "dev")):
        r = cli(emulator, project, *args)
        assert r.code == 2, r.output
        assert "targets 'dev' and 'prod' both write secret set 'bot'" in r.output
        _untouched(emulator, "bot")
    r = cli(emulator, project, "push", "-t", "dev", PCC_ENV_TARGET="prod")  # the flag wins
    assert r.code == 2 and "'dev' and 'prod'" in r.output
    _untouched(emulator, "bot")


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--all-targets"),
        ("check", "--target", "a"),
        ("status", "--target", "b"),
        ("export", "--target", "a"),
    ],
)
def test_reading_commands_say_so_and_still_work(
    emulator: EmulatorServer, tmp_path: Path, args: tuple[str, ...]
) -> None:
    project = _project(tmp_path, TEMPLATED)
    _seed(emulator)
    _seed(emulator, "bot-c")
    r = cli(emulator, project, *args)
    assert r.code in (0, 1), r.output  # check may fail for its own reasons (no agent...)
    warning = [line for line in r.stderr.splitlines() if line.startswith("Warning:")]
    assert any("targets 'a' and 'b' both write secret set 'bot-us-west'" in w for w in warning)
    assert "Traceback" not in r.output
    assert emulator.stats()["total"] > 0  # it did its work
    _no_leak(r)
    if args[0] == "export":
        assert "A_KEY" in r.stdout and "OTHER" in r.stdout


def test_targets_command_flags_the_shared_set(emulator: EmulatorServer, tmp_path: Path) -> None:
    project = _project(tmp_path, TEMPLATED)
    r = cli(emulator, project, "targets")
    assert r.code == 0, r.output
    assert "Warning: targets 'a' and 'b' both write secret set 'bot-us-west'" in r.stderr
    r = cli(emulator, project, "targets", "--json")
    assert r.code == 0, r.output
    assert json.loads(r.stdout)["sharedSets"] == [{"set": SHARED, "targets": ["a", "b"]}]
    project = _project(tmp_path, DISTINCT)
    r = cli(emulator, project, "targets", "--json")
    assert json.loads(r.stdout)["sharedSets"] == [] and "Warning" not in r.stderr
    assert emulator.stats()["total"] == 0


def test_distinct_sets_still_push_with_prune(emulator: EmulatorServer, tmp_path: Path) -> None:
    project = _project(tmp_path, DISTINCT)
    r = cli(emulator, project, "push", "--all-targets", "--prune", "--yes")
    assert r.code == 0, r.output
    assert emulator.check_value("bot-a", "A_KEY", CANARY)
    assert emulator.check_value("bot-b", "B_KEY", CANARY)
    r = cli(emulator, project, "push", "--target", "a", "--set", "bot-own")
    assert r.code == 0, r.output
    _no_leak(r)


def test_shared_sets_is_pure_and_names_every_writer() -> None:
    def t(name: str | None, *sets: str) -> targets.Target:
        sts = tuple(targets.SetTarget(s, None) for s in sets)
        return targets.Target(name, sts, (Path(".env"),), None, None, None)

    a, b, c = t("a", "bot-us-west", "bot-us-east"), t("b", "bot-us-west"), t("c", "bot-c")
    (shared,) = targets.shared_sets([a], [b, c])
    assert shared.set_name == "bot-us-west" and shared.targets == ("a", "b")
    assert targets.shared_sets([c], [a, b]) == []  # a clash the command does not touch
    three = targets.shared_sets([a, b, t("d", "bot-us-west")])
    assert three[0].message == "targets 'a', 'b' and 'd' all write secret set 'bot-us-west'"
    project = ProjectSettings(
        targets={
            "a": TargetConfig("a", set="bot-{region}", region="us-west"),
            "b": TargetConfig("b", set="bot-us-west"),
            "broken": TargetConfig("broken", set="bot-{region}"),  # resolves to nothing
        }
    )
    chosen = targets.resolve_target(project, "a")
    assert [s.targets for s in targets.project_shared_sets(project, [chosen])] == [("a", "b")]
    assert targets.project_shared_sets(project, [targets.resolve_target(project, "b")])


def test_plan_many_refuses_one_set_twice_before_any_request(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PCC_ENV_DATA_DIR", str(tmp_path))
    _seed(emulator)
    st = targets.SetTarget(SHARED, "us-west")
    wanted = [("a", st, {"A_KEY": CANARY}), ("b", st, {"B_KEY": CANARY})]
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host) as client:
        with pytest.raises(InputError) as exc:
            targets.plan_many(client, wanted, PushState(), prune=True)
    assert "'a' and 'b'" in str(exc.value) and CANARY not in str(exc.value)
    _untouched(emulator)


# Item 10: regions validated like names ----------------------------------------------------------

FORGED = "us-west\nPlan for secret set 'prod' (us-west, exists):\n  - FORGED_LINE"
JUNK = [
    FORGED,
    "us-west\r",
    "\x1b[2Jus-west",
    "us-west\u202e",
    "us west",
    "US-WEST",
    "-us-west",
    "",
    "x" * 64,
    "us-west/../agents",
]


@pytest.mark.parametrize("junk", JUNK)
def test_region_rule(junk: str) -> None:
    (problem,) = rules.region_problems(junk)
    assert "\n" not in problem and "\x1b" not in problem and "\r" not in problem
    assert "FORGED" not in problem and "\u202e" not in problem
    for good in ("us-west", "us-east", "eu-central", "ap-south", "a", "r1"):
        assert rules.region_problems(good) == []


def _assert_refused(r: object, *where: str) -> None:
    code, text = r.code, r.output  # type: ignore[attr-defined]
    assert code == 2, text
    assert "FORGED" not in text and "\x1b" not in text and "\u202e" not in text
    assert "Traceback" not in text
    for w in where:
        assert w in text, (w, text)


@pytest.mark.parametrize("key", ["region", "regions"])
@pytest.mark.parametrize("junk", [FORGED, "\x1b[2Jus-west", "us-west\u202e"])
def test_a_target_region_with_junk_is_refused_naming_file_and_target(
    emulator: EmulatorServer, tmp_path: Path, key: str, junk: str
) -> None:
    value = json.dumps(junk) if key == "region" else json.dumps(["us-east", junk])
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pcc-env.targets.prod]\nset = "bot-{{region}}"\n{key} = {value}\n'
    )
    (tmp_path / ".env").write_text(f"K={CANARY}\n")
    item = "regions item 2" if key == "regions" else "[tool.pcc-env.targets.prod]"
    for args in (("push", "-t", "prod"), ("push", "--all-targets", "--dry-run"), ("targets",)):
        r = cli(emulator, tmp_path, *args)
        _assert_refused(r, "pyproject.toml", "[tool.pcc-env.targets.prod]", item, "region")
        _no_leak(r)
    r = cli(emulator, tmp_path, "push", "-t", "prod", "--json")
    _assert_refused(r)
    assert json.loads(r.stdout)["error"]["type"] == "ConfigError"
    assert emulator.stats()["total"] == 0


def test_a_deploy_file_region_with_a_newline_is_refused(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / "pcc-deploy.toml").write_text(
        f'secret_set = "bot"\nregion = {json.dumps(FORGED)}\n'
    )
    (tmp_path / ".env").write_text(f"K={CANARY}\n")
    for args in (("push", "--dry-run"), ("check",), ("watch",)):
        r = cli(emulator, tmp_path, *args)
        _assert_refused(r, "pcc-deploy.toml", "region")
        _no_leak(r)
    assert emulator.stats()["total"] == 0


@pytest.mark.parametrize("junk", [FORGED, "\x1b]0;title\x07", "US-West"])
@pytest.mark.parametrize(
    "args",
    [
        ("push", "--set", "bot-x"),
        ("push", "--set", "bot-x", "--json"),
        ("watch", "--set", "bot-x"),
        ("check", "--set", "bot-x"),
        ("secrets", "set", "bot-x", f"K={CANARY}"),
        ("secrets", "list"),
        ("secrets", "image-pull-secret", "pull-x", "https://registry.example/"),
    ],
)
def test_a_region_flag_with_junk_is_refused_before_any_request(
    emulator: EmulatorServer, tmp_path: Path, args: tuple[str, ...], junk: str
) -> None:
    (tmp_path / ".env").write_text(f"K={CANARY}\n")
    r = cli(emulator, tmp_path, *args, "--region", junk, stdin="user:token\n")
    _assert_refused(r, "--region")
    if junk == "US-West":  # harmless text is shown, so the mistake can be seen
        assert "'US-West'" in r.output
    else:
        assert "characters, not shown" in r.output
    if "--json" in args:
        assert json.loads(r.stdout)["error"]["type"] == "InputError"
    _no_leak(r)
    assert emulator.stats()["total"] == 0


def test_the_client_refuses_a_bad_region_before_any_request(emulator: EmulatorServer) -> None:
    with SecretsClient(api_key=emulator.token, api_host=emulator.api_host) as client:
        with pytest.raises(InputError, match="not a region code"):
            client.put_secrets("bot-x", {"K": CANARY}, region=FORGED)
        with pytest.raises(InputError, match="not a region code"):
            client.put_image_pull_secret("pull-x", "https://r.example/", "u:t", region=FORGED)
    assert emulator.stats()["total"] == 0


def test_run_touches_no_set_and_is_not_refused(emulator: EmulatorServer, tmp_path: Path) -> None:
    project = _project(tmp_path, TEMPLATED)
    code = "import os; print(len(os.environ['A_KEY']))"
    r = cli(emulator, project, "run", "--target", "a", "python", "-c", code)
    assert r.code == 0, r.output
    assert r.stdout.strip() == str(len(CANARY)) and "Warning" not in r.stderr
    assert emulator.stats()["total"] == 0
