"""Issue 20, items 8 and 12: values hidden in env files' comments and in the names the no-values
hook never selected; symlinks that made the scan read outside the project and made ``init``
replace a link with a regular file (or write outside the project through it)."""

from __future__ import annotations

import re
import secrets
import shutil
import string
import uuid
from pathlib import Path

import pytest
import yaml

from pcc_env.scan import scan_project
from tests.cli_helpers import ROOT, Result, run_cli
from tests.test_no_leaks import Canaries

REALBOTS = Path("/work/shared/realbots")
HOOK = next(
    h
    for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    if h["id"] == "pcc-env-no-values"
)


def _base62(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(n - 2))
    return body + secrets.choice(string.ascii_letters) + secrets.choice(string.digits)


def key_shapes(canaries: Canaries) -> dict[str, str]:
    """Fresh keys shaped like the real ones of Pipecat bots' services, registered as canaries."""
    shapes = {
        "canary": canaries.new(),
        "openai": "sk-proj-" + _base62(64),
        "deepgram": secrets.token_hex(20),
        "daily": secrets.token_hex(32),
        "elevenlabs": "sk_" + secrets.token_hex(24),
        "cartesia": "sk_car_" + _base62(22),
        "google": "AIza" + _base62(35),
    }
    canaries.issued.extend(v for k, v in shapes.items() if k != "canary")
    return shapes


def check_files(cwd: Path, *names: str) -> Result:
    return run_cli("check-files", *names, cwd=cwd)


# Item 8: values in comments ---------------------------------------------------------------------

COMMENT_FORMS = {
    "after-empty": "OPENAI_API_KEY= # {v}",
    "after-empty-quoted": 'OPENAI_API_KEY="" # {v}',
    "after-empty-spaces": "DEEPGRAM_API_KEY=    #{v}",
    "yaml": "# OPENAI_API_KEY: {v}",
    "yaml-bare-key": "# KEY: {v}",
    "export-space": "# export OPENAI_API_KEY {v}",
    "list-item": "# - OPENAI_API_KEY={v}",
    "eg": "# e.g. OPENAI_API_KEY={v}",
    "sphinx": "#: OPENAI_API_KEY={v}",
    "json": '# {{"OPENAI_API_KEY": "{v}"}}',
    "json-lower": "# {{'api_key': '{v}', 'region': 'us'}}",
    "bare": "# {v}",
    "bare-in-prose": "# my old key was {v}, rotated",
    "next-to-a-hint": "# OPENAI_API_KEY=your-key:{v}",
    "cut-short": "OPENAI_API_KEY=   # {v}...",
}


@pytest.mark.parametrize("name", [".env.example", ".env", "x.env.example", "prod.env.local"])
def test_check_files_refuses_a_value_in_any_comment_form(tmp_path: Path, name: str) -> None:
    """Only ``# KEY=value`` was refused: ``KEY= # sk-...``, ``# KEY: v``, ``# export KEY v``,
    ``# e.g. KEY=v``, ``#: KEY=v``, JSON and a bare key in a comment passed, in templates and
    in value files alike. Each form with each real key shape is refused, by line only."""
    canaries = Canaries()
    shapes = key_shapes(canaries)
    files = []
    for n, (form, line) in enumerate(COMMENT_FORMS.items()):
        for shape, value in shapes.items():
            folder = tmp_path / f"{n}-{form}-{shape}"
            folder.mkdir()
            text = f"# Copy to .env and fill in.\nDAILY_API_KEY=\n{line.format(v=value)}\nX=\n"
            (folder / name).write_text(text)
            files.append(f"{folder.name}/{name}")
    r = check_files(tmp_path, *files)
    assert r.code == 1, r.output
    for f in files:
        assert f"{f}: line 3 holds a value" in r.stderr, (f, r.stderr)
    canaries.assert_absent(r.output, "check-files output")


