"""Issue 21, items 4 and 6: the reads real bots write (helpers, constants, literal collections),
an existing settings model adopted by init, and the model found with no configuration."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from pcc_env.discover import find_models
from pcc_env.emulator.server import EmulatorServer
from pcc_env.project_init import plan_fields
from pcc_env.scan import EnvRead, scan_project, scan_source
from tests.cli_helpers import Result, run_against, run_cli, write_requests


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _reads(source: str) -> dict[str, EnvRead]:
    result = scan_source(textwrap.dedent(source), "bot.py")
    return {r.name: r for r in result.reads}


# Item 4 (a): one level of project helpers -------------------------------------------------------


def test_a_helper_passing_its_parameter_to_getenv_is_followed() -> None:
    reads = _reads(
        """
        import os

        def _require_env(name: str) -> str:
            value = os.getenv(name)
            if not value:
                raise ValueError(f"Environment variable {name} is required.")
            return value

        def _env_int(name, default):
            return int(os.getenv(name, default))

        def _env_float(name: str, default: float = 0.5) -> float:
            v = os.environ.get(name)
            return float(v) if v else default

        def _env_bool(name, default=False):
            return os.getenv(name, str(default)).lower() in ("1", "true")

        key = _require_env("SARVAM_API_KEY")
        retries = _env_int("RETRIES", 5)
        temperature = _env_float("TEMPERATURE")
        debug = _env_bool("DEBUG_MODE", True)
        quiet = _env_bool(name="QUIET")
        """
    )
    assert set(reads) == {"SARVAM_API_KEY", "RETRIES", "TEMPERATURE", "DEBUG_MODE", "QUIET"}
    assert reads["SARVAM_API_KEY"].default_kind == "none"
    assert reads["SARVAM_API_KEY"].via == "_require_env"
    assert (reads["RETRIES"].cast, reads["RETRIES"].default) == ("int", 5)
    assert (reads["TEMPERATURE"].cast, reads["TEMPERATURE"].default) == ("float", 0.5)
    assert (reads["DEBUG_MODE"].cast, reads["DEBUG_MODE"].default) == ("bool", True)
    assert (reads["QUIET"].cast, reads["QUIET"].default) == ("bool", False)


def test_helper_reads_become_typed_fields_and_the_helper_body_is_no_dynamic_read(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "bot.py": """
                import os
                from util import env_int
                import util

                retries = env_int("RETRIES", 5)
                flag = util.env_bool("USE_KRISP", True)
            """,
            "util.py": """
                import os

                def env_int(name: str, default: int) -> int:
                    v = os.getenv(name)
                    if not v:
                        return default
                    return int(v)

                def env_bool(name: str, default: bool = False) -> bool:
                    return os.getenv(name, str(default)).lower() == "true"
            """,
        },
    )
    scan = scan_project(tmp_path)
    assert scan.dynamic == []
    fields = {f.env_name: f for f in plan_fields(scan, [])[0]}
    assert set(fields) == {"RETRIES", "USE_KRISP"}
    assert (fields["RETRIES"].type_name, fields["RETRIES"].default) == ("int", 5)
    assert not fields["RETRIES"].required
    assert (fields["USE_KRISP"].type_name, fields["USE_KRISP"].default) == ("bool", True)


# Item 4 (b): module constants, literal lists, tuples and dicts ----------------------------------


def test_names_from_constants_and_literal_collections_are_found() -> None:
    reads = _reads(
        """
        import os

        KEY_VAR = "OPENAI_API_KEY"
        REQUIRED = ("DEEPGRAM_API_KEY", "CARTESIA_API_KEY")
        SERVICES = {"stt": "SPEECHMATICS_API_KEY", "tts": "RIME_API_KEY"}

        key = os.getenv(KEY_VAR)
        for name in ["DAILY_API_KEY", "DAILY_ROOM_URL"]:
            os.getenv(name)
        values = [os.environ[n] for n in REQUIRED]
        keys = {k: os.getenv(v) for k, v in SERVICES.items()}
        pairs = {v: os.environ.get(k, "") for k, v in {"LOG_LEVEL": "log"}.items()}
        """
    )
    assert set(reads) == {
        "OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY", "DAILY_API_KEY",
        "DAILY_ROOM_URL", "SPEECHMATICS_API_KEY", "RIME_API_KEY", "LOG_LEVEL",
    }  # fmt: skip
    assert reads["LOG_LEVEL"].default == ""


def test_a_provider_table_in_a_function_names_each_provider_key() -> None:
    reads = _reads(
        """
        import os

        def create_llm(provider):
            configs = {
                "openai": {"service": "x.OpenAI", "api_key_env": "OPENAI_API_KEY"},
                "openai_responses": {"service": "x.Responses", "api_key_env": "OPENAI_API_KEY"},
                "google": {"service": "x.Google", "api_key_env": "GOOGLE_API_KEY"},
                "aws": {"service": "x.Bedrock", "api_key_env": None},
            }
            config = configs.get(provider)
            api_key = os.getenv(config["api_key_env"])
            keys = ["DAILY_API_KEY", "DAILY_API_URL"]
            return [os.environ.get(k) for k in keys]
        """
    )
    assert list(reads) == ["OPENAI_API_KEY", "GOOGLE_API_KEY", "DAILY_API_KEY", "DAILY_API_URL"]


def test_a_loop_over_something_computed_stays_a_dynamic_read() -> None:
    result = scan_source(
        textwrap.dedent(
            """
            import os
            NAMES = ["A_KEY"]
            NAMES = load()
            for name in NAMES:
                os.getenv(name)
            for name in sys.argv:
                for other in ["B_KEY"]:
                    os.getenv(name)
            """
        ),
        "bot.py",
    )
    assert [r.name for r in result.reads] == []
    assert len(result.dynamic) == 2


# Item 4 (c) and item 6: the model the project has ----------------------------------------------

CANARY = "sk-CANARY-model-0123456789abcdef"

HAND_WRITTEN = """
    import os

    from pydantic import Field, SecretStr

    from pcc_env import SecretSettings, load_settings


    class BotSettings(SecretSettings):
        openai_api_key: SecretStr
        model: str = Field("gpt-4.1", validation_alias="OPENAI_MODEL")


    def main() -> None:
        settings = load_settings(BotSettings)
        print(os.getenv("DEEPGRAM_API_KEY"), int(os.getenv("RETRIES", "3")))
