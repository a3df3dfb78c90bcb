"""Issue 21, items 2 and 7: the template real Pipecat projects ship (``env.example``, with
placeholders and comments) is the template, and an empty value means unset for a field with a
default, in the runtime, push, run, check and export. Fixtures are written here, one per pattern
seen in real projects (none of their code is copied)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from pcc_env.emulator.server import EmulatorServer
from pcc_env.revision import user_keys  # the set's record (issue 22) left out
from tests.cli_helpers import ROOT, Result, run_cli
from tests.test_no_leaks import Canaries

BOT = """\
import os

from pipecat.runner.run import main  # the runner reads DAILY_API_KEY itself

api_key = os.getenv("OPENAI_API_KEY")
client = make_client(api_key=api_key.strip())
level = os.getenv("LOG_LEVEL", "INFO")
"""

# The shapes of real env.example files: comments with links, placeholders of every kind, plain
# defaults, keys read by libraries, an inline comment after an empty value.
PIPECAT_TEMPLATE = """\
# Copy this file to .env and fill in your API keys

# OpenAI (LLM). Create a key here: https://platform.openai.com/api-keys
OPENAI_API_KEY=your_openai_api_key

# Daily (Transport): read by the Pipecat runner
DAILY_API_KEY=your-key-here
DAILY_ROOM_URL=  # Optional: leave empty to create a new room

# Environment mode: "local" for development
ENV=local
WS_URI=wss://<your-ngrok-domain>/ws
AWS_SECRET_ACCESS_KEY=xxx
OTEL_EXPORTER_OTLP_HEADERS="Authorization=Basic <base64_encoded_api_keys>"
OTEL_EXPORTER_OTLP_ENDPOINT="https://cloud.example.com/api/public/otel"
# OTEL_EXPORTER_OTLP_ENDPOINT="http://localhost:3000/api/public/otel"
GOOGLE_MODEL= # "gemini-2.5-flash"
ANTHROPIC_API_KEY=sk-...
WEBHOOK_HMAC_SECRET="hmac-secret-for-the-webhook"
#SIGNING_KEY=/path/to/key/file
"""

SETTINGS = """\
from pydantic import Field, SecretStr

from pcc_env import SecretSettings


class Settings(SecretSettings):
    openai_api_key: SecretStr = Field(description="OpenAI key")
    log_level: str = Field("INFO", description="Log level")
    workers: int = 2
