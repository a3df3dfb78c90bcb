"""A new user's first day (issue 11): reading a model with no secrets around, the packaged demo,
offline export, a push that changes nothing, --version, next steps in errors, wording, and the
pytest plugin. The real entry point against the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests import test_no_leaks as leaks
from tests.cli_helpers import run_against as cli
from tests.cli_helpers import run_cli
from tests.cli_helpers import write_requests as writes
from tests.docs_pages import page

# 1. Reading a model needs no secrets ---------------------------------------------------------

README_BOT = """
from pydantic import Field, SecretStr
from pcc_env import SecretSettings, load_settings


class Settings(SecretSettings, secret_set="day-one"):
    openai_api_key: SecretStr = Field(description="OpenAI key for the LLM service")
    daily_api_key: SecretStr
    log_level: str = "INFO"


settings = load_settings(Settings)
LEVEL = settings.log_level  # defaults are there while pcc-env reads the model
"""


@pytest.fixture
def bot_project(tmp_path: Path) -> Path:
    """The README's bot, with no .env and no pcc-deploy.toml."""
    (tmp_path / "bot.py").write_text(README_BOT)
    return tmp_path


def test_export_and_check_read_a_model_that_loads_settings_at_import(
    emulator: EmulatorServer, bot_project: Path
) -> None:
    r = run_cli("export", "--settings", "bot.py:Settings", cwd=bot_project)
    assert r.code == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line.endswith("=")] == [
        "OPENAI_API_KEY=",
        "DAILY_API_KEY=",
    ]
    assert "# LOG_LEVEL=INFO" in r.stdout.splitlines()  # optional: commented out (issue 21)

    # The module form, from pyproject, for check against a set that holds the keys.
    (bot_project / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "bot:Settings"\n')
    pairs = ("OPENAI_API_KEY=o", "DAILY_API_KEY=d")
    r = cli(emulator, bot_project, "secrets", "set", "day-one", *pairs)
    assert r.code == 0, r.stderr
    r = cli(emulator, bot_project, "check", "--set", "day-one")
    assert r.code == 0, r.stdout + r.stderr
    assert "every required env var of Settings is in the set" in r.stdout
    assert not (bot_project / ".env").exists()


def test_reading_model_is_scoped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pydantic import SecretStr

    from pcc_env.errors import MissingSecretsError
    from pcc_env.runtime import SecretSettings, load_settings, reading_model

    class Needs(SecretSettings):
        token: SecretStr
        level: str = "INFO"

    monkeypatch.chdir(tmp_path)
    with reading_model() as placeholders:
        settings = load_settings(Needs)
    assert settings.level == "INFO" and placeholders == ["Needs"]
    assert not hasattr(settings, "token")
    with pytest.raises(MissingSecretsError):  # outside the block, as before
        load_settings(Needs)
    # Values present: the real thing, even while reading.
    with reading_model() as placeholders:
        settings = load_settings(Needs, environ={"TOKEN": "t"})
    assert settings.token.get_secret_value() == "t" and placeholders == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('import os\nraise ValueError("{canary}")\n', "(ValueError at bot.py:2)"),
        ("import os\n\n\nimport no_such_module_dayone\n", "(ModuleNotFoundError at bot.py:4)"),
        ("import sys\nsys.exit(3)\n", "(SystemExit at bot.py:2)"),
        (
            README_BOT + "def key():\n    return settings.openai_api_key\n\n\nKEY = key()\n",
            "(AttributeError at bot.py:15)",  # the line in key(),
        ),
    ],
)
def test_a_module_that_cannot_be_imported_names_type_and_line(
    bot_project: Path, body: str, expected: str
) -> None:
    canaries = leaks.Canaries()
    (bot_project / "bot.py").write_text(body.format(canary=canaries.new()))
    r = run_cli("export", "--settings", "bot.py:Settings", cwd=bot_project)
    assert r.code == 2
    assert f"settings reference 'bot.py:Settings': importing it failed {expected}" in r.stderr
    assert "Traceback" not in r.stderr
    canaries.assert_absent(r.output, "output")
    if "ModuleNotFound" in expected:
        assert "no module named 'no_such_module_dayone'" in r.stderr
    if "AttributeError" in expected:
        assert "load_settings(Settings) returns settings without values" in r.stderr
        assert "main()" in r.stderr
    if "SystemExit" in expected:
        assert "if __name__ == '__main__'" in r.stderr


