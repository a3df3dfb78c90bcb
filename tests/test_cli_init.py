"""``pcc-env init`` end to end on a bot shaped like the Pipecat examples (tests/data/pipecat_bot):
the real entry point, the files it writes, the generated model loading the .env, drift, refusals,
and then push/check against the emulator with the model it wrote."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pcc_env import __version__
from pcc_env.emulator.server import EmulatorServer
from tests.cli_helpers import ROOT, Result, cli_env, run_cli
from tests.test_no_leaks import Canaries

FIXTURE = Path(__file__).parent / "data" / "pipecat_bot"
ENV = {
    "OPENAI_API_KEY": "sk-test-openai",
    "DEEPGRAM_API_KEY": "dg-test",
    "CARTESIA_API_KEY": "ca-test",
    "DAILY_API_KEY": "daily-test",
    "LOG_LEVEL": "DEBUG",
    "DAILY_SAMPLE_ROOM_URL": "https://example.daily.co/room",
}


def make_bot(root: Path, env: dict[str, str]) -> Path:
    shutil.copytree(FIXTURE, root)
    (root / "gitignore").rename(root / ".gitignore")
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    (root / "legacy.py").write_text('print "a Python 2 script"\n')  # does not parse
    (root / ".venv" / "lib").mkdir(parents=True)  # never scanned
    (root / ".venv" / "lib" / "dep.py").write_text('import os\nos.getenv("FROM_A_DEPENDENCY")\n')
    return root


@pytest.fixture
def bot(tmp_path: Path) -> Path:
    return make_bot(tmp_path / "bot", ENV)


def init(bot: Path, *args: str, **env: str) -> Result:
    return run_cli("init", *args, cwd=bot, env={"PCC_ENV_DATA_DIR": str(bot / ".state"), **env})


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".state" not in p.parts and "__pycache__" not in p.parts
    }


def test_dry_run_shows_what_was_found_and_the_plan_and_writes_nothing(bot: Path) -> None:
    before = digests(bot)
    r = init(bot, "--dry-run")
    assert r.code == 0, r.output
    assert "Scanned 4 Python file(s): 13 environment read(s) of 13 variable(s)" in r.stdout
    assert "OPENAI_API_KEY\tSecretStr\trequired\tbot.py:45" in r.stdout
    # server.py is a local runner bot.py never imports: reported apart, not in the model.
    assert "BOT_PORT" not in r.stdout
    assert "Agent: bot.py (the file Pipecat Cloud runs): the model holds what it reads." in r.stderr
    assert "Outside the agent (not imported; not modelled): server.py reads " in r.stderr
    # The runner reads it (its telephony and sample-room helpers): a library key, optional.
    assert (
        "DAILY_SAMPLE_ROOM_URL\tstr\toptional (read by a library: the Pipecat runner)\t(.env only)"
        in r.stdout
    )
    assert "FROM_A_DEPENDENCY" not in r.output
    plan = r.stdout.split("Plan:\n", 1)[1].splitlines()
    assert [line.split()[:2] for line in plan] == [
        ["create", "settings.py"],
        ["create", ".env.example"],
        ["append", ".gitignore"],
        ["update", "pyproject.toml"],
    ]
    assert "Not scanned (not valid Python, or unreadable): legacy.py:1" in r.stderr
    assert "computed at run time (not included): utils/tracing.py:10" in r.stderr
    assert "Dry run: nothing was written." in r.stderr
    assert digests(bot) == before


def test_writing_needs_yes_off_a_terminal(bot: Path) -> None:
    before = digests(bot)
    r = init(bot)
    assert r.code == 2 and "pass --yes" in r.stderr
    assert "Plan:" in r.stdout  # the plan is shown first
    assert digests(bot) == before


def test_init_writes_four_files_and_the_model_loads_the_env(bot: Path) -> None:
    pyproject_before = (bot / "pyproject.toml").read_text()
    r = init(bot, "--yes")
    assert r.code == 0, r.output
    assert "Wrote settings.py, .env.example, .gitignore, pyproject.toml." in r.stdout

    settings = (bot / "settings.py").read_text()
    assert "class Settings(SecretSettings):" in settings
    assert 'openai_api_key: SecretStr = Field(description="read in bot.py:45")' in settings
    assert 'log_level: str = Field("INFO", description="read in bot.py:27")' in settings
    assert "bot_port" not in settings  # read by server.py only
    # DAILY_API_KEY: in .env, read by server.py only (the Pipecat runner may read it too)
    assert '__pcc_read_elsewhere__ = ("DAILY_API_KEY", "DAILY_SAMPLE_ROOM_URL",)' in settings
    dep = f'"pcc-env>={__version__}"'  # init adds it: the image needs the runtime
    with_dep = pyproject_before.replace('"python-dotenv"]', f'"python-dotenv", {dep}]')
    assert (bot / "pyproject.toml").read_text() == (
        with_dep + '\n[tool.pcc-env]\nsettings = "settings:Settings"\n'
    )
    assert (bot / ".gitignore").read_text().endswith("\n.env\n.env.*\n!.env.example\n")
    assert (bot / "settings.py").stat().st_mode & 0o777 == 0o644
    template = (bot / ".env.example").read_text()
    assert "# read in bot.py:45 (required, secret)\nOPENAI_API_KEY=\n" in template
    assert "BOT_PORT" not in template  # read by server.py only
    assert "# read in bot.py:27 (optional)\n# LOG_LEVEL=INFO\n" in template  # issue 21 item 7

    # The generated module imports, and load_settings builds it from the .env (a fresh process,
    # as the bot would).
    check = (
        "from pcc_env import load_settings\n"
        "from settings import Settings\n"
        "s = load_settings(Settings)\n"
        "assert s.openai_api_key.get_secret_value() == 'sk-test-openai'\n"
        "assert s.daily_api_key.get_secret_value() == 'daily-test'\n"
        "assert s.log_level == 'DEBUG'\n"
        "assert s.daily_sample_room_url == 'https://example.daily.co/room'\n"
        "assert s.openai_model == 'gpt-4o'\n"
        "print('loaded', len(Settings.model_fields))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=bot, env=cli_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "loaded 8\n"

    # The template it wrote is what export would write, and holds no value.
    assert run_cli("export", "--check", cwd=bot).code == 0
    assert run_cli("check-files", ".env.example", cwd=bot).code == 0


def test_run_again_it_reports_drift_and_changes_nothing(bot: Path) -> None:
    assert init(bot, "--yes").code == 0
    before = digests(bot)
    r = init(bot)
    assert r.code == 0, r.output
    assert "No drift: the model declares all 6 variable(s) the code reads." in r.stdout
    assert init(bot, "--check").code == 0

    bot_py = bot / "bot.py"
    bot_py.write_text(
        bot_py.read_text().replace(
            'os.getenv("DEEPGRAM_API_KEY")', 'os.getenv("ELEVENLABS_API_KEY")'
        )
    )
    r = init(bot)
    assert r.code == 0, r.output
    assert "  + ELEVENLABS_API_KEY: read in bot.py:37, not in the model" in r.stdout
    assert "  - DEEPGRAM_API_KEY: in the model, read nowhere in the code" in r.stdout
    assert "2 difference(s)" in r.stderr
    r = init(bot, "--check")
    assert r.code == 1 and "ELEVENLABS_API_KEY" in r.stdout
    # Reading the field through the settings object counts as reading it.
    (bot / "uses.py").write_text("def f(settings):\n    return settings.deepgram_api_key\n")
    r = init(bot, "--check")
    assert r.code == 1 and "DEEPGRAM_API_KEY" not in r.stdout
    changed = {k for k in digests(bot) if digests(bot)[k] != before.get(k)}
    assert changed == {"bot.py", "uses.py"}  # init wrote nothing


def test_check_without_a_model_is_a_usage_error(bot: Path) -> None:
    r = init(bot, "--check")
    assert r.code == 2 and "run 'pcc-env init' first" in r.stderr


def test_an_existing_settings_py_needs_force(bot: Path) -> None:
    (bot / "settings.py").write_text("# my own settings\n")
    before = digests(bot)
    r = init(bot, "--yes")
    assert r.code == 2
    assert "settings.py exists: pass --force to overwrite it. Nothing was written." in r.stderr
    assert "conflict" in r.stdout
    assert digests(bot) == before
    r = init(bot, "--yes", "--force")
    assert r.code == 0, r.output
    assert "class Settings(SecretSettings)" in (bot / "settings.py").read_text()


def test_a_pyproject_naming_another_model_is_never_rewritten(bot: Path) -> None:
    pyproject = bot / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.pcc-env]\nsettings = "mine:Mine"\n')
    (bot / "mine.py").write_text(
        "from pcc_env import SecretSettings\nclass Mine(SecretSettings):\n    openai_api_key: str\n"
    )
    before = digests(bot)
    r = init(bot, "--yes", "--force")
    assert r.code == 2
    assert "already names settings 'mine:Mine'; init writes 'settings:Settings'" in r.stderr
    assert digests(bot) == before
    # Without --force, init compares that model with the code.
    r = init(bot, "--check")
    assert r.code == 1 and "+ DEEPGRAM_API_KEY: read in bot.py:37" in r.stdout


def test_a_template_holding_values_is_refused_by_line(bot: Path) -> None:
    (bot / ".env.example").write_text("# example\nOPENAI_API_KEY=sk-real-looking\n")
    before = digests(bot)
    r = init(bot, "--yes", "--force")
    assert r.code == 2
    assert ".env.example: holds values" in r.stderr and "line 2" in r.stderr
    assert "sk-real-looking" not in r.output
    assert digests(bot) == before


def test_an_existing_template_is_merged_and_gitignore_left_alone(bot: Path) -> None:
    (bot / ".env.example").write_text("# Keys for the bot\nOPENAI_API_KEY=\nMY_OWN_KEY=\n")
    (bot / ".gitignore").write_text(".env*\n!.env.example\n")
    r = init(bot, "--yes")
    assert r.code == 0, r.output
    assert "unchanged  .gitignore" in r.stdout and "update     .env.example" in r.stdout
    lines = (bot / ".env.example").read_text().splitlines()
    # LOG_LEVEL has a default: optional, commented out with it (issue 21 item 7)
    assert (
        lines[1:3] == ["# Keys for the bot", "OPENAI_API_KEY="]
        and "MY_OWN_KEY=" in lines
        and "# LOG_LEVEL=INFO" in lines
    )
    assert (bot / ".gitignore").read_text() == ".env*\n!.env.example\n"


def test_nothing_found_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('hello')\n")
    r = run_cli("init", "--yes", cwd=tmp_path)
    assert r.code == 1 and "found no environment variables" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["main.py"]


def test_a_broken_env_file_is_refused_by_line_number(bot: Path) -> None:
    (bot / ".env").write_text("A=1\nbroken line sk-not-shown\n")
    r = init(bot, "--dry-run")
    assert r.code == 2 and "line 2" in r.stderr and "sk-not-shown" not in r.output


def test_after_init_push_and_check_use_the_model(bot: Path, emulator: EmulatorServer) -> None:
    """The model init wrote is the project's: push sends the .env, check finds every required
    key of Settings in the set, check --code finds every variable the code reads."""
    (bot / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "bot-secrets"\n')
    assert init(bot, "--yes").code == 0
    env = {
        "PIPECAT_API_HOST": emulator.api_host,
        "PIPECAT_API_KEY": emulator.token,
        "PCC_ENV_DATA_DIR": str(bot / ".state"),
    }
    r = run_cli("push", cwd=bot, env=env)
    assert r.code == 0, r.output
    assert emulator.check_value("bot-secrets", "OPENAI_API_KEY", "sk-test-openai")
    r = run_cli("check", "--code", cwd=bot, env=env)
    assert r.code == 0, r.output
    assert "ok   every required env var of Settings is in the set" in r.stdout
    assert "ok   the 6 env var(s) the code reads (5 Python file(s)) are in the settings" in r.stdout


def test_init_leaks_no_value(tmp_path: Path) -> None:
    canaries = Canaries()
    values = {k: canaries.new() for k in ENV}
    values["EXTRA_SERVICE_TOKEN"] = canaries.new()  # only in .env
    bot = make_bot(tmp_path / "bot", values)
    (bot / "bot.py").write_text(
        (bot / "bot.py").read_text() + f'\nFALLBACK = "{canaries.new()}"\n'
    )  # a module constant that is not a variable name
    results = [
        init(bot, "--dry-run", PCC_ENV_LOG_LEVEL="DEBUG"),
        init(bot, PCC_ENV_LOG_LEVEL="DEBUG"),  # refused: no --yes
        init(bot, "--yes", PCC_ENV_LOG_LEVEL="DEBUG"),
        init(bot, PCC_ENV_LOG_LEVEL="DEBUG"),
        init(bot, "--check", PCC_ENV_LOG_LEVEL="DEBUG"),
        init(bot, "--yes", "--force", PCC_ENV_LOG_LEVEL="DEBUG"),
    ]
    assert [r.code for r in results] == [0, 2, 0, 0, 0, 0]
    for r in results:
        canaries.assert_absent(r.stdout + r.stderr, f"output of {r.argv[1:]}")
    for name in ("settings.py", ".env.example", ".gitignore", "pyproject.toml"):
        canaries.assert_absent((bot / name).read_text(), name)
    assert "EXTRA_SERVICE_TOKEN" in (bot / "settings.py").read_text()  # its name, not its value
    assert ROOT.exists()


def test_a_named_env_file_must_exist(bot: Path) -> None:
    r = init(bot, "--dry-run", "--env-file", "missing.env")
    assert r.code == 2 and "missing.env: file not found" in r.stderr
    (bot / "staging.env").write_text("STAGING_ONLY_KEY=v\n")
    r = init(bot, "--dry-run", "--env-file", "staging.env")
    assert r.code == 0 and "STAGING_ONLY_KEY\tSecretStr\toptional\t(.env only)" in r.stdout
