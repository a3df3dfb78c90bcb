"""What walking real projects (init → push → deploy → rotate → status → redeploy) turned up,
each as a fixture of its own pattern."""

from __future__ import annotations

import json
from pathlib import Path

from pcc_env.dotenv_file import RECORD_PREFIX, TemplateEntry, update_template
from pcc_env.emulator.server import EmulatorServer
from pcc_env.revision import user_keys
from tests.cli_helpers import run_cli
from tests.test_no_leaks import Canaries


def test_the_record_line_does_not_split_a_heading_from_its_key() -> None:
    # Pipecat templates start with a group heading right above its key ("# Daily credentials").
    existing = "# Daily credentials\nDAILY_API_KEY=\n\n# Service keys\nOPENAI_API_KEY=\n"
    lines = update_template(
        existing, [TemplateEntry("DAILY_API_KEY"), TemplateEntry("OPENAI_API_KEY")]
    ).splitlines()
    assert lines[0].startswith(RECORD_PREFIX)
    assert lines[1:3] == ["# Daily credentials", "DAILY_API_KEY="]


SERVER_AND_BOT_MODEL = """\
from pydantic import SecretStr

from pcc_env import SecretSettings


class Settings(SecretSettings):
    openai_api_key: SecretStr
"""


def test_an_empty_key_only_another_program_reads_is_not_sent_and_not_refused(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    # A telephony template copied to .env: the server's PIPECAT_API_KEY (read by server.py,
    # outside the agent) left empty. The model does not hold it: empty means unset, as for a
    # field with a default, instead of refusing the whole file.
    (tmp_path / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "walk-secrets"\n')
    (tmp_path / "settings.py").write_text(SERVER_AND_BOT_MODEL)
    (tmp_path / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "settings:Settings"\n')
    canaries = Canaries()
    key = canaries.new()
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={key}\nPIPECAT_API_KEY=\n")
    env = {"PCC_ENV_DATA_DIR": str(tmp_path / ".state"), "PIPECAT_API_HOST": emulator.api_host}
    env["PIPECAT_API_KEY"] = emulator.token
    r = run_cli("push", "--dry-run", env=env, cwd=tmp_path)
    assert r.code == 0, r.output
    assert "PIPECAT_API_KEY empty: not in the settings model, not sent" in r.stdout
    r = run_cli("push", "--dry-run", "--json", env=env, cwd=tmp_path)
    assert json.loads(r.stdout)["plan"]["emptyNotInModel"] == ["PIPECAT_API_KEY"]
    r = run_cli("push", "--yes", env=env, cwd=tmp_path)
    assert r.code == 0, r.output
    assert user_keys(emulator.stats()["writes"][-1]["keys"]) == ["OPENAI_API_KEY"]
    # A key of the model left empty is refused as before, before any request.
    (tmp_path / ".env").write_text("OPENAI_API_KEY=\nPIPECAT_API_KEY=\n")
    writes = len(emulator.stats()["writes"])
    r = run_cli("push", "--yes", env=env, cwd=tmp_path)
    assert r.code == 2 and "empty values for 'OPENAI_API_KEY'" in r.stderr, r.output
    assert len(emulator.stats()["writes"]) == writes
    canaries.assert_absent(r.output, "push output")
    # With no model to tell, an empty key is still refused.
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "settings.py").unlink()
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={key}\nPIPECAT_API_KEY=\n")
    r = run_cli("push", "--yes", env=env, cwd=tmp_path)
    assert r.code == 2 and "empty values for 'PIPECAT_API_KEY'" in r.stderr, r.output