"""


def cli(emu: EmulatorServer | None, cwd: Path, *args: str, **env: str) -> Result:
    base = {"PCC_ENV_DATA_DIR": str(cwd / ".state")}
    if emu is not None:
        base |= {"PIPECAT_API_HOST": emu.api_host, "PIPECAT_API_KEY": emu.token}
    return run_cli(*args, env=base | env, cwd=cwd)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".state" not in p.parts
    }


@pytest.fixture
def pipecat_bot(tmp_path: Path) -> Path:
    (tmp_path / "bot.py").write_text(BOT)
    (tmp_path / "env.example").write_text(PIPECAT_TEMPLATE)
    return tmp_path


@pytest.fixture
def model_project(tmp_path: Path) -> Path:
    (tmp_path / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "tpl-secrets"\n')
    (tmp_path / "settings.py").write_text(SETTINGS)
    (tmp_path / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "settings:Settings"\n')
    return tmp_path


# Item 2: placeholders are not values --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "your-key-here",
        "your_openai_api_key",
        "YOUR_APPLICATION_ID",
        "paste_your_key_here",
        "<your-key>",
        "wss://<your-ngrok-domain>/ws",
        "...",
        "sk-...",
        "xxx",
        "XXXXXXXX",
        "changeme",
        "-----BEGIN PRIVATE KEY-----\nXXXXXXXXXXXXXXXX\n-----END PRIVATE KEY-----",
    ],
)
def test_placeholders_are_recognized(value: str) -> None:
    from pcc_env.rules import is_placeholder, is_template_value

    assert is_placeholder(value)
    assert is_template_value("OPENAI_API_KEY", value)


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("ENV", "local", True),
        ("LOG_LEVEL", "INFO", True),
        ("LOCAL_SERVER_URL", "http://localhost:7860", True),
        ("OPENAI_API_KEY", "sk-proj-4f9a8b7c6d5e4f3a2b1c", False),
        ("OPENAI_API_KEY", "sk-real-looking", False),
        ("SOME_ID", "CANARY0a1b2c3d4e5f6a7b8c9d", False),  # looks like a key, whatever its name
        ("DATABASE_URL", "postgres://u:hunter2@db/x", False),
        # A value spelling its own key's name describes it; with a random part it may be real.
        ("WEBHOOK_HMAC_SECRET", "hmac-secret-for-the-webhook", True),
        ("WEBHOOK_HMAC_SECRET", "webhook-hmac-secret-9f8e7d6c5b4a3f2e1d0c", False),
        ("SIGNING_KEY", "/path/to/key/file", True),
    ],
)
def test_plain_defaults_pass_and_possible_values_do_not(key: str, value: str, ok: bool) -> None:
    from pcc_env.rules import is_template_value

    assert is_template_value(key, value) is ok


def test_init_dry_run_plans_the_env_example_in_place_and_shows_everything(
    pipecat_bot: Path,
) -> None:
    """A template holding ``ENV=local`` and ``your-key-here`` made init exit 2, even with
    --dry-run, before it showed anything; and init planned a second template (.env.example)."""
    before = snapshot(pipecat_bot)
    r = run_cli("init", "--dry-run", "--json", cwd=pipecat_bot)
    assert r.code == 0, r.output
    doc = json.loads(r.stdout)
    changes = {c["path"]: c["action"] for c in doc["changes"]}
    assert changes["env.example"] == "update"
    assert ".env.example" not in changes
    fields = {f["variable"]: f for f in doc["fields"]}
    # Keys of the template that libraries read: optional fields, marked as such.
    assert fields["DAILY_API_KEY"]["required"] is False
    assert "read by a library: the Pipecat runner" in fields["DAILY_API_KEY"]["summary"]
    assert "OpenTelemetry" in fields["OTEL_EXPORTER_OTLP_ENDPOINT"]["summary"]
    assert "boto3" in fields["AWS_SECRET_ACCESS_KEY"]["summary"]
    # A key nothing reads stays in the template and is no field (tests/test_real_precision.py)
    assert "WS_URI" not in fields and "WS_URI" in {o["variable"] for o in doc["leftOut"]}
    assert snapshot(pipecat_bot) == before


def test_init_updates_the_env_example_in_place_keeping_comments_and_order(
    pipecat_bot: Path,
) -> None:
    r = run_cli("init", "--yes", cwd=pipecat_bot)
    assert r.code == 0, r.output
    assert not (pipecat_bot / ".env.example").exists()
    text = (pipecat_bot / "env.example").read_text()
    original = PIPECAT_TEMPLATE.splitlines()
    lines = text.splitlines()
    # Every original line is still there, in the same order (init only inserts lines).
    it = iter(lines)
    assert all(any(line == mine for line in it) for mine in original)
    assert "# OpenAI (LLM). Create a key here: https://platform.openai.com/api-keys" in lines
    assert "# LOG_LEVEL=INFO" in lines  # the key it adds: optional, commented out
    settings = (pipecat_bot / "settings.py").read_text()
    assert "read by a library (the Pipecat runner)" in settings
    # The generated model is current with its template, and the no-values hook passes it.
    assert run_cli("export", "--check", "--offline", cwd=pipecat_bot).code == 0
    r = run_cli("check-files", "env.example", cwd=pipecat_bot)
    assert r.code == 0, r.output
    # Run again: nothing changes.
    again = snapshot(pipecat_bot)
    assert run_cli("init", "--yes", "--force", cwd=pipecat_bot).code == 0
    assert (pipecat_bot / "env.example").read_text() == again["env.example"].decode()


def test_a_template_value_that_may_be_real_is_shown_in_a_dry_run_and_refused_when_writing(
    pipecat_bot: Path,
) -> None:
    canaries = Canaries()
    (pipecat_bot / "env.example").write_text(
        f"# keys\nOPENAI_API_KEY=sk-{canaries.new()}\nENV=local\nDAILY_API_KEY=your-key-here\n"
    )
    before = snapshot(pipecat_bot)
    r = run_cli("init", "--dry-run", cwd=pipecat_bot)
    assert r.code == 0, r.output
    assert "Settings model settings:Settings" in r.stdout  # the plan is shown
    assert "A real run refuses env.example" in r.stderr and "line 2" in r.stderr
    r2 = run_cli("init", "--yes", cwd=pipecat_bot)
    assert r2.code == 2
    assert "env.example: holds values" in r2.stderr and "line 2" in r2.stderr
    for result in (r, r2):
        canaries.assert_absent(result.output, "init output")
    assert snapshot(pipecat_bot) == before


def test_export_and_export_check_use_the_env_example(model_project: Path) -> None:
    (model_project / "env.example").write_text(
        "# Create a key here: https://platform.openai.com\nOPENAI_API_KEY=your_openai_api_key\n"
        "DAILY_API_KEY=your-key-here\n"
    )
    r = cli(None, model_project, "export", "--check", "--offline")
    assert r.code == 1, r.output
    assert r.stdout.splitlines()[0] == "env.example is stale against settings settings:Settings:"
    assert "Update it: pcc-env export --output env.example" in r.stderr
    r = cli(None, model_project, "export", "--offline", "--output", "env.example")
    assert r.code == 0, r.output
    lines = (model_project / "env.example").read_text().splitlines()
    text = "\n".join(lines)
    # Its lines kept in order (export adds its record line first: the leading comment is the
    # heading of the key below it, and stays right above it).
    assert lines[1] == "# Create a key here: https://platform.openai.com"
    assert lines[2:4] == ["OPENAI_API_KEY=your_openai_api_key", "DAILY_API_KEY=your-key-here"]
    assert "# LOG_LEVEL=INFO" in text and "# WORKERS=2" in text
    assert not (model_project / ".env.example").exists()
    r = cli(None, model_project, "export", "--check", "--offline")
    assert r.code == 0 and "env.example is up to date" in r.stderr


def test_the_template_hook_follows_env_example() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    files = next(h for h in hooks if h["id"] == "pcc-env-template")["files"]
    assert re.search(files, "env.example") and re.search(files, "bot/env.example")
    assert re.search(files, ".env.example") and not re.search(files, "environment.example")


def test_check_files_passes_placeholders_in_templates_not_in_env_files(tmp_path: Path) -> None:
    canaries = Canaries()
    (tmp_path / "env.example").write_text(PIPECAT_TEMPLATE + "# LOG_LEVEL=INFO\n")
    (tmp_path / ".env").write_text("ENV=local\n")  # a .env holds values, placeholders or not
    (tmp_path / "bot.env.example").write_text(f"A=your-key-here\nOPENAI_API_KEY={canaries.new()}\n")
    (tmp_path / ".env.example").write_text(f"A=\n# OPENAI_API_KEY=sk-{canaries.new()}\n")
    r = run_cli("check-files", "env.example", cwd=tmp_path)
    assert r.code == 0, r.output
    r = run_cli("check-files", ".env", "bot.env.example", ".env.example", cwd=tmp_path)
    assert r.code == 1
    assert ".env: line 1 holds a value" in r.stderr
    assert "bot.env.example: line 2 holds a value" in r.stderr
    assert ".env.example: line 2 holds a value" in r.stderr
    canaries.assert_absent(r.output, "check-files output")


# Item 7: empty means unset ------------------------------------------------------------------


def test_runtime_empty_value_keeps_the_default_and_a_required_one_is_missing(
    tmp_path: Path,
) -> None:
    from pydantic import SecretStr

    from pcc_env import MissingSecretsError, SecretSettings, load_settings

    class S(SecretSettings):
        openai_api_key: SecretStr
        log_level: str = "INFO"
        workers: int = 2

    got = load_settings(
        S, env_file=None, environ={"OPENAI_API_KEY": "k", "LOG_LEVEL": "", "WORKERS": ""}
    )
    assert (got.log_level, got.workers) == ("INFO", 2)
    with pytest.raises(MissingSecretsError) as info:
        load_settings(S, env_file=None, environ={"OPENAI_API_KEY": "", "LOG_LEVEL": ""})
    assert info.value.missing == ["OPENAI_API_KEY"]
    # A template copied to .env: the same from the file.
    env = tmp_path / ".env"
    env.write_text("OPENAI_API_KEY=k\nLOG_LEVEL=\nWORKERS=\n")
    got = load_settings(S, env_file=env, environ={})
    assert (got.log_level, got.workers) == ("INFO", 2)
    env.write_text("OPENAI_API_KEY=\nLOG_LEVEL=\n")
    with pytest.raises(MissingSecretsError):
        load_settings(S, env_file=env, environ={})


def test_export_writes_optional_keys_commented_out(model_project: Path) -> None:
    r = cli(None, model_project, "export", "--offline")
    assert r.code == 0, r.output
    lines = r.stdout.splitlines()
    assert "OPENAI_API_KEY=" in lines
    assert "# LOG_LEVEL=INFO" in lines and "# WORKERS=2" in lines
    assert "LOG_LEVEL=" not in lines and "WORKERS=" not in lines
    assert "fill in the values" not in r.stdout
    assert "fill in the required keys" in r.stdout


def test_push_leaves_out_an_empty_optional_value_and_says_so(
    emulator: EmulatorServer, model_project: Path
) -> None:
    canaries = Canaries()
    key = canaries.new()
    # What a copied template gives, the required key filled in.
    (model_project / ".env").write_text(f"OPENAI_API_KEY={key}\nLOG_LEVEL=\n# WORKERS=2\n")
    r = cli(emulator, model_project, "push", "--dry-run")
    assert r.code == 0, r.output
    assert "LOG_LEVEL empty: default used, not sent" in r.stdout
    r = cli(emulator, model_project, "push", "--dry-run", "--json")
    assert r.code == 0, r.output
    assert json.loads(r.stdout)["plan"]["emptyDefaults"] == ["LOG_LEVEL"]
    r = cli(emulator, model_project, "push", "--yes")
    assert r.code == 0, r.output
    assert user_keys(emulator.stats()["writes"][-1]["keys"]) == ["OPENAI_API_KEY"]
    assert emulator.check_value("tpl-secrets", "OPENAI_API_KEY", key)
    # A required key left empty is still refused, before any request.
    (model_project / ".env").write_text("OPENAI_API_KEY=\nLOG_LEVEL=\n")
    writes = len(emulator.stats()["writes"])
    r = cli(emulator, model_project, "push", "--yes")
    assert r.code == 2 and "empty values for 'OPENAI_API_KEY'" in r.stderr
    assert "LOG_LEVEL" not in r.stderr
    assert len(emulator.stats()["writes"]) == writes
    canaries.assert_absent(r.output, "push output")


def test_run_and_check_take_a_copied_template(
    emulator: EmulatorServer, model_project: Path
) -> None:
    canaries = Canaries()
    (model_project / ".env").write_text(f"OPENAI_API_KEY={canaries.new()}\nLOG_LEVEL=\n")
    code = "import os; print(os.environ.get('LOG_LEVEL', 'unset'))"
    r = cli(emulator, model_project, "run", "--", sys.executable, "-c", code)
    assert r.code == 0, r.output
    assert r.stdout == "unset\n"
    assert cli(emulator, model_project, "push", "--yes").code == 0
    r = cli(emulator, model_project, "check", "--env-file", ".env")
    assert ".env satisfies Settings" in r.stdout, r.output
    canaries.assert_absent(r.output, "run and check output")


def test_push_from_env_takes_a_blank_ci_variable_with_a_default_as_unset(
    emulator: EmulatorServer, model_project: Path
) -> None:
    """A CI secret that is not defined comes out as "" (``${{ secrets.LOG_LEVEL }}``)."""
    canaries = Canaries()
    key = canaries.new()
    r = cli(
        emulator, model_project, "push", "--from-env", "--yes", OPENAI_API_KEY=key, LOG_LEVEL=""
    )
    assert r.code == 0, r.output
    assert "not set (optional): LOG_LEVEL" in r.stderr
    assert user_keys(emulator.stats()["writes"][-1]["keys"]) == ["OPENAI_API_KEY"]
    r = cli(emulator, model_project, "push", "--from-env", "--yes", OPENAI_API_KEY="", LOG_LEVEL="")
    assert r.code == 2 and "OPENAI_API_KEY" in r.stderr
    canaries.assert_absent(r.output, "push --from-env output")


def test_init_adopting_a_model_proposes_the_keys_of_the_env_example(tmp_path: Path) -> None:
    """A project with its own model (adopted, never doubled) and an env.example: the
    template's keys that the model lacks (DAILY_API_KEY, read by the Pipecat runner) are
    proposed as optional additions; the template is not touched."""
    (tmp_path / "bot.py").write_text(
        "import os\n\nfrom settings import Settings\n\nkey = os.environ['OPENAI_API_KEY']\n"
    )
    (tmp_path / "settings.py").write_text(
        "from pydantic import SecretStr\n\nfrom pcc_env import SecretSettings\n\n\n"
        "class Settings(SecretSettings):\n    openai_api_key: SecretStr\n"
    )
    template = "# keys\nOPENAI_API_KEY=your_openai_api_key\nDAILY_API_KEY=your-key-here\n"
    (tmp_path / "env.example").write_text(template)
    r = run_cli("init", "--dry-run", "--json", cwd=tmp_path)
    assert r.code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["adopted"]["settings"] == "settings:Settings"
    additions = doc["adopted"]["additions"]
    assert any(a.startswith("daily_api_key:") for a in additions), additions
    assert not any(a.startswith("openai_api_key:") for a in additions)
    assert (tmp_path / "env.example").read_text() == template


def test_a_template_key_only_another_program_reads_stays_in_the_template_not_the_model(
    tmp_path: Path,
) -> None:
    """A telephony project's env.example lists the keys of its server.py too (it dials out with
    them): the agent's model leaves them out (issue 21 item 5), the template keeps them."""
    (tmp_path / "bot.py").write_text('import os\nkey = os.environ["OPENAI_API_KEY"]\n')
    (tmp_path / "server.py").write_text('import os\ndial = os.getenv("TWILIO_ACCOUNT_SID")\n')
    template = "# Both programs\nOPENAI_API_KEY=your-key-here\nTWILIO_ACCOUNT_SID=\n"
    (tmp_path / "env.example").write_text(template)
    r = run_cli("init", "--dry-run", "--json", cwd=tmp_path)
    assert r.code == 0, r.output
    plan = json.loads(r.stdout)
    assert [f["variable"] for f in plan["fields"]] == ["OPENAI_API_KEY"], plan["fields"]
    assert run_cli("init", "--yes", cwd=tmp_path).code == 0
    assert "TWILIO_ACCOUNT_SID=" in (tmp_path / "env.example").read_text()
    assert "TWILIO" not in (tmp_path / "settings.py").read_text()