def test_check_files_refuses_short_secrets_and_passwords_in_a_template(tmp_path: Path) -> None:
    """A template's placeholders may stay; a secret-named key's value that is no placeholder
    nor plain words, a URL with a password, a key with a real shape, are refused."""
    lines = {
        "DB_PASSWORD=Pa55-w0rd!": True,
        "# DB_PASSWORD: Pa55-w0rd!": True,
        "DB_PASSWORD= # Pa55-w0rd!": True,
        "DATABASE_URL=postgres://bot:hunter2x@db.internal:5432/bot": True,
        "# REDIS_URL=redis://:hunter2x@cache:6379/0": True,
        "AUTH_TOKEN=tok3n42": True,
        "OPENAI_API_KEY=your-Pa55w0rd!": True,
        "OPENAI_API_KEY=sk-...": False,
        "OPENAI_API_KEY=YOUR_OPENAI_API_KEY": False,
        "SIGNING_SECRET=signing-secret-for-local-tests": False,
        "DATABASE_URL=postgres://<user>:<password>@localhost:5432/bot": False,
        "DATABASE_URL=postgres://localhost:5432/bot": False,
    }
    for n, line in enumerate(lines):
        (tmp_path / f"{n}.env.example").write_text(f"# A template\n{line}\n")
    r = check_files(tmp_path, *(f"{n}.env.example" for n in range(len(lines))))
    assert r.code == 1, r.output
    for n, refused in enumerate(lines.values()):
        assert (f"{n}.env.example: line 2 holds a value" in r.stderr) is refused, (n, r.stderr)
    for secret in ("Pa55-w0rd!", "hunter2x", "tok3n42", "Pa55w0rd"):
        assert secret not in r.output


def test_check_files_a_file_not_named_as_a_template_holds_no_value_at_all(tmp_path: Path) -> None:
    """The safer reading: only a file named like a template (``env.example``, ``x.env.sample``)
    may keep placeholders; ``.env``, ``.envrc``, ``prod.env.local``, ``.env~`` hold nothing."""
    text = "OPENAI_API_KEY=your-key-here\n# LOG_LEVEL: DEBUG\n# export RUN_MODE dev\nA=\n"
    for name in (".env", ".env~", "prod.env.local", ".env.example", "bot.env.sample"):
        (tmp_path / name).write_text(text)
    r = check_files(tmp_path, ".env", ".env~", "prod.env.local", ".env.example", "bot.env.sample")
    assert r.code == 1, r.output
    for name in (".env", ".env~", "prod.env.local"):
        assert f"{name}: lines 1, 2, 3 hold values" in r.stderr
    assert ".env.example:" not in r.stderr and "bot.env.sample:" not in r.stderr


TEMPLATE = """\
# Copy this file to .env and fill in your keys.
# Create a key here: https://console.deepgram.com/
DEEPGRAM_API_KEY=
OPENAI_API_KEY=your-key-here
ELEVENLABS_API_KEY=<your key>
ANTHROPIC_API_KEY=sk-...
CARTESIA_API_KEY=xxxx
GROQ_API_KEY=gsk_xxxxxxxxxxxxxxxxxxxxxxxx
DAILY_API_KEY=YOUR_DAILY_API_KEY # from https://dashboard.daily.co/developers
TWILIO_AUTH_TOKEN=  # Find it at https://console.twilio.com/ (Account Info)
VOICE_ID= # Optional: defaults to "{uuid}" (a calm voice)
LLM_MODEL= # "gpt-4o-mini-2024-07-18"
RUN_MODE=development
SERVER_URL=http://localhost:7860
WS_URL=wss://<your-tunnel-domain>/ws
PHONE_NUMBER=1415555XXXX
WEBHOOK_SIGNING_SECRET="signing-secret-for-local-tests"
BOT_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----
XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
-----END PRIVATE KEY-----"
#BOT_PRIVATE_KEY=/path/to/private.pem
EXPORTER_HEADERS="Authorization=Bearer <token>"
# COLLECTOR_ENDPOINT="https://collector.example.com/v1/traces"
# TRACE_TO_CONSOLE=true
# NOTE: keys differ per environment. TODO: rotate yearly.
# The number in E.164 format (e.g. +1415555XXXX)
# Set to any value to enable tracing: ENABLE_TRACING=
"""


@pytest.mark.parametrize("name", [".env.example", "env.example", "x.env.sample", "env.template"])
def test_check_files_passes_templates_with_placeholders_and_links(
    tmp_path: Path, name: str
) -> None:
    """Placeholder text (``your-key-here``, ``<your key>``, ``sk-...``, ``xxxx``), links to
    where a key is made, a voice UUID, plain settings: a template, not a value."""
    (tmp_path / name).write_text(TEMPLATE.format(uuid=uuid.uuid4()))
    r = check_files(tmp_path, name)
    assert r.code == 0, r.output


def test_check_files_passes_the_templates_of_real_pipecat_projects(tmp_path: Path) -> None:
    """Every env.example / .env.example of the real bots (copied, never edited) passes."""
    if not REALBOTS.is_dir():
        pytest.skip("no real bots on this machine")
    found = sorted(
        p for p in REALBOTS.rglob("*") if p.name in ("env.example", ".env.example") and p.is_file()
    )
    assert found
    names = []
    for n, path in enumerate(found):
        (tmp_path / str(n)).mkdir()
        shutil.copyfile(path, tmp_path / str(n) / path.name)
        names.append(f"{n}/{path.name}")
    r = check_files(tmp_path, *names)
    assert r.code == 0, r.output


