"""Hostile input against the features of session 4 (run, init, completion, check-files...):
each test failed before the fix it names, through the real entry point where it can."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import run_cli

# init -------------------------------------------------------------------------------------------


def test_init_survives_a_default_too_large_to_write(tmp_path: Path) -> None:
    """``os.getenv("X", 0xfff...)``: Python refuses to turn an int of more than 4300 digits
    into text, and init crashed with a traceback writing the model. Such a default is no
    configuration value: the field is optional with its default computed in code."""
    (tmp_path / "bot.py").write_text(
        f'import os\nWORKERS = os.getenv("WORKERS", 0x{"f" * 5000})\nos.getenv("PORT_X", 8080)\n'
    )
    r = run_cli("init", "--yes", cwd=tmp_path, env={"PCC_ENV_DATA_DIR": str(tmp_path / ".s")})
    assert r.code == 0, r.output
    assert "Traceback" not in r.output
    assert "WORKERS\tstr\toptional\tbot.py:2" in r.stdout
    assert "PORT_X\tint\tdefault 8080\tbot.py:3" in r.stdout
    settings = (tmp_path / "settings.py").read_text()
    assert "its default is computed in code" in settings
    assert "fff" not in settings
