"""Issue 21, items 8 and 9: the files of real Pipecat projects and the README's own examples.

Item 8: the ``pcc-deploy.toml`` that the current pipecat CLI's ``pipecat init`` (pipecat-ai[cli]
1.14) writes, with ``agent_profile``, ``[krisp_viva]`` and ``[scaling]`` (tab-indented, as its
template is), is read without error; keys ``pipecat cloud deploy`` refuses are refused too, with
nothing sent. Item 9: ``watch`` follows every file and every set of a target; every hint that
suggests a command works when followed; init's ``.gitignore`` ignores every ``.env.*`` with values
and never a template. The fixtures are our own, shaped like those projects.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
from pathlib import Path

import pytest

from pcc_env.deploy_config import read_deploy_config
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import ConfigError
from pcc_env.revision import user_keys  # the set's record (issue 22) left out
from tests.cli_helpers import ROOT, Result, start_cli
from tests.cli_helpers import run_against as cli
from tests.cli_helpers import write_requests as writes
from tests.test_cli_watch import Watch

# Shaped like the 1.14 template's output for a bot with Krisp (tabs, blank lines where its
# template's conditionals were), plus the tables the CLI also accepts.
PIPECAT_INIT_DEPLOY = (
    'agent_name = "my-voice-bot"\n'
    'secret_set = "my-voice-bot-secrets"\n'
    "\n"
    'agent_profile = "agent-1x"\n'
    "\n"
    "[krisp_viva]\n"
    '\taudio_filter = "tel"\n'
    "\n\n"
    "[scaling]\n"
    "\tmin_agents = 1\n"
)
EVERY_KEY_DEPLOY = (
    'agent_name = "full"\nsecret_set = "full-secrets"\nregion = "us-west"\n'
    'image = "registry.example/full:1"\nimage_credentials = "pull"\n'
    'websocket_auth = "token"\nmax_session_duration = 600\narchitecture = "arm64"\n'
    '[scaling]\nmin_agents = 0\nmax_agents = 3\n[krisp_viva]\naudio_filter = "pro"\n'
    '[docker]\nauto_latest = true\n[build]\ncontext_dir = "."\ndockerfile = "Dockerfile"\n'
    '[build.exclude]\npatterns = ["*.md"]\n'
)
REFUSED_DEPLOYS = {
    "enable_krisp": 'agent_name = "b"\nsecret_set = "b-secrets"\nenable_krisp = true\n',
    "unknown top-level key": 'agent_name = "b"\nsecret_set = "b-secrets"\nsecrets_set = "x"\n',
    "unknown key in [scaling]": 'secret_set = "b-secrets"\n[scaling]\nmin_agent = 1\n',
    "unknown key in [krisp_viva]": 'secret_set = "b-secrets"\n[krisp_viva]\nfilter = "tel"\n',
    "[scaling] not a table": 'secret_set = "b-secrets"\nscaling = 1\n',
}


# Item 8 ---------------------------------------------------------------------------------------


def test_deploy_file_of_pipecat_init_1_14_is_read(tmp_path: Path) -> None:
    (tmp_path / "pcc-deploy.toml").write_text(PIPECAT_INIT_DEPLOY)
    deploy = read_deploy_config(tmp_path / "pcc-deploy.toml")
    assert (deploy.agent_name, deploy.secret_set) == ("my-voice-bot", "my-voice-bot-secrets")
    (tmp_path / "every.toml").write_text(EVERY_KEY_DEPLOY)
    assert read_deploy_config(tmp_path / "every.toml").region == "us-west"


def test_push_and_check_use_the_pipecat_init_1_14_deploy_file(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / "pcc-deploy.toml").write_text(PIPECAT_INIT_DEPLOY)
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-deploy-1\n")
    r = cli(emulator, tmp_path, "push", "--yes")
    assert r.code == 0, r.output
    assert user_keys(emulator.emulator.store.get_set("my-voice-bot-secrets").keys) == [
        "OPENAI_API_KEY"
    ]
    r = cli(emulator, tmp_path, "check")
    assert r.code == 0, r.output
    assert "sk-CANARY" not in r.output


@pytest.mark.parametrize("case", sorted(REFUSED_DEPLOYS))
def test_keys_pipecat_cloud_deploy_refuses_are_refused_and_nothing_is_sent(
    emulator: EmulatorServer, tmp_path: Path, case: str
) -> None:
    (tmp_path / "pcc-deploy.toml").write_text(REFUSED_DEPLOYS[case])
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-deploy-2\n")
    with pytest.raises(ConfigError, match=r"pcc-deploy\.toml"):
        read_deploy_config(tmp_path / "pcc-deploy.toml")
    r = cli(emulator, tmp_path, "push", "--yes", "--set", "b-secrets")
    assert r.code == 2, r.output
    assert "pcc-deploy.toml" in r.stderr and "sk-CANARY" not in r.output
    assert writes(emulator) == 0


def _pipecatcloud_python() -> Path:
    cli_path = os.environ.get("PCC_ENV_PIPECAT_CLI") or str(ROOT / ".venv-pipecat/bin/pipecat")
    python = Path(cli_path).parent / "python"
    if not python.exists():
        pytest.skip(f"the pipecat CLI is not installed beside {cli_path}; run 'make test'")
    return python


LOAD_WITH_PIPECATCLOUD = """
import sys
import pipecatcloud.cli.config as config
from pipecatcloud._utils.deploy_utils import load_deploy_config_file
config.deploy_config_path = sys.argv[1]
try:
    print("accepted" if load_deploy_config_file() is not None else "unread")