@pytest.mark.parametrize(
    ("key", "value", "template"),
    [
        ("GOOGLE_CREDENTIALS_PATH", "./credentials.json", True),
        ("GOOGLE_APPLICATION_CREDENTIALS_FILE", "/secrets/service-account.json", True),
        ("SSL_KEY_FILE", "certs/server.key", True),
        ("KEY_PATH", "9f8e7d6c5b4a39281706aa11bb22cc33", False),  # a key, not a path
        ("OPENAI_API_KEY", "./credentials.json", False),  # not a name for a path
    ],
)
def test_a_secret_named_path_in_a_template_is_where_the_secret_is_not_the_secret(
    key: str, value: str, template: bool
) -> None:
    from pcc_env.rules import is_template_value

    assert is_template_value(key, value) is template


@pytest.mark.parametrize(
    "placeholder", ["your_daily_api_key", "your-key-here", "<your key>", "sk-..."]
)
def test_push_never_sends_a_template_placeholder_as_a_secret(
    emulator: EmulatorServer, model_project: Path, placeholder: str
) -> None:
    """A template copied to .env and not filled in: 'DAILY_API_KEY=your_daily_api_key' was
    pushed as the key (found walking the quickstart). Refused before any request, by key name;
    left empty, it is left out."""
    (model_project / ".env").write_text(
        f"OPENAI_API_KEY=sk-CANARY-filled-in-9f8e7d6c\nDAILY_API_KEY={placeholder}\n"
    )
    emulator.reset_stats()
    for argv in (("push", "--yes"), ("push", "--yes", "--json")):
        r = cli(emulator, model_project, *argv)
        assert r.code == 2, r.output
        assert "placeholder values" in r.output and "'DAILY_API_KEY'" in r.output
        assert placeholder not in r.output and "sk-CANARY" not in r.output
    assert emulator.stats()["total"] == 0
    (model_project / ".env").write_text(
        "OPENAI_API_KEY=sk-CANARY-filled-in-9f8e7d6c\nDAILY_API_KEY=\n"
    )
    r = cli(emulator, model_project, "push", "--yes", "--skip-empty")
    assert r.code == 0, r.output