def test_a_package_that_fails_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "botpkg").mkdir()
    (tmp_path / "botpkg" / "__init__.py").write_text("\nraise KeyError('k')\n")
    r = run_cli("export", "--settings", "botpkg.settings:Settings", cwd=tmp_path)
    assert r.code == 2
    expected = f"(KeyError at {Path('botpkg', '__init__.py')}:2)"
    assert expected in r.stderr, r.stderr


# 2. The demo ships inside the package ----------------------------------------------------------


def test_demo_runs_from_a_built_wheel_outside_the_checkout(tmp_path: Path) -> None:
    """Build the wheel, unpack it, and run the demo from it with the checkout off sys.path: what
    `pip install 'pcc-env[cli]'` gives a user (its dependencies come from this venv)."""
    import importlib.util
    import shutil
    import subprocess
    import sys
    import zipfile

    from tests.cli_helpers import ROOT

    # Built from a copy of what the wheel is made of: tests running beside this one import
    # pcc_env from the checkout and write its bytecode there while hatchling walks it.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "pcc_env", source / "pcc_env", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp_path / "dist"
    # `make test` gives .venv no pip of its own when the interpreter it was made from has one.
    has_pip = importlib.util.find_spec("pip") is not None
    python = sys.executable if has_pip else getattr(sys, "_base_executable", sys.executable)
    built = subprocess.run(
        [python, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("pcc_env-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "pcc_env/cli/demo_bot/bot.py" in names and "pcc_env/cli/demo_bot/env.sample" in names
    # The emulator the demo serves is in the cli extra, not only in [emulator].
    for dependency in ("fastapi", "uvicorn", "typer", "httpx"):
        assert re.search(rf"^Requires-Dist: {dependency}\b.*extra == 'cli'$", metadata, re.M)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    # What [cli] does not install (uvicorn[standard]'s extras, test tools) cannot be imported.
    blocked = ["uvloop", "httptools", "websockets", "yaml", "schemathesis", "pytest", "tests"]
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.partition('.')[0] in {blocked!r}:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"checkout = {str(ROOT)!r}\n"
        f"sys.path[:] = [{str(site)!r}] + [p for p in sys.path if p.rstrip('/') != checkout]\n"
        "import pcc_env\n"
        f"assert pcc_env.__file__.startswith({str(site)!r}), pcc_env.__file__\n"
        "sys.argv = ['pcc-env', 'demo']\n"
        "from pcc_env.cli import main\n"
        "main()\n"
    )
    env = {"HOME": str(tmp_path / "home"), "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "All checks passed" in r.stdout and "Done." in r.stdout
    workdir = Path(r.stdout.split("working in ", 1)[1].split()[0])
    try:
        assert "from examples" not in r.stdout and list(cwd.iterdir()) == []
        assert "sk-demo" not in r.stdout + r.stderr
    finally:
        shutil.rmtree(workdir)


# 3. export without an API key, or --offline ----------------------------------------------------


def requests_served(emu: EmulatorServer) -> int:
    return sum(n for route, n in emu.stats()["requests"].items() if "/_emulator/" not in route)


def test_export_without_a_key_or_offline_writes_the_models_template(
    emulator: EmulatorServer, bot_project: Path
) -> None:
    (bot_project / "pcc-deploy.toml").write_text('secret_set = "day-one"\n')
    r = cli(emulator, bot_project, "secrets", "set", "day-one", "OPENAI_API_KEY=o", "SET_ONLY=s")
    assert r.code == 0, r.stderr
    r = cli(emulator, bot_project, "export", "--settings", "bot.py:Settings", "--output", "t.env")
    assert r.code == 0, r.stderr
    online = (bot_project / "t.env").read_text()
    assert "SET_ONLY=" in online and "DAILY_API_KEY=" in online
    emulator.reset_stats()

    no_key = {"PIPECAT_API_HOST": emulator.api_host, "PCC_ENV_DATA_DIR": str(bot_project / ".s")}
    r = run_cli("export", "--settings", "bot.py:Settings", cwd=bot_project, env=no_key)
    assert r.code == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line.endswith("=")] == [
        "OPENAI_API_KEY=",
        "DAILY_API_KEY=",
    ]
    assert "# LOG_LEVEL=INFO" in r.stdout.splitlines()  # optional: commented out (issue 21)
    assert "# from settings bot.py:Settings." in r.stdout and "secret set" not in r.stdout
    assert "no API key: the keys of secret set 'day-one' were not included" in r.stderr
    assert "pcc-env login" in r.stderr

    # --offline with a key: nothing asked; an existing template is updated without marking the
    # set's keys as gone (they may well still be in the set).
    r = cli(emulator, bot_project, "export", "--offline", "--settings", "bot.py:Settings")
    assert r.code == 0 and "--offline: the keys of secret set 'day-one' were not included" in (
        r.stderr
    )
    r = cli(
        emulator,
        bot_project,
        "export",
        "--offline",
        "--settings",
        "bot.py:Settings",
        "--output",
        "t.env",
    )
    assert r.code == 0 and "t.env is up to date" in r.stderr, r.stderr
    assert (bot_project / "t.env").read_text() == online
    assert requests_served(emulator) == 0

    # The README's bot needs no --settings: its one model is found (issue 21, item 6).
    r = cli(emulator, bot_project, "export", "--offline")
    assert r.code == 0 and "bot:Settings (found in bot.py:" in r.stderr, r.output
    # Nothing to write from: still errors.
    (bot_project / "bot.py").rename(bot_project / "bot.py.txt")
    r = cli(emulator, bot_project, "export", "--offline")
    assert r.code == 2 and "--offline writes the template from the settings model" in r.stderr
    r = run_cli("export", cwd=bot_project, env=no_key)
    assert r.code == 2 and "no API key" in r.stderr
    assert requests_served(emulator) == 0


# 4. A push that changes nothing sends nothing --------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pcc-deploy.toml").write_text('secret_set = "same-set"\n')
    (tmp_path / ".env").write_text("A=1\nB=2\n")
    return tmp_path


def set_status(emu: EmulatorServer, name: str) -> str:
    from tests.conftest import raw_client

    with raw_client(emu) as client:
        status: str = client.get(f"/v1/secrets/{name}").json()["status"]
    return status


# Issue 22: said from the set's own record (any machine), with the time of that write.
NOTHING = "Nothing to push: 'same-set' already has these values, as recorded by pcc-env at "


def test_push_of_unchanged_values_sends_nothing(emulator: EmulatorServer, project: Path) -> None:
    assert cli(emulator, project, "push").code == 0
    emulator.reset_stats()

    r = cli(emulator, project, "push")
    assert r.code == 0, r.stderr
    assert "  = A\n  = B\n" in r.stdout and NOTHING in r.stdout
    assert "redeployed" not in r.output and "Pushed" not in r.output
    assert writes(emulator) == 0 and emulator.stats()["writes"] == []
    assert set_status(emulator, "same-set") == "ready"  # not put back to pending

    r = cli(emulator, project, "push", "--json")
    assert r.code == 0 and json.loads(r.stdout)["result"] == {"ok": True, "sent": False}
    assert writes(emulator) == 0

    r = cli(emulator, project, "push", "--force")
    assert r.code == 0 and "Pushed 2 key(s)" in r.stdout and "redeployed" in r.stderr
    assert writes(emulator) == 2  # the DELETE of the replaced record's marker, and the PUT

    # Anything else to do is done: a changed value, or a key to prune.
    (project / ".env").write_text("A=1\nB=3\n")
    r = cli(emulator, project, "push", "--json")
    assert json.loads(r.stdout)["result"]["sent"] is True and writes(emulator) == 4
    assert cli(emulator, project, "secrets", "set", "same-set", "C=3").code == 0
    r = cli(emulator, project, "push", "--prune", "--yes")
    assert r.code == 0 and "- C" in r.stdout and "Nothing to push" not in r.stdout
    assert emulator.stats()["writes"][-1] == {"method": "DELETE", "set": "same-set", "keys": ["C"]}

    # `secrets set` mirrors the pipecat CLI: it always writes.
    before = writes(emulator)
    assert cli(emulator, project, "secrets", "set", "same-set", "A=1", "B=3").code == 0
    assert writes(emulator) == before + 1


def test_nothing_to_push_canary(emulator: EmulatorServer, project: Path) -> None:
    canaries = leaks.Canaries()
    (project / ".env").write_text(f"A={canaries.new()}\nB={canaries.new()}\n")
    results = [cli(emulator, project, "push") for _ in range(2)]
    results.append(cli(emulator, project, "push", "--json"))
    assert NOTHING in results[1].stdout and writes(emulator) == 1
    for r in results:
        canaries.assert_absent(r.output, "output")
    for path in (project / ".state").rglob("*"):
        canaries.assert_absent(path.read_text(), str(path))


def test_a_failed_set_is_pushed_again(project: Path) -> None:
    with run_emulator(provision_delay=0.05, fail_sets=("same-*",)) as emu:
        assert cli(emu, project, "push").code == 1
        r = cli(emu, project, "push")
        assert r.code == 1 and "Nothing to push" not in r.stdout
        assert writes(emu) == 2


def test_push_all_targets_leaves_unchanged_sets_alone(
    emulator: EmulatorServer, project: Path
) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.pcc-env.targets.one]\nset = "same-one"\n'
        '[tool.pcc-env.targets.two]\nset = "same-two"\n'
    )
    assert cli(emulator, project, "push", "--all-targets").code == 0
    (project / ".env").write_text("A=1\nB=2\nC=3\n")
    cli(emulator, project, "push", "-t", "one")
    emulator.reset_stats()
    r = cli(emulator, project, "push", "--all-targets")
    assert r.code == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("one\t"))
    assert row.endswith("nothing to push")
    assert writes(emulator) == 2  # only same-two, which lacks C (its old record + the PUT)
    # The stale-agents line (no agent here) is about the set that was written, only.
    assert "binds 'same-two'" in r.stderr and "same-one" not in r.stderr