except Exception:
    print("refused")
"""


def test_pcc_env_accepts_exactly_the_deploy_files_pipecat_cloud_deploy_accepts(
    tmp_path: Path,
) -> None:
    """Differential: the real pipecatcloud loader and ours agree on every fixture."""
    python = _pipecatcloud_python()
    cases = {"pipecat init": PIPECAT_INIT_DEPLOY, "every key": EVERY_KEY_DEPLOY, **REFUSED_DEPLOYS}
    for name, text in cases.items():
        path = tmp_path / f"{len(os.listdir(tmp_path))}.toml"
        path.write_text(text)
        theirs = subprocess.run(
            [str(python), "-c", LOAD_WITH_PIPECATCLOUD, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(tmp_path)},
        ).stdout.strip()
        try:
            read_deploy_config(path)
            ours = "accepted"
        except ConfigError:
            ours = "refused"
        assert (name, ours) == (name, theirs)


# Item 9: watch follows the README's targets --------------------------------------------------

README_TARGETS = """
[tool.pcc-env.targets.staging]
set = "bot-staging"
region = "us-west"
env_files = [".env", ".env.staging"]

[tool.pcc-env.targets.prod]
regions = ["us-west", "us-east"]
env_files = [".env", ".env.prod"]
"""


@pytest.fixture
def targets_project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(README_TARGETS)
    (tmp_path / "pcc-deploy.toml").write_text(PIPECAT_INIT_DEPLOY.replace("my-voice-bot", "bot"))
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-common\nDAILY_API_KEY=d-common\n")
    (tmp_path / ".env.staging").write_text("OPENAI_API_KEY=sk-CANARY-staging\n")
    (tmp_path / ".env.prod").write_text("OPENAI_API_KEY=sk-CANARY-prod\n")
    return tmp_path


class TargetWatch(Watch):
    """``pcc-env watch ARGS`` (no --set of its own, unlike ``Watch``)."""

    def __init__(self, emu: EmulatorServer, directory: Path, *args: str) -> None:
        self.emu, self.dir = emu, directory
        self.lines = queue.Queue()
        self.seen = []
        env = {**emu.env(), "PCC_ENV_DATA_DIR": str(directory / ".state")}
        self.proc = start_cli("watch", "--debounce-ms", "60", *args, env=env, cwd=directory)
        threading.Thread(target=self._read, daemon=True).start()


def holds(emu: EmulatorServer, set_name: str, key: str, value: str) -> bool:
    return emu.emulator.store.check_value(set_name, key, value)


def test_watch_follows_every_env_file_of_the_readme_staging_target(
    emulator: EmulatorServer, targets_project: Path
) -> None:
    w = TargetWatch(emulator, targets_project, "-t", "staging")
    w.ready("initial sync: ")
    assert holds(emulator, "bot-staging", "OPENAI_API_KEY", "sk-CANARY-staging")
    assert holds(emulator, "bot-staging", "DAILY_API_KEY", "d-common")
    (targets_project / ".env.staging").write_text("OPENAI_API_KEY=sk-CANARY-staging-2\n")
    w.expect(r"synced: ~OPENAI_API_KEY, ready")
    assert holds(emulator, "bot-staging", "OPENAI_API_KEY", "sk-CANARY-staging-2")
    (targets_project / ".env").write_text(
        "OPENAI_API_KEY=sk-CANARY-common-2\nDAILY_API_KEY=d-common\nNEW_KEY=n\n"
    )
    w.expect(r"synced: \+NEW_KEY, ready")  # OPENAI_API_KEY stays the staging file's
    assert holds(emulator, "bot-staging", "OPENAI_API_KEY", "sk-CANARY-staging-2")
    code, out, err = w.stop()
    assert code == 0, err
    for text in [*w.seen, out, err]:
        assert "sk-CANARY" not in text
    assert emulator.emulator.store.get_set("bot-staging").region == "us-west"


def test_watch_follows_every_region_of_a_target_each_with_its_own_push(
    emulator: EmulatorServer, targets_project: Path
) -> None:
    w = TargetWatch(emulator, targets_project, "-t", "prod")
    w.expect("initial sync: ")
    w.ready("initial sync: ")
    initial = [line for line in w.seen if "initial sync" in line]
    assert sorted(line.split("'")[1] for line in initial) == [
        "bot-secrets-us-east",
        "bot-secrets-us-west",
    ]
    (targets_project / ".env.prod").write_text("OPENAI_API_KEY=sk-CANARY-prod-2\n")
    synced = sorted(w.expect(r"synced: ~OPENAI_API_KEY").split("'")[1] for _ in range(2))
    assert synced == ["bot-secrets-us-east", "bot-secrets-us-west"]
    for region in ("us-west", "us-east"):
        name = f"bot-secrets-{region}"
        assert holds(emulator, name, "OPENAI_API_KEY", "sk-CANARY-prod-2")
        assert emulator.emulator.store.get_set(name).region == region
    code, _, err = w.stop()
    assert code == 0, err


def test_watch_sends_nothing_to_any_set_when_push_would_refuse_one(
    emulator: EmulatorServer, targets_project: Path
) -> None:
    """push's guards, per set: bot-secrets-us-east exists in another region, so push -t prod
    refuses; watch -t prod sends nothing to bot-secrets-us-west either."""
    assert cli(emulator, targets_project, "secrets", "set", "bot-secrets-us-east", "X=1",
               "--region", "eu-central").code == 0  # fmt: skip
    before = writes(emulator)
    assert cli(emulator, targets_project, "push", "-t", "prod", "--yes").code == 2
    w = TargetWatch(emulator, targets_project, "-t", "prod")
    line = w.expect("not synced")
    assert "'bot-secrets-us-east'" in line and "region 'eu-central'" in line
    assert "nothing sent to any set" in line
    w.quiet(1.0)
    code, _, _ = w.stop()
    assert writes(emulator) == before
    assert not emulator.emulator.store.exists("bot-secrets-us-west")
    assert code == 0


def test_watch_with_region_still_follows_one_set_of_a_target(
    emulator: EmulatorServer, targets_project: Path
) -> None:
    w = TargetWatch(emulator, targets_project, "-t", "prod", "--region", "us-east")
    w.ready("initial sync: ")
    code, _, err = w.stop()
    assert code == 0, err
    assert emulator.emulator.store.exists("bot-secrets-us-east")
    assert not emulator.emulator.store.exists("bot-secrets-us-west")


# Item 9: init's .gitignore ------------------------------------------------------------------

VALUE_FILES = [".env", ".env.production", ".env.local", ".env.staging", "sub/.env.prod"]
TEMPLATES = [".env.example", "env.example", ".env.sample"]
BOT = 'import os\n\nKEY = os.environ["OPENAI_API_KEY"]\n'


def git_ignored(root: Path, names: list[str]) -> set[str]:
    """What git itself ignores of ``names`` under ``root`` (a fresh repository)."""
    if not (root / ".git").exists():
        subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    r = subprocess.run(
        ["git", "check-ignore", "--no-index", *names],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return set(r.stdout.split())


@pytest.mark.parametrize(
    "existing",
    [None, "__pycache__/\n.env\n", ".env*\n", "*.env\n.env.*\n"],
    ids=["no gitignore", "pipecat's .env line", "all .env*", "both globs"],
)
def test_init_gitignore_ignores_every_env_file_with_values_never_a_template(
    tmp_path: Path, existing: str | None
) -> None:
    from pcc_env.project_init import gitignore_change, project_templates
    from tests.cli_helpers import run_cli

    (tmp_path / "bot.py").write_text(BOT)
    (tmp_path / ".env.sample").write_text("OPENAI_API_KEY=\n")  # a template init did not write
    if existing is not None:
        (tmp_path / ".gitignore").write_text(existing)
    r = run_cli("init", "--yes", cwd=tmp_path, env={"PCC_ENV_DATA_DIR": str(tmp_path / ".st")})
    assert r.code == 0, r.output
    assert git_ignored(tmp_path, VALUE_FILES + TEMPLATES) == set(VALUE_FILES)
    if existing is not None:
        assert (tmp_path / ".gitignore").read_text().startswith(existing)
    gitignore = tmp_path / ".gitignore"  # a second run leaves it alone
    again = gitignore_change(gitignore, gitignore.read_text(), project_templates(tmp_path))
    assert again.action == "unchanged"


# Item 9: every hint that suggests a command works when followed ---------------------------

HAND_WRITTEN = """import os