MODEL = """\
from pydantic import Field, SecretStr

from pcc_env import SecretSettings


class Settings(SecretSettings):
    elevenlabs_api_key: SecretStr = Field(description="From https://elevenlabs.io/app/settings")
    elevenlabs_voice_id: str = "{voice}"
    cartesia_voice_id: str = "{uuid}"
    llm_model: str = "gpt-4o-mini-2024-07-18"
    log_level: str = "INFO"
"""


def test_the_template_export_writes_passes_check_files(tmp_path: Path) -> None:
    """``export`` notes a plain field's default (``# default: <voice id>``): the two hooks must
    agree on the file export writes. A key's own shape there, or a secret-named key's short
    password, is still refused."""
    canaries = Canaries()
    voice = _base62(20)  # an ElevenLabs voice ID's shape: letters and digits, not a key
    (tmp_path / "model.py").write_text(MODEL.format(voice=voice, uuid=uuid.uuid4()))
    r = run_cli(
        "export", "--offline", "--settings", "model:Settings", "--output", ".env.example",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0, r.output
    assert f"# default: {voice}" in (tmp_path / ".env.example").read_text()
    assert check_files(tmp_path, ".env.example").code == 0
    deepgram = key_shapes(canaries)["deepgram"]
    (tmp_path / "a.env.example").write_text(f"# default: {deepgram}\nLOG_LEVEL=\n")
    (tmp_path / "b.env.example").write_text("# default: Pa55-w0rd!\nDB_PASSWORD=\n")
    r = check_files(tmp_path, "a.env.example", "b.env.example")
    assert r.code == 1, r.output
    assert "a.env.example: line 1 holds" in r.stderr and "b.env.example: line 1 holds" in r.stderr
    canaries.assert_absent(r.output, "check-files output")
    assert "Pa55" not in r.output


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        (".envrc", True),
        ("bot/.envrc", True),
        (".env~", True),
        ("prod.env.local", True),
        ("x.env.example", True),
        ("deploy/staging.env~", True),
        (".env-staging", True),
        ("env.local", True),
        (".env", True),
        ("env.example", True),
        ("alembic/env.py", False),
        ("settings.env.py", False),
        (".envoy.yaml", False),
        ("docs/.env.md", False),
        ("environment.yml", False),
    ],
)
def test_the_no_values_hook_selects_every_env_file(path: str, selected: bool) -> None:
    """The ``files`` pattern never selected ``.envrc``, ``.env~``, ``prod.env.local`` or
    ``x.env.example``: pre-commit never passed them to check-files."""
    assert bool(re.search(HOOK["files"], path)) is selected