"""


OTHER_MODEL = "from pcc_env import SecretSettings\nclass Other(SecretSettings):\n    x: str = ''\n"


@pytest.fixture
def hand(tmp_path: Path) -> Path:
    """The README's hand-written pattern: a model in bot.py, no [tool.pcc-env] settings."""
    (tmp_path / "pcc-deploy.toml").write_text(
        'agent_name = "bot"\nsecret_set = "hand-secrets"\nregion = "us-west"\n'
    )
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={CANARY}\n")
    return _write(tmp_path, {"bot.py": HAND_WRITTEN})


def _no_canary(*results: Result) -> None:
    for r in results:
        assert CANARY not in r.output


def test_models_are_found_by_syntax_with_their_env_names(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "bot.py": textwrap.dedent(HAND_WRITTEN) + "\nraise SystemExit('never imported')\n",
            "app/__init__.py": "",
            "app/config.py": """
                from pydantic_settings import BaseSettings, SettingsConfigDict

                class Base(BaseSettings):
                    model_config = SettingsConfigDict(env_prefix="APP_")
                    region: str = "us"

                class AppSettings(Base):
                    model_config = SettingsConfigDict(case_sensitive=False)  # prefix inherited
                    port: int = Field(8000, validation_alias="PORT")
                    region: str = "eu"
            """,
            ".venv/lib/x.py": OTHER_MODEL,
            "tests/test_x.py": OTHER_MODEL,
        },
    )
    found = {m.ref: m for m in find_models(tmp_path)}
    assert set(found) == {"bot:BotSettings", "app.config:AppSettings"}  # Base is a base only
    assert found["bot:BotSettings"].env_names == ("OPENAI_API_KEY", "OPENAI_MODEL")
    assert found["app.config:AppSettings"].env_names == ("PORT", "APP_REGION")
    assert found["bot:BotSettings"].where == "bot.py:9"