from pydantic import SecretStr
from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    openai_api_key: SecretStr


def main() -> None:
    print(os.getenv("DEEPGRAM_API_KEY"))
"""


def run_in(root: Path, *args: str) -> Result:
    from tests.cli_helpers import run_cli

    return run_cli(*args, cwd=root, env={"PCC_ENV_DATA_DIR": str(root / ".state")})


def hinted_command(text: str) -> list[str]:
    """The pcc-env command a hint quotes ('pcc-env init --force'), as arguments."""
    match = re.search(r"'pcc-env ([^']+)'", text)
    assert match is not None, text
    return match.group(1).split()


def test_init_check_hint_works_when_followed_on_init_s_own_model(tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text(BOT)
    r = run_in(tmp_path, "init", "--check")  # no model yet: the hint says to run init first
    assert r.code == 2 and "run 'pcc-env init' first" in r.stderr, r.output
    assert run_in(tmp_path, *hinted_command(r.stderr), "--yes").code == 0
    (tmp_path / "bot.py").write_text(BOT + 'DEEPGRAM = os.getenv("DEEPGRAM_API_KEY")\n')
    r = run_in(tmp_path, "init", "--check")
    assert r.code == 1 and "'pcc-env init --force'" in r.stderr, r.output
    r = run_in(tmp_path, *hinted_command(r.stderr), "--yes")
    assert r.code == 0, r.output
    assert run_in(tmp_path, "init", "--check").code == 0


def test_init_check_hint_works_when_followed_on_a_hand_written_model(tmp_path: Path) -> None:
    """The README's hand-written model (bot:Settings): init --force refuses to take it over
    ("already names settings 'bot:Settings'"), so the hint must not send the user there."""
    (tmp_path / "bot.py").write_text(HAND_WRITTEN)
    pyproject = '[project]\nname = "bot"\n\n[tool.pcc-env]\nsettings = "bot:Settings"\n'
    (tmp_path / "pyproject.toml").write_text(pyproject)
    r = run_in(tmp_path, "init", "--check")
    assert r.code == 1 and "DEEPGRAM_API_KEY" in r.stdout, r.output
    assert "init --force" not in r.stderr.replace("init --force would refuse", "")
    assert "add the fields marked + to it" in r.stderr, r.stderr
    # Following it: the field added to the user's model, the drift is gone (init never
    # rewrote the model, nor wrote a second one beside it).
    field = "    openai_api_key: SecretStr\n"  # read nowhere: removed; DEEPGRAM_API_KEY added
    followed = HAND_WRITTEN.replace(field, "    deepgram_api_key: str = ''\n")
    (tmp_path / "bot.py").write_text(followed)
    r = run_in(tmp_path, "init", "--check")
    assert r.code == 0, r.output
    assert not (tmp_path / "settings.py").exists()
    assert (tmp_path / "bot.py").read_text() == followed  # the user's code is untouched


def test_init_conflict_hint_force_works_when_followed(tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text(BOT)
    (tmp_path / "settings.py").write_text("# an old file\n")
    r = run_in(tmp_path, "init", "--yes")
    assert r.code == 2 and "pass --force to overwrite it" in r.stderr, r.output
    r = run_in(tmp_path, "init", "--yes", "--force")
    assert r.code == 0, r.output
    assert run_in(tmp_path, "init", "--check").code == 0


def test_init_pyproject_refusal_hints_work_when_followed(tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text(HAND_WRITTEN)
    (tmp_path / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "bot:Settings"\n')
    r = run_in(tmp_path, "init", "--force", "--yes")
    assert r.code == 2 and "run 'pcc-env init' without --force" in r.stderr, r.output
    r = run_in(tmp_path, "init")  # without --force: the drift report, no refusal
    assert r.code == 0 and "Comparing settings bot:Settings" in r.stdout, r.output
    (tmp_path / "pyproject.toml").write_text("[tool.pcc-env]\n")  # or remove the line first
    assert run_in(tmp_path, "init", "--force", "--yes").code == 0


def test_check_files_hint_export_works_when_followed(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / "bot.py").write_text(BOT)
    assert run_in(tmp_path, "init", "--yes").code == 0
    (tmp_path / ".env.example").write_text("OPENAI_API_KEY=sk-CANARY-committed-9f8e7d6c5b4a3928\n")
    r = run_in(tmp_path, "check-files", ".env.example")
    assert r.code == 1 and "'pcc-env export --output .env.example'" in r.stderr, r.output
    assert "rename it to .env" in r.stderr
    (tmp_path / ".env.example").rename(tmp_path / ".env")  # following it
    r = cli(emulator, tmp_path, *hinted_command(r.stderr), "--offline")
    assert r.code == 0, r.output
    assert run_in(tmp_path, "check-files", ".env.example").code == 0
    assert "sk-CANARY" not in (tmp_path / ".env.example").read_text() + r.output


def test_export_check_hint_works_when_followed(emulator: EmulatorServer, tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text(BOT)
    assert run_in(tmp_path, "init", "--yes").code == 0
    (tmp_path / ".env.example").write_text("# our own comment\n")
    r = cli(emulator, tmp_path, "export", "--check", "--offline")
    assert r.code == 1 and "Update it: pcc-env export --output .env.example" in r.stderr
    command = r.stderr.split("Update it: pcc-env ", 1)[1].split()
    r = cli(emulator, tmp_path, *command, "--offline")
    assert r.code == 0, r.output
    assert cli(emulator, tmp_path, "export", "--check", "--offline").code == 0
    assert (tmp_path / ".env.example").read_text().startswith("# our own comment\n")


def test_push_hints_work_when_followed(emulator: EmulatorServer, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-h\nEMPTY=\n")
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes")
    assert r.code == 2 and "pass --skip-empty to leave them out" in r.stderr, r.output
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes", "--skip-empty")
    assert r.code == 0, r.output
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes", "--skip-empty")
    assert "Use --force to send them anyway" in r.output, r.output
    before = writes(emulator)
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes", "--skip-empty", "--force")
    # The DELETE of the replaced record's marker, and the PUT (issue 22).
    assert r.code == 0 and writes(emulator) == before + 2, r.output
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-h\nPORT=8\n")
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes")
    assert r.code == 2 and "--allow-reserved" in r.stderr, r.output
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes", "--allow-reserved")
    assert r.code == 0, r.output
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-h\nURL=${HOME}/x\n")
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes")
    assert r.code == 2 and "pass --no-interpolate" in r.stderr, r.output
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--yes", "--no-interpolate")
    assert r.code == 0, r.output
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-h2\n")
    r = cli(emulator, tmp_path, "push", "--set", "hints", "--prune")  # off a terminal
    assert r.code == 2 and "pass --yes" in r.stderr, r.output
    assert cli(emulator, tmp_path, "push", "--set", "hints", "--prune", "--yes").code == 0
    assert user_keys(emulator.emulator.store.get_set("hints").keys) == ["OPENAI_API_KEY"]


def push_hint_args(text: str) -> list[str]:
    """'pcc-env push --set NAME' from init's Next line, NAME filled in."""
    args = hinted_command(text.split("fill in .env, and ", 1)[1])
    return ["hinted-set" if a == "NAME" else a for a in args]


