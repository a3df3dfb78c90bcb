"""Issue 21, items 4 and 6: the reads real bots write (helpers, constants, literal collections),
an existing settings model adopted by init, and the model found with no configuration."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pcc_env.project_init import plan_fields
from pcc_env.scan import EnvRead, scan_project, scan_source


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