def test_watch_initial_sync_of_unchanged_values_sends_nothing(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    from tests import test_cli_watch as watching

    (tmp_path / ".env").write_text("A=1\nB=2\n")
    assert cli(emulator, tmp_path, "push", "--set", watching.SET).code == 0
    emulator.reset_stats()
    w = watching.Watch(emulator, tmp_path, "--debounce", "60")
    line = w.ready("initial sync")
    # Issue 22: from the set's record, with the time of that write.
    assert re.search(
        f"initial sync: nothing to push, '{watching.SET}' already has these values "
        r"\(as recorded by pcc-env at \d\d:\d\d UTC\)$",
        line,
    ), line
    assert writes(emulator) == 0
    (tmp_path / ".env").write_text("A=1\nB=5\n")
    w.expect("synced: ~B")
    code, out, _ = w.stop()
    # 2: the PUT, and the DELETE of the record's marker it replaced (issue 22).
    assert code == 0 and "1 sync(s), 1 unchanged save(s)" in out and "2 write request(s)" in out
    assert writes(emulator) == 2


# 5. --version, and help with no arguments ------------------------------------------------------


def test_version(emulator: EmulatorServer, tmp_path: Path) -> None:
    import sys

    from tests.cli_helpers import ROOT

    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "(.+)"$', pyproject, re.M).group(1)  # type: ignore[union-attr]
    python = ".".join(map(str, sys.version_info[:3]))
    canaries = leaks.Canaries()
    for flag in ("--version", "-V"):
        r = run_cli(flag, cwd=tmp_path)
        assert r.code == 0 and r.stderr == ""
        assert r.stdout.splitlines() == [
            f"pcc-env {version}",
            f"Python {python}",
            "API host: https://api.pipecat.daily.co (default)",
        ]
        env = {"PIPECAT_API_HOST": emulator.api_host, "PIPECAT_API_KEY": canaries.new()}
        r = run_cli(flag, cwd=tmp_path, env=env)
        assert r.code == 0
        assert r.stdout.splitlines()[2] == f"API host: {emulator.api_host} (from PIPECAT_API_HOST)"
        canaries.assert_absent(r.output, "output")
    assert requests_served(emulator) == 0  # no network
    r = run_cli("--version", cwd=tmp_path, env={"PIPECAT_API_HOST": "http://example.com"})
    assert r.code == 0 and "API host: PIPECAT_API_HOST is not usable: refusing" in r.stdout


def test_version_imports_nothing_heavy(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.argv = ['pcc-env', '--version']\n"
        "from pcc_env.cli import main\n"
        "main()\n"
        "heavy = ['fastapi', 'uvicorn', 'starlette', 'watchfiles', 'keyring', 'httpx', 'typer',"
        " 'rich', 'click', 'pydantic', 'stamina']\n"
        "print('heavy:', ' '.join(m for m in heavy if m in sys.modules))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("pcc-env ")
    assert r.stdout.splitlines()[-1].strip() == "heavy:"


def test_no_arguments_prints_help_and_exits_0(tmp_path: Path) -> None:
    r = run_cli(cwd=tmp_path)
    assert r.code == 0
    assert "Usage: pcc-env" in r.stdout and "--version" in r.stdout and "push" in r.stdout
    r = run_cli("--version", "push", cwd=tmp_path)  # through Typer: the same answer
    assert r.code == 0 and r.stdout.startswith("pcc-env ")


# 12. Errors name the next step ----------------------------------------------------------------


def test_missing_sets_and_keys_point_at_secrets_list(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    for args in (("secrets", "list", "nope-set"), ("secrets", "wait", "nope-set")):
        r = cli(emulator, tmp_path, *args)
        assert r.code == 1 and "Set not found" in r.stderr
        assert "'pcc-env secrets list' shows the secret sets of this organization." in r.stderr
    assert cli(emulator, tmp_path, "secrets", "set", "a-set", "A=1").code == 0
    r = cli(emulator, tmp_path, "secrets", "unset", "a-set", "B", "--yes")
    assert r.code == 1 and "'pcc-env secrets list a-set' the keys of one." in r.stderr
    r = cli(emulator, tmp_path, "export", "--set", "nope-set")
    assert r.code == 1 and "'pcc-env secrets list' shows the sets" in r.stderr
    r = cli(emulator, tmp_path, "check", "--set", "nope-set")
    assert r.code == 1 and "does not exist: 'pcc-env push' creates it from .env" in r.stdout


def test_listing_an_image_pull_secret_says_it_has_no_keys_by_design(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    r = cli(
        emulator,
        tmp_path,
        *("secrets", "image-pull-secret", "pull-x", "https://ghcr.io", "--stdin"),
        stdin="user:token\n",
    )
    assert r.code == 0, r.stderr
    r = cli(emulator, tmp_path, "secrets", "list", "pull-x")
    assert r.code == 0, r.stderr
    assert r.stdout.splitlines()[1] == "pull-x\timage pull secret\tus-west\tready"
    assert "'pull-x' is an image pull secret: it has no keys to list, by design" in r.stderr
    r = cli(emulator, tmp_path, "secrets", "list", "pull-x", "--json")
    assert json.loads(r.stdout)["type"] == "imagePullSecret"


def test_check_missing_keys_says_add_to_env_and_push(
    emulator: EmulatorServer, bot_project: Path
) -> None:
    assert cli(emulator, bot_project, "secrets", "set", "day-one", "OPENAI_API_KEY=o").code == 0
    r = cli(emulator, bot_project, "check", "--set", "day-one", "--settings", "bot.py:Settings")
    assert r.code == 1
    assert (
        "required by Settings but not in the set: DAILY_API_KEY; add them to .env and run "
        "'pcc-env push'" in r.stdout
    )


def test_wait_timeout_names_the_real_set(tmp_path: Path) -> None:
    with run_emulator(provision_delay=30) as emu:
        assert cli(emu, tmp_path, "secrets", "set", "slow-set", "A=1", "--no-wait").code == 0
        r = cli(emu, tmp_path, "secrets", "wait", "slow-set", "--timeout", "0.2")
    assert r.code == 1 and "Check again later with 'pcc-env secrets wait slow-set'." in r.stderr


def test_emulator_port_in_use_suggests_port_0(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_cli("emulator", "--port", str(port), "--db", ":memory:", cwd=tmp_path)
    assert r.code == 1 and f"Cannot listen on 127.0.0.1:{port}" in r.stderr
    assert "--port 0 for a free one" in r.stderr


def test_login_without_a_terminal_points_at_stdin(emulator: EmulatorServer, tmp_path: Path) -> None:
    import os
    import subprocess

    from tests.cli_helpers import PCC_ENV

    env = {
        "PYTHON_KEYRING_BACKEND": "tests.keyring_backends.FileKeyring",
        "PCC_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
        "PIPECAT_API_HOST": emulator.api_host,
    }
    r = run_cli("login", cwd=tmp_path, env=env)  # stdin is an empty pipe
    assert r.code == 2
    assert "standard input is not a terminal" in r.stderr
    assert 'echo "$KEY" | pcc-env login --stdin' in r.stderr
    r = run_cli("login", "--stdin", cwd=tmp_path, env=env)
    assert r.code == 2 and "not a terminal" not in r.stderr and "login --stdin" in r.stderr
    # stdin closed altogether
    from tests.cli_helpers import ROOT

    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.run(
        ["bash", "-c", f"exec {PCC_ENV} login <&-"],
        env=full,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "login --stdin" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "keyring.json").exists()


# 16. Wording -----------------------------------------------------------------------------------


def test_a_set_name_is_never_called_a_key(emulator: EmulatorServer, tmp_path: Path) -> None:
    long_name = "x" * 70 + "+/="  # not showable: described, not shown
    for args in (
        ("secrets", "delete", long_name, "--yes"),
        ("secrets", "list", long_name),
        ("push", "--set", long_name),
    ):
        r = cli(emulator, tmp_path, *args)
        assert r.code == 2, r.stderr
        assert "secret set name <a name of 73 characters, not shown>" in r.stderr
        assert "key" not in r.stderr.lower() and long_name not in r.stderr


def test_check_region_help_says_what_check_does(tmp_path: Path) -> None:
    r = run_cli("check", "--help", cwd=tmp_path, env={"COLUMNS": "300"})
    text = " ".join(r.stdout.split())  # as wrapped by the help formatter
    assert "Region the agent deploys to: the check fails when the set" in text
    assert "Region of a new set" not in text


def test_region_finding_names_where_the_region_came_from(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    assert cli(emulator, tmp_path, "secrets", "set", "reg-set", "A=1").code == 0
    r = cli(emulator, tmp_path, "check", "--set", "reg-set")
    assert (
        "ok   set region 'us-west' matches the default region 'us-west' (no --region, and no "
        "region in a deploy file)" in r.stdout
    )
    r = cli(emulator, tmp_path, "check", "--set", "reg-set", "--region", "us-east")
    assert r.code == 1
    assert "set region 'us-west' differs from the expected region 'us-east'" in r.stdout
    assert "deploy region" not in r.stdout
    (tmp_path / "pcc-deploy.toml").write_text('secret_set = "reg-set"\nregion = "us-west"\n')
    r = cli(emulator, tmp_path, "check")
    assert "set region 'us-west' matches the deploy region 'us-west' (pcc-deploy.toml)" in (
        r.stdout
    )


def test_hand_added_template_keys_are_not_marked_as_gone(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    from pcc_env.dotenv_file import NO_LONGER_MARK

    assert cli(emulator, tmp_path, "secrets", "set", "tpl-set", "A=1", "B=2").code == 0
    assert cli(emulator, tmp_path, "export", "--set", "tpl-set", "--output", "t.env").code == 0
    path = tmp_path / "t.env"
    path.write_text(path.read_text() + "# my local switch\nMY_LOCAL=\n")
    assert cli(emulator, tmp_path, "secrets", "unset", "tpl-set", "B", "--yes").code == 0
    r = cli(emulator, tmp_path, "export", "--set", "tpl-set", "--output", "t.env")
    assert r.code == 0, r.stderr
    lines = path.read_text().splitlines()
    assert lines[lines.index("B=") - 1] == NO_LONGER_MARK  # exported before, gone now
    assert lines[lines.index("MY_LOCAL=") - 1] == "# my local switch"  # added by hand
    assert lines.count(NO_LONGER_MARK) == 1
    r = cli(emulator, tmp_path, "export", "--set", "tpl-set", "--output", "t.env")
    assert "up to date" in r.stderr


def run_on_a_terminal(emu: EmulatorServer, cwd: Path, answer: str, *args: str) -> tuple[int, str]:
    """Run with stdin on a pseudo-terminal, answer the prompt, return (exit code, stderr)."""
    import os
    import pty
    import subprocess

    from tests.cli_helpers import PCC_ENV, ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
    env.update(emu.env())
    env.update(
        {
            "PCC_ENV_DATA_DIR": str(cwd / ".state"),
            "PYTHONPATH": str(ROOT),
            "NO_COLOR": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
    )
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [PCC_ENV, *args],
            cwd=cwd,
            env=env,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, answer.encode() + b"\n")
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    return proc.returncode, err


def test_declining_a_prompt_exits_1_and_changes_nothing(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    assert cli(emulator, tmp_path, "secrets", "set", "keep-set", "A=1", "B=2").code == 0
    (tmp_path / ".env").write_text("A=1\n")
    before = writes(emulator)
    for args in (
        ("secrets", "delete", "keep-set"),
        ("secrets", "unset", "keep-set", "B"),
        ("push", "--set", "keep-set", "--prune"),
    ):
        code, err = run_on_a_terminal(emulator, tmp_path, "n", *args)
        assert code == 1, err
        assert err.strip().endswith("Cancelled; nothing was changed.") and "Error" not in err
    assert writes(emulator) == before
    code, _ = run_on_a_terminal(emulator, tmp_path, "y", "secrets", "unset", "keep-set", "B")
    # The DELETE, then the set's new record (the old marker's DELETE and a PUT; issue 22).
    assert code == 0 and writes(emulator) == before + 3


# 18. The pcc_emulator fixture is a registered pytest plugin -----------------------------------

PLUGIN_TEST = """
import os

import httpx
from pcc_env.testing import settings_from_env  # the plugin's module, imported by the test too
{plugins}

def test_the_fixture_serves_an_emulator(pcc_emulator):
    assert os.environ["PIPECAT_API_HOST"] == pcc_emulator.api_host
    answer = httpx.get(
        pcc_emulator.api_host + "/v1/secrets",
        headers={{"Authorization": "Bearer " + os.environ["PIPECAT_API_KEY"]}},
    )
    assert answer.status_code == 200
"""


def run_pytest(directory: Path, *args: str) -> str:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "default", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = r.stdout + r.stderr
    assert r.returncode == 0, output
    return output


def test_pcc_emulator_fixture_is_a_registered_plugin(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    # No pytest_plugins line: the entry point brings the fixture.
    (tmp_path / "test_plain.py").write_text(PLUGIN_TEST.format(plugins=""))
    # The old way still works, in a module that imported the plugin's module first.
    old_way = PLUGIN_TEST.format(plugins='pytest_plugins = ["pcc_env.testing"]')
    (tmp_path / "test_old_way.py").write_text(old_way)
    # The README's example.
    readme = page("runtime.md")  # the README's testing section moved to docs/runtime.md
    (example,) = [
        b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "pcc_emulator" in b
    ]
    (tmp_path / "test_readme_example.py").write_text(example)
    for args in ((), ("-p", "pcc_env.testing")):  # and with -p: registered once
        output = run_pytest(tmp_path, *args)
        assert "3 passed" in output
        assert "PytestAssertRewriteWarning" not in output and "already registered" not in output
        assert "warning" not in output.lower()
