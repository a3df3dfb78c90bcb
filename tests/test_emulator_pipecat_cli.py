"""The real ``pipecat cloud`` CLI (pipecatcloud 1.4.0) against the emulator: secrets, deploy, agent.

It is installed by ``make test`` into its own venv (.venv-pipecat) so its pins stay out of ours;
``PCC_ENV_PIPECAT_CLI`` names its ``pipecat`` executable.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import pipecat_cli_path

ROOT = Path(__file__).resolve().parent.parent


class Pipecat:
    def __init__(self, exe: str, emulator: EmulatorServer, home: Path) -> None:
        self.exe = exe
        self.emulator = emulator
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "NO_COLOR": "1",
            **emulator.env(),
        }
        self.rest = httpx.Client(
            base_url=emulator.api_host, headers={"Authorization": f"Bearer {emulator.token}"}
        )

    def __call__(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.exe, "cloud", "secrets", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    def keys(self, name: str) -> list[str]:
        return [s["fieldName"] for s in self.rest.get(f"/v1/secrets/{name}").json()["secrets"]]


@pytest.fixture
def pipecat(tmp_path: Path) -> Iterator[Pipecat]:
    exe = pipecat_cli_path()
    with run_emulator(provision_delay=0.0) as emu:
        cli = Pipecat(exe, emu, tmp_path)
        yield cli
        cli.rest.close()


def test_set_with_arguments(pipecat: Pipecat) -> None:
    r = pipecat("set", "my-secrets", "A=simple", "B=value with spaces", 'C=say "hi"', "--skip")
    assert r.returncode == 0, r.stderr
    assert pipecat.keys("my-secrets") == ["A", "B", "C"]
    emu = pipecat.emulator
    assert emu.check_value("my-secrets", "A", "simple")
    assert emu.check_value("my-secrets", "B", "value with spaces")
    assert emu.check_value("my-secrets", "C", 'say "hi"')
    # The real CLI sends one PUT per key, on the organization surface.
    assert emu.stats()["requests"]["PUT /v1/organizations/{org}/secrets/{setName}"] == 3


def test_real_cli_splits_double_equals_at_the_first_equals(pipecat: Pipecat) -> None:
    """API-NOTES: the real CLI stores '=value' for KEY==value (pcc-env follows the docs)."""
    assert pipecat("set", "eq-set", "K==v=w", "--skip").returncode == 0
    assert pipecat.emulator.check_value("eq-set", "K", "=v=w")


def test_set_from_file(pipecat: Pipecat, tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text('# comment\nAPI_KEY=abc123\nDB_URL="postgres://u:p@h/db"\n')
    r = pipecat("set", "file-set", "--file", str(env_file), "--skip")
    assert r.returncode == 0, r.stderr
    assert pipecat.keys("file-set") == ["API_KEY", "DB_URL"]
    assert pipecat.emulator.check_value("file-set", "DB_URL", "postgres://u:p@h/db")


def test_set_in_region_and_invalid_region(pipecat: Pipecat) -> None:
    assert pipecat("set", "eu-set", "K=v", "--region", "eu-central", "--skip").returncode == 0
    assert pipecat.rest.get("/v1/secrets/eu-set").json()["region"] == "eu-central"
    # changing the region of an existing set is refused by the service
    assert pipecat("set", "eu-set", "K=v", "--region", "us-east", "--skip").returncode != 0
    assert pipecat.rest.get("/v1/secrets/eu-set").json()["region"] == "eu-central"


def test_list(pipecat: Pipecat) -> None:
    empty = pipecat("list")
    assert empty.returncode == 1  # the real CLI exits 1 on an empty list
    pipecat("set", "list-set", "K=v", "--skip")
    r = pipecat("list")
    assert r.returncode == 0, r.stderr
    assert "list-set" in r.stdout and "us-west" in r.stdout and "ready" in r.stdout


def test_list_name(pipecat: Pipecat) -> None:
    pipecat("set", "named-set", "ALPHA=1", "BETA=2", "--skip")
    r = pipecat("list", "named-set")
    assert r.returncode == 0, r.stderr
    assert "ALPHA" in r.stdout and "BETA" in r.stdout and "ready" in r.stdout
    assert pipecat("list", "missing-set").returncode == 1


def test_unset(pipecat: Pipecat) -> None:
    pipecat("set", "unset-set", "A=1", "B=2", "--skip")
    assert pipecat("unset", "unset-set", "A", "--skip").returncode == 0
    assert pipecat.keys("unset-set") == ["B"]
    missing = pipecat("unset", "unset-set", "A", "--skip")
    assert missing.returncode == 1


def test_delete(pipecat: Pipecat) -> None:
    pipecat("set", "delete-set", "A=1", "--skip")
    assert pipecat("delete", "delete-set", "--skip").returncode == 0
    assert pipecat.rest.get("/v1/secrets/delete-set").status_code == 404
    assert pipecat("delete", "delete-set", "--skip").returncode == 1


def test_image_pull_secret(pipecat: Pipecat) -> None:
    r = pipecat("image-pull-secret", "pull-creds", "https://ghcr.io", "user:tok3n", "--skip")
    assert r.returncode == 0, r.stderr
    (entry,) = pipecat.rest.get("/v1/secrets").json()["sets"]
    assert (entry["name"], entry["type"]) == ("pull-creds", "imagePullSecret")
    expected = base64.b64encode(b"user:tok3n").decode()
    assert pipecat.emulator.check_value("pull-creds", None, expected)
    # updating it again works; turning a regular set into one does not
    assert (
        pipecat("image-pull-secret", "pull-creds", "https://ghcr.io", "u:t2", "--skip").returncode
        == 0
    )
    pipecat("set", "plain-set", "K=v", "--skip")
    assert (
        pipecat("image-pull-secret", "plain-set", "https://ghcr.io", "u:t", "--skip").returncode
        != 0
    )


def test_organization_discovered_without_pipecat_org(pipecat: Pipecat) -> None:
    env = dict(pipecat.env)
    del env["PIPECAT_ORG"]
    r = subprocess.run(
        [pipecat.exe, "cloud", "secrets", "set", "org-set", "K=v", "--skip"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert pipecat.emulator.stats()["requests"]["GET /v1/organizations"] >= 1
    assert pipecat.keys("org-set") == ["K"]


def test_wrong_token_is_refused(pipecat: Pipecat) -> None:
    r = pipecat("set", "auth-set", "K=v", "--skip", env={"PIPECAT_TOKEN": "not-the-token"})
    assert r.returncode != 0
    assert pipecat.rest.get("/v1/secrets/auth-set").status_code == 404
    assert pipecat.emulator.stats()["statuses"].get("401", 0) >= 1


# Deploy and agent commands ---------------------------------------------------------------------


def _deploy_project(tmp_path: Path, region: str = "us-west", agent: str = "my-agent") -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "pcc-deploy.toml").write_text(
        f'agent_name = "{agent}"\nimage = "me/agent:1"\nsecret_set = "deploy-set"\n'
        f'region = "{region}"\n'
    )
    return project


def _cloud(
    pipecat: Pipecat, cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``pipecat cloud ARGS`` in ``cwd``, without a terminal (so no prompt can wait)."""
    return subprocess.run(
        [pipecat.exe, "cloud", *args],
        env=pipecat.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def _output(r: subprocess.CompletedProcess[str]) -> str:
    return " ".join((r.stdout + r.stderr).split())  # rich wraps long lines


@pytest.fixture
def deployer(tmp_path: Path) -> Iterator[Pipecat]:
    """Deploys are reconciled at once: the CLI polls every 5 s, so its first poll must see the
    deployment ready (or failed)."""
    exe = pipecat_cli_path()
    with run_emulator(provision_delay=0.0, deploy_delay=0.0, fail_agents=["broken-*"]) as emu:
        cli = Pipecat(exe, emu, tmp_path)
        yield cli
        cli.rest.close()


def test_deploy_with_a_ready_set(deployer: Pipecat, tmp_path: Path) -> None:
    project = _deploy_project(tmp_path)
    assert deployer("set", "deploy-set", "API_KEY=v1", "--skip").returncode == 0
    r = _cloud(deployer, project, "deploy", "--yes")
    assert r.returncode == 0, _output(r)
    assert "is ready" in _output(r)
    agent = deployer.rest.get("/v1/agents/my-agent").json()
    assert agent["deployment"]["manifest"]["spec"] == {
        "image": "me/agent:1",
        "envFromSecretNames": ["deploy-set"],
    }
    assert agent["ready"] and agent["reconciledDeploymentId"] == agent["desiredDeploymentId"]
    first = agent["desiredDeploymentId"]
    emu = deployer.emulator
    assert emu.stats()["requests"]["POST /v1/organizations/{org}/services"] == 1

    # a new value, then a plain deploy: the CLI prints the service's warning, nothing changes
    assert deployer("set", "deploy-set", "API_KEY=v2", "--skip").returncode == 0
    plain = _cloud(deployer, project, "deploy", "--yes")
    assert plain.returncode == 0, _output(plain)
    assert "Warning: No changes detected" in _output(plain)
    assert deployer.rest.get("/v1/agents/my-agent").json()["desiredDeploymentId"] == first
    stale = emu.agent_generations("my-agent")
    assert stale is not None and stale["sets"]["deploy-set"] == {"deployed": 1, "current": 2}

    # --force makes a new deployment, which runs the latest write
    forced = _cloud(deployer, project, "deploy", "--force")
    assert forced.returncode == 0, _output(forced)
    assert "Warning" not in _output(forced)
    current = emu.agent_generations("my-agent")
    assert current is not None and current["deploymentId"] != first
    assert current["ready"] and current["sets"]["deploy-set"] == {"deployed": 2, "current": 2}
    assert emu.stats()["requests"]["PUT /v1/organizations/{org}/services"] == 2


def test_deploy_with_a_pending_set_is_refused() -> None:
    exe = pipecat_cli_path()
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_emulator(provision_delay=600.0, deploy_delay=0.0) as emu,
    ):
        pipecat = Pipecat(exe, emu, Path(tmp))
        project = _deploy_project(Path(tmp))
        assert pipecat("set", "deploy-set", "API_KEY=v1", "--skip").returncode == 0
        r = _cloud(pipecat, project, "deploy", "--yes")
        assert r.returncode != 0
        assert (
            "Secret set 'deploy-set' is not yet ready. Retry once it has been provisioned."
            in _output(r)
        )
        assert pipecat.rest.get("/v1/agents/my-agent").status_code == 404
        pipecat.rest.close()