def test_check_files_on_an_envrc(tmp_path: Path) -> None:
    """An ``.envrc`` may hold direnv commands (``dotenv``, ``use flake``); an ``export`` with a
    value is refused."""
    canaries = Canaries()
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".envrc").write_text("dotenv\nuse flake\nlayout python3\nexport A=\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".envrc").write_text(f"dotenv\nexport OPENAI_API_KEY={canaries.new()}\n")
    r = check_files(tmp_path, "a/.envrc", "b/.envrc")
    assert r.code == 1, r.output
    assert "b/.envrc: line 2 holds a value" in r.stderr and "a/.envrc:" not in r.stderr
    canaries.assert_absent(r.output, "check-files output")


# Item 12: symlinks ------------------------------------------------------------------------------

BOT = (
    'import os\n\nBOT_API_KEY = os.getenv("BOT_API_KEY")\nLEVEL = os.getenv("LOG_LEVEL", "INFO")\n'
)


def make_project(tmp_path: Path) -> tuple[Path, Path]:
    """A bot, and a folder outside it (a user's home) with a Python file holding a default."""
    bot, home = tmp_path / "bot", tmp_path / "home"
    bot.mkdir()
    home.mkdir()
    (bot / "bot.py").write_text(BOT)
    (bot / "pyproject.toml").write_text('[project]\nname = "bot"\nversion = "0"\n')
    (bot / ".gitignore").write_text("__pycache__/\n")
    return bot, home


def init(bot: Path, *args: str) -> Result:
    return run_cli("init", *args, cwd=bot, env={"PCC_ENV_DATA_DIR": str(bot.parent / ".state")})


def test_the_scan_never_reads_a_symlinked_file_outside_the_project(tmp_path: Path) -> None:
    """A ``.py`` symlinked out of the project (a cloned repo's ``tools.py -> ~/...``) was read,
    and its defaults copied into settings.py and the plan. Now it is listed, never read; a
    symlink to a file inside the project is read once."""
    canaries = Canaries()
    bot, home = make_project(tmp_path)
    secret = canaries.new()
    (home / "private.py").write_text(f'import os\nos.getenv("OUTSIDE_ONLY", "{secret}")\n')
    (bot / "tools.py").symlink_to(home / "private.py")
    (bot / "lib").mkdir()
    (bot / "lib" / "real.py").write_text('import os\nos.getenv("INSIDE_LINKED", "ok")\n')
    (bot / "alias.py").symlink_to(bot / "lib" / "real.py")
    (bot / "loop.py").symlink_to(bot / "loop.py")

    scan = scan_project(bot)
    names = [r.name for r in scan.reads]
    assert "OUTSIDE_ONLY" not in names
    assert names.count("INSIDE_LINKED") == 1
    assert sorted(scan.outside) == ["loop.py", "tools.py"]

    r = init(bot, "--yes")
    assert r.code == 0, r.output
    assert "Not read (a symlink out of the project" in r.stderr and "tools.py" in r.stderr
    assert "OUTSIDE_ONLY" not in r.output
    canaries.assert_absent(r.output, "init's output")
    for name in ("settings.py", ".env.example"):
        text = (bot / name).read_text()
        assert "OUTSIDE_ONLY" not in text.upper()
        canaries.assert_absent(text, name)


def test_init_edits_through_a_symlink_to_a_file_inside_the_project(tmp_path: Path) -> None:
    """A symlinked ``.gitignore`` or ``pyproject.toml`` (kept in ``config/``) was replaced by a
    regular file; now the target is edited and the link stays a link."""
    bot, _ = make_project(tmp_path)
    (bot / "config").mkdir()
    for name in (".gitignore", "pyproject.toml"):
        (bot / name).rename(bot / "config" / name.lstrip("."))
        (bot / name).symlink_to(Path("config") / name.lstrip("."))
    r = init(bot, "--yes")
    assert r.code == 0, r.output
    assert "through the symlink .gitignore" in r.stdout
    for name in (".gitignore", "pyproject.toml"):
        assert (bot / name).is_symlink(), name
    assert ".env" in (bot / "config" / "gitignore").read_text().splitlines()
    assert "[tool.pcc-env]" in (bot / "config" / "pyproject.toml").read_text()
    assert init(bot, "--check").code == 0


@pytest.mark.parametrize("name", [".gitignore", "pyproject.toml", "settings.py", ".env.example"])
def test_init_refuses_a_symlink_out_of_the_project(tmp_path: Path, name: str) -> None:
    """A symlink to a file outside the project was read and replaced with a regular file (or
    written through): now init refuses (exit 2) naming the file, and writes nothing."""
    bot, home = make_project(tmp_path)
    outside = home / "users-file"
    outside.write_text("# the user's own file\n")
    (bot / name).unlink(missing_ok=True)
    (bot / name).symlink_to(outside)
    before = {p.name: p.read_bytes() for p in bot.iterdir() if not p.is_symlink()}
    for args in (("--yes",), ("--dry-run",)):
        r = init(bot, *args)
        assert r.code == 2, r.output
        assert f"{name}: is a symlink to a file outside the project" in r.stderr
        assert (bot / name).is_symlink()
        assert outside.read_text() == "# the user's own file\n"
        assert {p.name: p.read_bytes() for p in bot.iterdir() if not p.is_symlink()} == before


def test_init_refuses_a_symlink_loop(tmp_path: Path) -> None:
    bot, _ = make_project(tmp_path)
    (bot / ".gitignore").unlink()
    (bot / ".gitignore").symlink_to(bot / ".gitignore")
    r = init(bot, "--yes")
    assert r.code == 2 and ".gitignore: is a symlink that cannot be resolved" in r.stderr
    assert not (bot / "settings.py").exists()


@pytest.mark.parametrize("name", ["Dockerfile", "requirements.txt"])
def test_init_never_writes_through_a_build_file_linked_out_of_the_project(
    tmp_path: Path, name: str
) -> None:
    """The Dockerfile and requirements.txt that init edits to ship the settings module: a link
    out of the project is neither read nor written (a note says so), and stays a link."""
    bot, home = make_project(tmp_path)
    outside = home / "users-file"
    original = (
        "FROM python:3.12\nCOPY ./bot.py bot.py\n" if name == "Dockerfile" else "pipecat-ai\n"
    )
    outside.write_text(original)
    (bot / name).unlink(missing_ok=True)
    (bot / name).symlink_to(outside)
    r = init(bot, "--yes")
    assert r.code == 0, r.output
    assert f"{name} (a symlink out of the project)" in r.output
    assert (bot / name).is_symlink()
    assert outside.read_text() == original
