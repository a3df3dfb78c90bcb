"""Walking real projects as a team (laptop A, laptop B, a CI runner; 2026-12-06): what turned
up, each as a test (failing before its fix) with a small fixture project of its own pattern
(never a copy of a real project's code), against the emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import emulator_api as api
from tests.cli_helpers import run_cli
from tests.cli_helpers import run_on_machine as cli

SET = "walk-s27-secrets"

# A bot whose model holds two secrets and one optional setting with a default (a model name
# read with os.getenv("...") and passed on, as Pipecat's scaffolds do).
MODEL = """\
from pydantic import Field, SecretStr

from pcc_env import SecretSettings


class Settings(SecretSettings):
    stt_api_key: SecretStr = Field(description="STT key")
    llm_api_key: SecretStr = Field(description="LLM key")
    llm_model: str | None = Field(None, description="LLM model (default: the service's)")
"""

BOT = """\
from pcc_env import load_settings

from settings import Settings


def main() -> None:
    settings = load_settings(Settings)
    print(settings.llm_model)
"""

# A telephony server that dials the agent through Pipecat Cloud's API: it reads the
# organization's private API key, outside the agent.
SERVER = """\
import os


def start_agent() -> str:
    return os.getenv("PIPECAT_API_KEY", "")
"""


@pytest.fixture
def emu() -> Any:
    with run_emulator(provision_delay=0.05, deploy_delay=0.05) as server:
        yield server


def project(tmp_path: Path, name: str, env: str) -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "pcc-deploy.toml").write_text(f'agent_name = "walk-bot"\nsecret_set = "{SET}"\n')
    (root / "settings.py").write_text(MODEL)
    (root / "bot.py").write_text(BOT)
    (root / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "settings:Settings"\n')
    (root / ".env").write_text(env)
    return root


def holds(emu: EmulatorServer, key: str, value: str) -> bool:
    body = {"set": SET, "key": key, "value": value}
    return bool(api(emu, "POST", "/_emulator/check-value", body)["matches"])


def plan_json(emu: EmulatorServer, cwd: Path) -> dict[str, Any]:
    r = cli(emu, cwd, "push", "--dry-run", "--json")
    assert r.code == 0, r.output
    return json.loads(r.stdout)["plan"]  # type: ignore[no-any-return]


# 1. A key this machine's own partial record does not cover is planned as '~ changed' ---------


def test_a_key_the_own_partial_record_does_not_cover_is_unknown_not_changed(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """Laptop A pushes both keys; laptop B pushes another STT key; A then writes only the LLM
    key (`secrets set`, or `watch`'s later sync: the same record covering only what it sent).
    A's file still holds its first STT key, unchanged since A's push, and the set holds B's.
    docs/teams.md: "that write's record vouches only for the keys it sends ... every machine
    says `?` for them". A's plan says `~ STT_API_KEY` (changed since A's last push) instead,
    and `"changed"` in --json; the same `~` shows when A's file equals what the set holds."""
    a = project(tmp_path, "a", "STT_API_KEY=sk-CANARY-walk-sttA\nLLM_API_KEY=sk-CANARY-walk-llmA\n")
    b = project(tmp_path, "b", "STT_API_KEY=sk-CANARY-walk-sttB\nLLM_API_KEY=sk-CANARY-walk-llmA\n")
    assert cli(emu, a, "push").code == 0
    assert cli(emu, b, "push").code == 0
    (tmp_path / "one.env").write_text("LLM_API_KEY=sk-CANARY-walk-llmA2\n")
    r = cli(emu, a, "secrets", "set", SET, "--file", str(tmp_path / "one.env"))
    assert r.code == 0, r.output
    (a / ".env").write_text("STT_API_KEY=sk-CANARY-walk-sttA\nLLM_API_KEY=sk-CANARY-walk-llmA2\n")
    assert holds(emu, "STT_API_KEY", "sk-CANARY-walk-sttB")  # the truth: B's value

    plan = plan_json(emu, a)
    assert plan["unchanged"] == ["LLM_API_KEY"]
    assert "STT_API_KEY" in plan["unknown"], plan  # fails: it is in plan["changed"]

    # A's file now holds exactly what the set holds: still '~ changed'.
    (a / ".env").write_text("STT_API_KEY=sk-CANARY-walk-sttB\nLLM_API_KEY=sk-CANARY-walk-llmA2\n")
    r = cli(emu, a, "push", "--dry-run")
    assert "~ STT_API_KEY" not in r.stdout, r.output


# 2. "KEY empty: default used, not sent" while the set keeps another machine's value ----------


def test_an_empty_key_is_not_said_to_use_the_default_while_the_set_holds_a_value(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """Laptop B sets LLM_MODEL and pushes; laptop A's .env has LLM_MODEL= (empty: "the default
    applies", as the template says). A's push plan says `LLM_MODEL empty: default used, not
    sent`, then "Nothing to push: ... already has these values", and `kept on the remote (not
    in the file ...)` although the key is in the file. The set, and so every agent deployed
    from it, holds B's model name: the default is not used anywhere."""
    a = project(
        tmp_path,
        "a",
        "STT_API_KEY=sk-CANARY-walk-stt\nLLM_API_KEY=sk-CANARY-walk-llm\nLLM_MODEL=\n",
    )
    b = project(
        tmp_path,
        "b",
        "STT_API_KEY=sk-CANARY-walk-stt\nLLM_API_KEY=sk-CANARY-walk-llm\nLLM_MODEL=model-b-2.5\n",
    )
    assert cli(emu, b, "push").code == 0
    first = cli(emu, a, "push")
    assert first.code == 0, first.output
    again = cli(emu, a, "push")
    assert holds(emu, "LLM_MODEL", "model-b-2.5")  # the truth: the agent gets B's value
    for r in (first, again):
        assert "LLM_MODEL empty: default used" not in r.stdout, r.output
        kept = [ln for ln in r.stdout.splitlines() if ln.strip().startswith("kept on the remote")]
        assert not any("not in the file" in ln and "LLM_MODEL" in ln for ln in kept), r.output


# 3. A key only a server outside the agent reads (the org's private API key) is sent silently --


def test_the_private_api_key_a_server_reads_is_not_pushed_into_the_agents_set_silently(
    emu: EmulatorServer, tmp_path: Path
) -> None:
    """A telephony project: bot.py (the agent) and server.py (a webhook server, outside the
    agent) that reads PIPECAT_API_KEY, the organization's private key. `init` knows ("Left out
    'PIPECAT_API_KEY' (read outside the agent only)"); the template keeps `PIPECAT_API_KEY=`, a
    teammate fills it in, and `push` plans `+ PIPECAT_API_KEY` like any key and sends it into
    the agent's secret set, mounted in every deployment, with no word. Left empty it is "not
    in the settings model, not sent"; filled, it deserves at least the same note (or a refusal
    without a flag)."""
    a = project(
        tmp_path,
        "a",
        "STT_API_KEY=sk-CANARY-walk-stt\nLLM_API_KEY=sk-CANARY-walk-llm\n"
        "PIPECAT_API_KEY=pk_CANARY-walk-private\n",
    )
    (a / "server.py").write_text(SERVER)
    r = cli(emu, a, "push", "--dry-run")
    assert r.code == 0, r.output
    line = next(ln for ln in r.stdout.splitlines() if "PIPECAT_API_KEY" in ln)
    assert "not in the settings model" in r.output or "outside the agent" in r.output, line
    # Fixed: a filled-in org key is left out of the set (said, and in --json), unless asked.
    assert "+ PIPECAT_API_KEY" not in r.stdout and "private API key, not sent" in r.stdout
    assert plan_json(emu, a)["withheld"] == ["PIPECAT_API_KEY"]
    assert cli(emu, a, "push").code == 0
    keys = [s["fieldName"] for s in api(emu, "GET", f"/v1/secrets/{SET}")["secrets"]]
    assert "PIPECAT_API_KEY" not in keys and "STT_API_KEY" in keys
    assert "pk_CANARY" not in r.output
    assert cli(emu, a, "push", "--allow-reserved").code == 0
    assert holds(emu, "PIPECAT_API_KEY", "pk_CANARY-walk-private")


def test_an_org_key_the_agents_model_holds_is_sent(emu: EmulatorServer, tmp_path: Path) -> None:
    """An agent that calls the Pipecat Cloud API itself declares the key in its model: sent."""
    a = project(tmp_path, "a", "STT_API_KEY=s\nLLM_API_KEY=l\nPIPECAT_API_KEY=pk_CANARY-own\n")
    (a / "settings.py").write_text(MODEL + "    pipecat_api_key: SecretStr\n")
    r = cli(emu, a, "push")
    assert r.code == 0, r.output
    assert holds(emu, "PIPECAT_API_KEY", "pk_CANARY-own") and "pk_CANARY" not in r.output


# 4. init's real run says the settings module "would not reach the image" after fixing it -----


def test_init_does_not_say_settings_miss_the_image_after_adding_the_copy_line(
    tmp_path: Path,
) -> None:
    """`pcc-env init --yes` on a bot whose Dockerfile copies bot.py alone writes `Wrote ...,
    Dockerfile.` (it added `COPY ./settings.py settings.py`), then says on stderr "settings.py
    would not reach the image: Dockerfile:N (COPY ./bot.py bot.py) copies bot.py alone": the
    state before its own change, which reads as if the fix failed."""
    root = tmp_path / "bot"
    root.mkdir()
    (root / "bot.py").write_text(
        "import os\n\n\ndef main() -> None:\n"
        '    key = os.getenv("LLM_API_KEY")\n    print(bool(key))\n'
    )
    (root / "Dockerfile").write_text("FROM dailyco/pipecat-base:latest\nCOPY ./bot.py bot.py\n")
    (root / "pcc-deploy.toml").write_text(f'agent_name = "walk-bot"\nsecret_set = "{SET}"\n')
    r = run_cli("init", "--yes", cwd=root, env={"PCC_ENV_DATA_DIR": str(root / ".state")})
    assert r.code == 0, r.output
    assert "COPY ./settings.py settings.py" in (root / "Dockerfile").read_text()
    # The plan (shown before the write) gives the reason as the edit's, never as the state left.
    reason = [ln for ln in r.output.splitlines() if "would not reach the image" in ln]
    assert reason and all(ln.startswith("Why the edit: as it stands,") for ln in reason), r.output


def test_no_canary_in_the_data_dirs(emu: EmulatorServer, tmp_path: Path) -> None:
    """Control: the walk found no value in push state, templates or build contexts."""
    a = project(tmp_path, "a", "STT_API_KEY=sk-CANARY-walk-stt\nLLM_API_KEY=sk-CANARY-walk-llm\n")
    assert cli(emu, a, "push").code == 0
    time.sleep(0.01)
    for path in (a / ".state").rglob("*"):
        if path.is_file():
            assert "CANARY" not in path.read_text(errors="replace")