def test_init_adopts_the_existing_model_and_proposes_what_it_lacks(hand: Path) -> None:
    r = run_cli("init", "--dry-run", "--json", cwd=hand)
    assert r.code == 0, r.output
    data = json.loads(r.stdout)
    assert data["settings"] == "bot:BotSettings"
    assert data["adopted"]["definedIn"] == "bot.py:9"
    assert [f["variable"] for f in data["fields"]] == ["DEEPGRAM_API_KEY", "RETRIES"]
    assert all(f["addition"] for f in data["fields"])
    assert any(a.startswith("retries: int = Field(3") for a in data["adopted"]["additions"])
    assert {c["path"] for c in data["changes"]} >= {"pyproject.toml"}
    assert "settings.py" not in {c["path"] for c in data["changes"]}
    r2 = run_cli("init", "--yes", cwd=hand)
    assert r2.code == 0, r2.output
    assert not (hand / "settings.py").exists() and not (hand / ".env.example").exists()
    assert 'settings = "bot:BotSettings"' in (hand / "pyproject.toml").read_text()
    assert "Proposed additions to bot:BotSettings" in r2.stdout
    # --force does not write a competing model either: the project's model is the model.
    r3 = run_cli("init", "--force", "--yes", cwd=hand)
    assert not (hand / "settings.py").exists()
    _no_canary(r, r2, r3)


def test_export_check_and_run_find_the_hand_written_model(
    hand: Path, emulator: EmulatorServer
) -> None:
    r = run_cli("export", "--offline", "--output", ".env.example", cwd=hand)
    assert r.code == 0, r.output
    assert "bot:BotSettings" in r.stderr  # says which model it found, and where
    assert "OPENAI_API_KEY=" in (hand / ".env.example").read_text()
    hook = run_cli("export", "--check", "--offline", cwd=hand)
    assert hook.code == 0, hook.output
    assert run_against(emulator, hand, "push", "--yes").code == 0
    check = run_against(emulator, hand, "check")
    assert check.code == 0, check.output
    assert "every required env var of BotSettings is in the set" in check.stdout
    assert "All checks passed" in check.stdout
    # run refuses to start the bot without a required key of the model it found
    (hand / ".env").write_text("OPENAI_MODEL=gpt-4o\n")
    marker = hand / "started"
    ran = run_cli("run", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')", cwd=hand)
    assert ran.code == 2 and "OPENAI_API_KEY" in ran.stderr and not marker.exists()
    _no_canary(r, hook, check, ran)


def test_two_models_are_both_named_and_pyproject_is_asked_for(
    hand: Path, emulator: EmulatorServer
) -> None:
    _write(
        hand,
        {"agent/settings.py": OTHER_MODEL},
    )
    for args in (("export", "--offline"), ("check",), ("init", "--dry-run"), ("run", "--", "true")):
        r = run_against(emulator, hand, *args)
        assert r.code == 2, (args, r.output)
        assert "bot:BotSettings (bot.py:9)" in r.stderr
        assert "agent/settings.py:Other (agent/settings.py:2)" in r.stderr
        assert "[tool.pcc-env] settings" in r.stderr
    assert write_requests(emulator) == 0
    (hand / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "bot:BotSettings"\n')
    assert run_cli("export", "--offline", cwd=hand).code == 0


def test_check_without_a_model_never_says_all_checks_passed(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    (tmp_path / "pcc-deploy.toml").write_text('secret_set = "bare-secrets"\nregion = "us-west"\n')
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={CANARY}\n")
    assert run_against(emulator, tmp_path, "push", "--yes").code == 0
    r = run_against(emulator, tmp_path, "check")
    assert r.code == 0, r.output
    assert "All checks passed" not in r.output
    assert "no key was checked" in r.stdout and "[tool.pcc-env] settings" in r.stdout
    data = json.loads(run_against(emulator, tmp_path, "check", "--json").stdout)
    assert data["keysChecked"] is False
    _no_canary(r)
