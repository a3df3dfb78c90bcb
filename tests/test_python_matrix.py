"""Every supported Python (``requires-python = ">=3.10"``): ``make matrix`` runs this file, with a
subset of the suite, on each interpreter from 3.10 to 3.13 the machine has.

On 3.10 there is no ``tomllib``: reading ``pcc-deploy.toml`` (the runtime reads its secret set,
the CLI its agent and region) and ``pyproject.toml`` needs ``tomli``, which pcc-env declares for
Python < 3.11 in its core dependencies (pytest brings tomli too, so a test venv alone proves
nothing: the test below blocks the import to show the need, and reads the declaration).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from tests.cli_helpers import ROOT, run_cli

CANARY = "sk-CANARY-matrix-93d1"


def _project_data() -> dict[str, object]:
    text = (ROOT / "pyproject.toml").read_text()
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    import tomli

    data: dict[str, object] = tomli.loads(text)
    return data


def test_tomli_is_a_core_dependency_below_3_11() -> None:
    from packaging.requirements import Requirement

    project = _project_data()["project"]
    assert isinstance(project, dict)
    reqs = [Requirement(r) for r in project["dependencies"]]
    (tomli,) = [r for r in reqs if r.name == "tomli"]
    assert tomli.marker is not None
    assert tomli.marker.evaluate({"python_version": "3.10"})
    assert not tomli.marker.evaluate({"python_version": "3.11"})


def test_reading_toml_needs_tomli_only_below_3_11(tmp_path: Path) -> None:
    """With tomli made unimportable, 3.10 says what to install and 3.11+ reads the file."""
    (tmp_path / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "bot-secrets"\n')
    code = (
        "import sys\nsys.modules['tomli'] = None\n"
        "from pcc_env.deploy_config import read_deploy_config\nfrom pcc_env.errors import "
        "ConfigError\ntry:\n    print(read_deploy_config('pcc-deploy.toml').secret_set)\n"
        "except ConfigError as exc:\n    print('ConfigError', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if sys.version_info >= (3, 11):
        assert out.stdout.strip() == "bot-secrets", out.stderr
    else:
        assert "needs 'pip install tomli'" in out.stdout, out.stderr


def test_the_cli_reads_the_deploy_file_and_pushes(tmp_path: Path, emulator: EmulatorServer) -> None:
    """CLI smoke on this interpreter: push and check read pcc-deploy.toml and pyproject.toml."""
    (tmp_path / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "matrix-set"\n')
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "bot"\nversion = "0"\n')
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={CANARY}\nLOG_LEVEL=debug\n")
    env = {
        "PIPECAT_API_HOST": emulator.api_host,
        "PIPECAT_API_KEY": emulator.token,
        "PCC_ENV_DATA_DIR": str(tmp_path / "state"),
    }
    r = run_cli("push", "--yes", cwd=tmp_path, env=env)
    assert r.code == 0, r.output
    r = run_cli("secrets", "list", "--json", cwd=tmp_path, env=env)
    assert r.code == 0, r.output
    assert "matrix-set" in r.stdout
    r = run_cli("check", "--json", cwd=tmp_path, env=env)
    assert json.loads(r.stdout)["findings"], r.output
    assert all(CANARY not in x for x in (r.output,))


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Pipecat's scaffolds need 3.11+")
def test_the_runtime_loads_a_model_with_the_deploy_files_set(tmp_path: Path) -> None:
    """What a bot does at start-up on the base image's Python (3.12) and the scaffolds' (3.11)."""
    (tmp_path / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "bot-secrets"\n')
    code = (
        "from pydantic import SecretStr\nfrom pcc_env import SecretSettings, load_settings\n"
        "class S(SecretSettings):\n    openai_api_key: SecretStr\n"
        "s = load_settings(S)\nimport sys\n"
        "print(s.openai_api_key.get_secret_value() == sys.argv[1], 'httpx' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, CANARY],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OPENAI_API_KEY": CANARY},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.split() == ["True", "False"], out.stderr
    assert CANARY not in out.stdout + out.stderr
