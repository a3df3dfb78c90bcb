"""Issue 21, items 8 and 9: the files of real Pipecat projects and the README's own examples.

Item 8: the ``pcc-deploy.toml`` that the current pipecat CLI's ``pipecat init`` (pipecat-ai[cli]
1.14) writes, with ``agent_profile``, ``[krisp_viva]`` and ``[scaling]`` (tab-indented, as its
template is), is read without error; keys ``pipecat cloud deploy`` refuses are refused too, with
nothing sent. Item 9: ``watch`` follows every file and every set of a target; every hint that
suggests a command works when followed; init's ``.gitignore`` ignores every ``.env.*`` with values
and never a template. The fixtures are our own, shaped like those projects.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pcc_env.deploy_config import read_deploy_config
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import ConfigError
from tests.cli_helpers import ROOT
from tests.cli_helpers import run_against as cli
from tests.cli_helpers import write_requests as writes

# Shaped like the 1.14 template's output for a bot with Krisp (tabs, blank lines where its
# template's conditionals were), plus the tables the CLI also accepts.
PIPECAT_INIT_DEPLOY = (
    'agent_name = "my-voice-bot"\n'
    'secret_set = "my-voice-bot-secrets"\n'
    "\n"
    'agent_profile = "agent-1x"\n'
    "\n"
    "[krisp_viva]\n"
    '\taudio_filter = "tel"\n'
    "\n\n"
    "[scaling]\n"
    "\tmin_agents = 1\n"
)
EVERY_KEY_DEPLOY = (
    'agent_name = "full"\nsecret_set = "full-secrets"\nregion = "us-west"\n'
    'image = "registry.example/full:1"\nimage_credentials = "pull"\n'
    'websocket_auth = "token"\nmax_session_duration = 600\narchitecture = "arm64"\n'
    '[scaling]\nmin_agents = 0\nmax_agents = 3\n[krisp_viva]\naudio_filter = "pro"\n'
    '[docker]\nauto_latest = true\n[build]\ncontext_dir = "."\ndockerfile = "Dockerfile"\n'
    '[build.exclude]\npatterns = ["*.md"]\n'
)
REFUSED_DEPLOYS = {
    "enable_krisp": 'agent_name = "b"\nsecret_set = "b-secrets"\nenable_krisp = true\n',
    "unknown top-level key": 'agent_name = "b"\nsecret_set = "b-secrets"\nsecrets_set = "x"\n',
    "unknown key in [scaling]": 'secret_set = "b-secrets"\n[scaling]\nmin_agent = 1\n',
    "unknown key in [krisp_viva]": 'secret_set = "b-secrets"\n[krisp_viva]\nfilter = "tel"\n',
    "[scaling] not a table": 'secret_set = "b-secrets"\nscaling = 1\n',
}


# Item 8 ---------------------------------------------------------------------------------------


def test_deploy_file_of_pipecat_init_1_14_is_read(tmp_path: Path) -> None:
    (tmp_path / "pcc-deploy.toml").write_text(PIPECAT_INIT_DEPLOY)
    deploy = read_deploy_config(tmp_path / "pcc-deploy.toml")
    assert (deploy.agent_name, deploy.secret_set) == ("my-voice-bot", "my-voice-bot-secrets")
    (tmp_path / "every.toml").write_text(EVERY_KEY_DEPLOY)
    assert read_deploy_config(tmp_path / "every.toml").region == "us-west"


def test_push_and_check_use_the_pipecat_init_1_14_deploy_file(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    (tmp_path / "pcc-deploy.toml").write_text(PIPECAT_INIT_DEPLOY)
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-deploy-1\n")
    r = cli(emulator, tmp_path, "push", "--yes")
    assert r.code == 0, r.output
    assert emulator.emulator.store.get_set("my-voice-bot-secrets").keys == ["OPENAI_API_KEY"]
    r = cli(emulator, tmp_path, "check")
    assert r.code == 0, r.output
    assert "sk-CANARY" not in r.output


@pytest.mark.parametrize("case", sorted(REFUSED_DEPLOYS))
def test_keys_pipecat_cloud_deploy_refuses_are_refused_and_nothing_is_sent(
    emulator: EmulatorServer, tmp_path: Path, case: str
) -> None:
    (tmp_path / "pcc-deploy.toml").write_text(REFUSED_DEPLOYS[case])
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-CANARY-deploy-2\n")
    with pytest.raises(ConfigError, match=r"pcc-deploy\.toml"):
        read_deploy_config(tmp_path / "pcc-deploy.toml")
    r = cli(emulator, tmp_path, "push", "--yes", "--set", "b-secrets")
    assert r.code == 2, r.output
    assert "pcc-deploy.toml" in r.stderr and "sk-CANARY" not in r.output
    assert writes(emulator) == 0


def _pipecatcloud_python() -> Path:
    cli_path = os.environ.get("PCC_ENV_PIPECAT_CLI") or str(ROOT / ".venv-pipecat/bin/pipecat")
    python = Path(cli_path).parent / "python"
    if not python.exists():
        pytest.skip(f"the pipecat CLI is not installed beside {cli_path}; run 'make test'")
    return python


LOAD_WITH_PIPECATCLOUD = """
import sys
import pipecatcloud.cli.config as config
from pipecatcloud._utils.deploy_utils import load_deploy_config_file
config.deploy_config_path = sys.argv[1]
try:
    print("accepted" if load_deploy_config_file() is not None else "unread")
except Exception:
    print("refused")
"""


def test_pcc_env_accepts_exactly_the_deploy_files_pipecat_cloud_deploy_accepts(
    tmp_path: Path,
) -> None:
    """Differential: the real pipecatcloud loader and ours agree on every fixture."""
    python = _pipecatcloud_python()
    cases = {"pipecat init": PIPECAT_INIT_DEPLOY, "every key": EVERY_KEY_DEPLOY, **REFUSED_DEPLOYS}
    for name, text in cases.items():
        path = tmp_path / f"{len(os.listdir(tmp_path))}.toml"
        path.write_text(text)
        theirs = subprocess.run(
            [str(python), "-c", LOAD_WITH_PIPECATCLOUD, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(tmp_path)},
        ).stdout.strip()
        try:
            read_deploy_config(path)
            ours = "accepted"
        except ConfigError:
            ours = "refused"
        assert (name, ours) == (name, theirs)