def test_deploy_with_a_set_in_another_region_is_refused(deployer: Pipecat, tmp_path: Path) -> None:
    project = _deploy_project(tmp_path, region="us-west")
    r = deployer("set", "deploy-set", "API_KEY=v1", "--region", "us-east", "--skip")
    assert r.returncode == 0
    r = _cloud(deployer, project, "deploy", "--yes")
    assert r.returncode != 0
    assert (
        "Secret set 'deploy-set' is in region 'us-east' but service will be created in region "
        "'us-west'. Secrets must be in the same region as the service." in _output(r)
    )
    assert deployer.rest.get("/v1/agents/my-agent").status_code == 404


def test_deploy_of_a_failing_agent_exits_non_zero(deployer: Pipecat, tmp_path: Path) -> None:
    project = _deploy_project(tmp_path, agent="broken-agent")
    assert deployer("set", "deploy-set", "API_KEY=v1", "--skip").returncode == 0
    r = _cloud(deployer, project, "deploy", "--yes")
    assert r.returncode != 0
    assert "PCC_UNKNOWN_ERROR" in _output(r)
    revision = deployer.rest.get("/v1/agents/broken-agent").json()["currentRevision"]
    assert revision["phase"] == "Failed"


def test_agent_list_and_status(deployer: Pipecat, tmp_path: Path) -> None:
    empty = _cloud(deployer, tmp_path, "agent", "list")
    assert empty.returncode == 1  # the real CLI exits 1 when there is no agent
    project = _deploy_project(tmp_path)
    assert deployer("set", "deploy-set", "API_KEY=v1", "--skip").returncode == 0
    assert _cloud(deployer, project, "deploy", "--yes").returncode == 0
    agent = deployer.rest.get("/v1/agents/my-agent").json()

    listed = _cloud(deployer, tmp_path, "agent", "list")
    assert listed.returncode == 0, _output(listed)
    out = _output(listed)
    assert "my-agent" in out and "us-west" in out and agent["desiredDeploymentId"] in out
    assert agent["id"] in out

    status = _cloud(deployer, tmp_path, "agent", "status", "my-agent")
    assert status.returncode == 0, _output(status)
    out = _output(status)
    assert "Ready: True" in out and "Deployment Phase: Active" in out
    assert "Image: me/agent:1" in out and agent["desiredDeploymentId"] in out

    missing = _cloud(deployer, tmp_path, "agent", "status", "no-such-agent")
    assert missing.returncode == 1
