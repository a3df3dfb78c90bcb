"""Issue 24 item 2: on a 60-column terminal, lines wrap at spaces, never inside a word.

A terminal folds an over-long line at its last column ("'us-wes" / "t'"); pcc-env wraps its own
lines first, and piped output stays one line per message.
"""

from __future__ import annotations

from pathlib import Path

from pcc_env.cli.output import fit
from pcc_env.testing import run_emulator
from tests.cli_helpers import run_cli, run_in_terminal

NARROW = 60
REGION_LINE = "set region 'us-west' matches the deploy region 'us-west' (pcc-deploy.toml)"


def project(tmp_path: Path) -> Path:
    bot = tmp_path / "bot"
    bot.mkdir()
    (bot / "pcc-deploy.toml").write_text(
        'agent_name = "bot"\nsecret_set = "my-secrets"\nregion = "us-west"\n'
    )
    (bot / ".env").write_text("OPENAI_API_KEY=sk-test\n")
    return bot


def test_check_wraps_at_word_boundaries_on_a_narrow_terminal(tmp_path: Path) -> None:
    bot = project(tmp_path)
    with run_emulator(provision_delay=0.05) as emu:
        env = {**emu.env(), "PCC_ENV_DATA_DIR": str(tmp_path / "state")}
        assert run_in_terminal("push", "--yes", columns=NARROW, env=env, cwd=bot).code == 0
        shown = run_in_terminal("check", columns=NARROW, env=env, cwd=bot).stdout
        piped = run_cli("check", cwd=bot, env=env)
    lines = [line for line in shown.splitlines() if "⠋" not in line]  # the spinner redraws
    assert all(len(line) <= NARROW for line in lines), shown
    assert shown.count("'us-west'") == 2 and "'us-wes\n" not in shown, shown
    # The words are the message's, in order: only spaces became line breaks.
    start = next(i for i, line in enumerate(lines) if "set region" in line)
    assert " ".join(" ".join(lines[start : start + 2]).split()) == "ok " + REGION_LINE
    # Piped output is not wrapped (scripts read one line per finding).
    assert f"ok   {REGION_LINE}\n" in piped.stdout


def test_fit_keeps_words_whole() -> None:
    assert fit("short", 60) == "short" and fit("x" * 80, None) == "x" * 80
    text = "  " + " ".join(["word"] * 20) + " https://a-very-long-host-name.example.com:8443/path"
    wrapped = fit(text, 30).splitlines()
    assert all(line.startswith("  ") for line in wrapped)
    assert wrapped[-1].strip() == "https://a-very-long-host-name.example.com:8443/path"
    assert all(len(line) <= 30 for line in wrapped[:-1])
    assert " ".join(text.split()) == " ".join(" ".join(wrapped).split())