def test_init_next_hint_push_works_when_followed_without_a_deploy_file(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / "bot.py").write_text(BOT)
    r = run_in(tmp_path, "init", "--yes")
    assert r.code == 0, r.output
    args = push_hint_args(r.stderr)
    assert args == ["push", "--set", "hinted-set"], r.stderr
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-next\n")
    r = cli(emulator, tmp_path, *args, "--yes")
    assert r.code == 0, r.output


def test_pipecat_init_1_14_scaffold_init_push_check_export_check_with_no_hand_edits(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    """A scaffold shaped like the current pipecat CLI's: its deploy file, a bot reading keys."""
    (tmp_path / "pcc-deploy.toml").write_text(PIPECAT_INIT_DEPLOY)
    (tmp_path / "bot.py").write_text(BOT + 'DEEPGRAM = os.environ["DEEPGRAM_API_KEY"]\n')
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-a\nDEEPGRAM_API_KEY=sk-CANARY-b\n")
    r = cli(emulator, tmp_path, "init", "--yes")
    assert r.code == 0, r.output
    args = push_hint_args(r.stderr)
    assert args == ["push"], r.stderr
    steps = [
        cli(emulator, tmp_path, *args, "--yes"),
        cli(emulator, tmp_path, "check"),
        cli(emulator, tmp_path, "export", "--check"),
    ]
    for step in steps:
        assert step.code == 0, step.output
        assert "sk-CANARY" not in step.output
    keys = user_keys(emulator.emulator.store.get_set("my-voice-bot-secrets").keys)
    assert sorted(keys) == ["DEEPGRAM_API_KEY", "OPENAI_API_KEY"]


def test_export_offline_hint_appears_only_when_it_works(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    r = cli(emulator, tmp_path, "export", "--set", "no-such-set")
    assert r.code != 0 and "does not exist" in r.stderr, r.output
    assert "--offline" not in r.stderr  # no model: export --offline would refuse
    (tmp_path / "bot.py").write_text(BOT)
    assert run_in(tmp_path, "init", "--yes").code == 0
    (tmp_path / ".env.example").unlink()
    r = cli(emulator, tmp_path, "export", "--set", "no-such-set", "--output", ".env.example")
    assert r.code != 0 and "--offline writes the settings model's template" in r.stderr
    r = cli(emulator, tmp_path, "export", "--set", "no-such-set", "--output", ".env.example",
            "--offline")  # fmt: skip
    assert r.code == 0, r.output


def test_redeploy_hints_work_when_followed(emulator: EmulatorServer, targets_project: Path) -> None:
    from tests.test_cli_redeploy import deploy, up_to_date

    assert cli(emulator, targets_project, "push", "-t", "staging", "--yes").code == 0
    deploy(emulator, "bot", "bot-staging")
    (targets_project / ".env.staging").write_text("OPENAI_API_KEY=sk-CANARY-staging-3\n")
    r = cli(emulator, targets_project, "push", "-t", "staging", "--yes")
    assert r.code == 0 and "Update them: pcc-env redeploy --set bot-staging" in r.output
    command = r.output.split("Update them: pcc-env ", 1)[1].split()
    r = cli(emulator, targets_project, *command)
    assert r.code == 0, r.output
    assert up_to_date(emulator, "bot")
    # prod writes one set per region: --agent needs --set to pick one, and the hint says so. The
    # set named must be one of prod's own (a set another target writes is refused: issue 20).
    r = cli(emulator, targets_project, "push", "-t", "prod", "--yes")
    assert r.code == 0, r.output
    listing = json.loads(cli(emulator, targets_project, "targets", "--json").stdout)
    prod = next(t for t in listing["targets"] if t["target"] == "prod")
    prod_set, prod_region = prod["sets"][0]["set"], prod["sets"][0]["region"]
    deploy(emulator, "bot-prod", prod_set, region=prod_region)
    r = cli(emulator, targets_project, "redeploy", "-t", "prod", "--agent", "bot-prod")
    assert r.code == 2 and "name one with --set to use --agent" in r.stderr, r.output
    r = cli(emulator, targets_project, "redeploy", "-t", "prod", "--agent", "bot-prod",
            "--set", prod_set)  # fmt: skip
    assert r.code == 0, r.output


def test_watch_json_names_the_set_of_each_event(
    emulator: EmulatorServer, targets_project: Path
) -> None:
    import json

    w = TargetWatch(emulator, targets_project, "-t", "prod", "--json")
    w.expect('"event": "synced"')
    w.ready('"event": "synced"')
    code, tail, err = w.stop()
    assert code == 0, err
    events = [json.loads(line) for line in [*w.seen, *tail.splitlines()] if line]
    watching = events[0]
    assert watching["event"] == "watching" and watching["target"] == "prod"
    assert [s["region"] for s in watching["sets"]] == ["us-west", "us-east"]
    assert [p.rsplit("/", 1)[1] for p in watching["paths"]] == [".env", ".env.prod"]
    synced = sorted(e["set"] for e in events if e["event"] == "synced")
    assert synced == ["bot-secrets-us-east", "bot-secrets-us-west"]
    assert events[-1]["event"] == "stopped" and events[-1]["synced"] == 2
    assert "sk-CANARY" not in "\n".join(w.seen) + tail + err
