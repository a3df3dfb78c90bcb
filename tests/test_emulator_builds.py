"""Cloud Build on the emulator, through the real ``pipecat cloud deploy`` with no image.

The CLI (pipecatcloud 1.4.0, ``PCC_ENV_PIPECAT_CLI`` or .venv-pipecat) tars the project,
asks ``/builds/upload-url``, uploads to the URL it gets (the emulator's own, on 127.0.0.1),
creates the build, polls it and deploys ``buildId``. The emulator reads the Dockerfile against
the files it received: a COPY of a file the context lacks fails the build as Docker would.
``/_emulator/builds/{id}`` shows the files received (paths and sizes), so these tests can
assert what reaches a build context and what never does.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import pipecat_cli_path, run_cli

ROOT = Path(__file__).resolve().parent.parent
CANARY = "sk-CANARY-build-ctx-5f1e0c"
CANARY_LOCAL = "sk-CANARY-build-local-77ab"

DOCKERFILE = """FROM dailyco/pipecat-base:latest

# Enable bytecode compilation
ENV UV_COMPILE_BYTECODE=1

COPY ./pyproject.toml ./uv.lock ./
RUN uv sync --locked --no-install-project --no-dev

COPY ./bot.py bot.py
COPY ./settings.py settings.py
"""
BOT = "from settings import Settings\n\nsettings = Settings()\n"
SETTINGS = (
    "from pcc_env.runtime import SecretStr, Settings as Base\n\n\n"
    "class Settings(Base):\n    daily_api_key: SecretStr\n"
)


class Cloud:
    """The real ``pipecat cloud`` against one emulator, plus a REST client with its token."""

    def __init__(self, exe: str, emulator: EmulatorServer, home: Path) -> None:
        self.exe = exe
        self.emulator = emulator
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "NO_COLOR": "1"}
        self.env.update(emulator.env())
        self.env["COLUMNS"] = "250"
        self.rest = httpx.Client(
            base_url=emulator.api_host, headers={"Authorization": f"Bearer {emulator.token}"}
        )

    def __call__(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.exe, "cloud", *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    def put_set(self, name: str, region: str = "us-west", **values: str) -> None:
        pairs = [{"secretKey": k, "secretValue": v} for k, v in values.items()]
        r = self.rest.put(f"/v1/secrets/{name}", json={"secrets": pairs, "region": region})
        assert r.status_code == 202, r.text

    def builds(self) -> list[dict[str, Any]]:
        builds: list[dict[str, Any]] = self.rest.get("/v1/builds").json()["builds"]
        return builds

    def received(self, build_id: str) -> list[str]:
        body = self.rest.get(f"/_emulator/builds/{build_id}").json()
        return [f["path"] for f in body["files"]]


def _output(r: subprocess.CompletedProcess[str]) -> str:
    return " ".join((r.stdout + r.stderr).split())  # rich wraps long lines


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    """Builds and deploys are done at once: the CLI polls every 5 s, and its first poll must
    see the outcome."""
    exe = pipecat_cli_path()
    with run_emulator(provision_delay=0.0, deploy_delay=0.0, build_delay=0.0) as emu:
        cli = Cloud(exe, emu, tmp_path / "home")
        yield cli
        cli.rest.close()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Cloud]:
    """The emulator over HTTP only (no pipecat CLI needed): builds and deploys done at once."""
    with run_emulator(provision_delay=0.0, deploy_delay=0.0, build_delay=0.0) as emu:
        client = Cloud("pipecat-not-used", emu, tmp_path / "home")
        yield client
        client.rest.close()


def _project(tmp_path: Path, dockerfile: str = DOCKERFILE, agent: str = "built-agent") -> Path:
    """A project as ``pipecat init`` + ``pcc-env init`` leave it: no image in pcc-deploy.toml."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pcc-deploy.toml").write_text(
        f'agent_name = "{agent}"\nsecret_set = "built-secrets"\nregion = "us-west"\n\n'
        "[scaling]\nmin_agents = 0\n"
    )
    (project / "Dockerfile").write_text(dockerfile)
    (project / "bot.py").write_text(BOT)
    (project / "settings.py").write_text(SETTINGS)
    (project / "pyproject.toml").write_text('[project]\nname = "bot"\nversion = "0.1.0"\n')
    (project / "uv.lock").write_text("version = 1\n")
    (project / "env.example").write_text("DAILY_API_KEY=\n")
    (project / ".env").write_text(f"DAILY_API_KEY={CANARY}\n")
    (project / ".env.local").write_text(f"DAILY_API_KEY={CANARY_LOCAL}\n")
    return project


def _no_canary(*texts: str) -> None:
    for text in texts:
        assert CANARY not in text and CANARY_LOCAL not in text


# The deploy users run --------------------------------------------------------------------------


def test_deploy_with_no_image_builds_the_context_and_runs_the_set(
    cloud: Cloud, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    # pcc-env pushes the .env (its push state in a data dir outside the project, the default)
    pushed = run_cli(
        "push", "--yes",
        cwd=project,
        env={
            "PIPECAT_API_HOST": cloud.emulator.api_host,
            "PIPECAT_API_KEY": cloud.emulator.token,
            "PCC_ENV_DATA_DIR": str(tmp_path / "data"),
        },
    )  # fmt: skip
    assert pushed.code == 0, pushed.output
    assert (tmp_path / "data" / "push-state.json").exists()

    r = cloud(project, "deploy", "--yes")
    out = _output(r)
    assert r.returncode == 0, out
    assert "No image specified, using Pipecat Cloud Build" in out and "Upload complete" in out
    (build,) = cloud.builds()
    assert build["status"] == "success" and f"Build started: {build['id']}" in out
    assert build["region"] == "us-west" and build["dockerfilePath"] == "Dockerfile"
    _no_canary(r.stdout, r.stderr)

    # the agent runs the image the build made, bound to the set, at its latest write
    agent = cloud.rest.get("/v1/agents/built-agent").json()
    assert agent["ready"]
    assert agent["deployment"]["manifest"]["spec"] == {
        "image": build["imageUri"],
        "envFromSecretNames": ["built-secrets"],
    }
    runs = cloud.emulator.agent_generations("built-agent")
    assert runs is not None and runs["sets"]["built-secrets"] == {"deployed": 1, "current": 1}
    assert cloud.emulator.check_value("built-secrets", "DAILY_API_KEY", CANARY)

    # the upload went to the emulator itself, over loopback, on the URL it handed out
    requests = cloud.emulator.stats()["requests"]
    assert requests["POST /v1/organizations/{org}/builds/upload-url"] == 1
    assert requests["POST /build-contexts"] == 1
    assert requests["POST /v1/organizations/{org}/builds"] == 1
    assert requests["GET /v1/organizations/{org}/builds/{buildId}"] >= 1

    # what reached the context: the project, its template; never a .env, nor pcc-env's state
    received = cloud.received(build["id"])
    assert {"Dockerfile", "bot.py", "settings.py", "env.example", "uv.lock"} <= set(received)
    assert not [p for p in received if Path(p).name == ".env" or Path(p).name.startswith(".env.")]
    assert "pcc-deploy.toml" not in received  # the CLI leaves it out too
    assert not [p for p in received if "push-state" in p or p.endswith(".sqlite3")]
    for path in received:  # no file that reached the build holds a value
        _no_canary((project / path).read_text(errors="replace"))
    copied = cloud.rest.get(f"/_emulator/builds/{build['id']}").json()["copied"]
    assert copied == ["pyproject.toml", "uv.lock", "bot.py", "settings.py"]


def test_a_second_deploy_of_the_same_context_uses_the_cached_build(
    cloud: Cloud, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    cloud.put_set("built-secrets", DAILY_API_KEY="v1")
    assert cloud(project, "deploy", "--yes").returncode == 0
    again = cloud(project, "deploy", "--yes")
    out = _output(again)
    assert again.returncode == 0, out
    assert "Cached Build Found" in out and "Warning: No changes detected" in out
    assert len(cloud.builds()) == 1


def test_a_build_fails_when_the_dockerfile_copies_settings_py_the_context_lacks(
    cloud: Cloud, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    (project / "settings.py").unlink()
    cloud.put_set("built-secrets", DAILY_API_KEY="v1")
    r = cloud(project, "deploy", "--yes")
    out = _output(r)
    assert r.returncode != 0
    assert "Build failed: Docker build failed: Dockerfile line 10: COPY failed: file not found " \
        "in build context or excluded by .dockerignore: stat ./settings.py: file does not " \
        "exist" in out  # fmt: skip
    (build,) = cloud.builds()
    assert build["status"] == "failed" and "imageUri" not in build
    assert f"build logs {build['id']}" in out
    assert cloud.rest.get("/v1/agents/built-agent").status_code == 404  # nothing deployed

    # the build log, through the real CLI: what each step copied, then where it stopped
    logs = cloud(tmp_path, "build", "logs", build["id"])
    text = logs.stdout
    assert logs.returncode == 0, _output(logs)
    assert "Step 3/6 : COPY ./pyproject.toml ./uv.lock ./" in text
    assert "---> copied pyproject.toml" in text and "---> copied bot.py" in text
    assert "Step 6/6 : COPY ./settings.py settings.py" in text
    assert "COPY failed: file not found in build context" in text
    assert "Phase complete: BUILD State: FAILED" in text
    # a deploy naming the failed build is refused
    refused = cloud.rest.post(
        "/v1/agents", json={"serviceName": "built-agent", "buildId": build["id"]}
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == f"Build '{build['id']}' has not succeeded (status: failed)"


def test_a_dockerignore_that_leaves_out_settings_py_fails_the_build(
    cloud: Cloud, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    # a .dockerignore replaces the CLI's own exclusions: it must list .env itself
    (project / ".dockerignore").write_text(".env\n.env.*\nsettings.py\n")
    cloud.put_set("built-secrets", DAILY_API_KEY="v1")
    r = cloud(project, "deploy", "--yes")
    assert r.returncode != 0
    assert "stat ./settings.py: file does not exist" in _output(r)
    (build,) = cloud.builds()
    received = cloud.received(build["id"])
    assert "settings.py" not in received and ".env" not in received
    assert ".dockerignore" in received and "pcc-deploy.toml" in received  # defaults replaced


def test_a_dockerignore_without_env_lets_env_reach_the_context(
    cloud: Cloud, tmp_path: Path
) -> None:
    """What the real CLI does: a .dockerignore replaces its defaults, .env included."""
    project = _project(tmp_path)
    (project / ".dockerignore").write_text("__pycache__\n")
    cloud.put_set("built-secrets", DAILY_API_KEY="v1")
    r = cloud(project, "deploy", "--yes")
    assert r.returncode == 0, _output(r)
    (build,) = cloud.builds()
    assert {".env", ".env.local"} <= set(cloud.received(build["id"]))
    _no_canary(
        r.stdout, r.stderr, json.dumps(cloud.rest.get(f"/_emulator/builds/{build['id']}").json())
    )


def test_a_build_made_to_fail_by_the_instrument(cloud: Cloud, tmp_path: Path) -> None:
    project = _project(tmp_path)
    cloud.put_set("built-secrets", DAILY_API_KEY="v1")
    r = cloud.rest.post("/_emulator/builds/fail-next", json={"message": "disk full (emulated)"})
    assert r.status_code == 200
    failed = cloud(project, "deploy", "--yes")
    assert failed.returncode != 0 and "Build failed: Docker build failed: disk full" in _output(
        failed
    )
    ok = cloud(project, "deploy", "--yes")  # only the next one failed; no cache of a failure
    assert ok.returncode == 0, _output(ok)
    assert [b["status"] for b in cloud.builds()] == ["success", "failed"]


@pytest.mark.parametrize(
    ("region", "message"),
    [
        (
            "us-east",
            "Secret set 'built-secrets' is in region 'us-east' but service will be created in "
            "region 'us-west'. Secrets must be in the same region as the service.",
        ),
    ],
)
def test_a_built_deploy_keeps_the_region_gate(
    cloud: Cloud, tmp_path: Path, region: str, message: str
) -> None:
    project = _project(tmp_path)
    cloud.put_set("built-secrets", region=region, DAILY_API_KEY="v1")
    r = cloud(project, "deploy", "--yes")
    assert r.returncode != 0
    assert message in _output(r)
    assert cloud.rest.get("/v1/agents/built-agent").status_code == 404


def test_a_built_deploy_keeps_the_not_ready_gate(tmp_path: Path) -> None:
    exe = pipecat_cli_path()
    with run_emulator(provision_delay=600.0, deploy_delay=0.0, build_delay=0.0) as emu:
        cloud = Cloud(exe, emu, tmp_path / "home")
        project = _project(tmp_path)
        cloud.put_set("built-secrets", DAILY_API_KEY="v1")
        r = cloud(project, "deploy", "--yes")
        cloud.rest.close()
    assert r.returncode != 0
    assert (
        "Secret set 'built-secrets' is not yet ready. Retry once it has been provisioned."
        in _output(r)
    )


# Agent logs ------------------------------------------------------------------------------------


def test_agent_logs_show_the_env_var_names_it_was_given_through_the_real_cli(
    cloud: Cloud, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    cloud.put_set("built-secrets", DAILY_API_KEY=CANARY, PCC_ENV_REVISION="r-3")
    assert cloud(project, "deploy", "--yes").returncode == 0
    r = cloud(tmp_path, "agent", "logs", "built-agent")
    assert r.returncode == 0, _output(r)
    assert "env from secret set 'built-secrets': DAILY_API_KEY, PCC_ENV_REVISION" in r.stdout
    assert "Application startup complete." in r.stdout
    _no_canary(r.stdout, r.stderr)
    assert "r-3" not in r.stdout
    assert cloud(tmp_path, "agent", "logs", "no-such-agent").returncode != 0


def test_agent_logs_per_the_openapi(api: Cloud, tmp_path: Path) -> None:
    api.put_set("logs-set", A_KEY="v")
    created = api.rest.post(
        "/v1/agents", json={"serviceName": "log-agent", "image": "me/a:1", "secretSet": "logs-set"}
    )
    assert created.status_code == 200, created.text
    first = created.json()["desiredDeploymentId"]
    api.put_set("logs-set", B_KEY="w")
    forced = api.rest.post("/v1/agents/log-agent", json={"forceRedeploy": True})
    second = forced.json()["desiredDeploymentId"]

    body = api.rest.get("/v1/agents/log-agent/logs", params={"limit": 100}).json()
    assert body["total"] == {"value": len(body["logs"]), "relation": "eq"}
    assert set(body["logs"][0]) == {"log", "timestamp", "deploymentId"}
    assert body["logs"][0]["deploymentId"] == second  # newest first by default
    asc = api.rest.get("/v1/agents/log-agent/logs", params={"limit": 100, "order": "asc"}).json()[
        "logs"
    ]
    assert asc == list(reversed(body["logs"]))
    only = api.rest.get(
        "/v1/agents/log-agent/logs", params={"deploymentId": first, "limit": 100}
    ).json()["logs"]
    assert {e["deploymentId"] for e in only} == {first}
    assert any(e["log"].endswith("env from secret set 'logs-set': A_KEY") for e in only)
    newest = api.rest.get(
        "/v1/agents/log-agent/logs", params={"deploymentId": second, "query": "secret set"}
    ).json()["logs"]
    assert [e["log"].rsplit(": ", 1)[1] for e in newest] == ["A_KEY, B_KEY"]
    total = body["total"]["value"]
    assert len(api.rest.get("/v1/agents/log-agent/logs").json()["logs"]) == min(10, total)
    page = api.rest.get("/v1/agents/log-agent/logs", params={"limit": 2, "offset": 1}).json()
    assert page["logs"] == body["logs"][1:3] and page["total"]["value"] == total
    missing = api.rest.get("/v1/agents/nobody/logs")
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "Not found", "code": "NOT_FOUND"},
    )
    assert api.rest.get("/v1/agents/log-agent/logs", params={"order": "up"}).status_code == 400


# The API, directly -----------------------------------------------------------------------------


def _tarball(files: dict[str, str]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _upload(emu: EmulatorServer, rest: httpx.Client, data: bytes, **fields: str) -> httpx.Response:
    grant = rest.post("/v1/builds/upload-url", json={"region": "us-west"}).json()
    assert grant["uploadUrl"] == f"{emu.api_host}/build-contexts"
    form = {**grant["uploadFields"], **fields}
    r = httpx.post(grant["uploadUrl"], data=form, files={"file": ("context.tar.gz", data)})
    return (
        r
        if r.status_code != 204
        else rest.post("/v1/builds", json={"uploadId": grant["uploadId"], "region": "us-west"})
    )


def test_the_upload_needs_the_signed_policy(api: Cloud) -> None:
    data = _tarball({"Dockerfile": "FROM x\n"})
    forged = _upload(api.emulator, api.rest, data, **{"X-Amz-Signature": "00" * 32})
    assert forged.status_code == 403
    assert (
        api.rest.post(
            "/v1/builds",
            json={"uploadId": "00000000-0000-0000-0000-000000000000", "region": "us-west"},
        ).status_code
        == 400
    )
    made = _upload(api.emulator, api.rest, data)
    assert made.status_code == 201, made.text
    assert made.json()["build"]["status"] == "success" and made.json()["cached"] is False
    assert api.rest.post("/v1/builds/upload-url", json={}).status_code == 400
    no_token = httpx.post(
        f"{api.emulator.api_host}/v1/builds/upload-url", json={"region": "us-west"}
    )
    assert no_token.status_code == 401


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"bot.py": ""}, "failed to read dockerfile: open Dockerfile: no such file or directory"),
        (
            {"Dockerfile": "FROM x\nCOPY app/ /app/\n", "bot.py": ""},
            "Dockerfile line 2: COPY failed: file not found in build context or excluded by "
            ".dockerignore: stat app/: file does not exist",
        ),
        (
            {"Dockerfile": "FROM x\nADD *.py /app/\n", "README.md": ""},
            "Dockerfile line 2: ADD failed: file not found in build context or excluded by "
            ".dockerignore: stat *.py: file does not exist",
        ),
        (
            {
                "Dockerfile": "FROM x\nRUN --mount=type=cache,target=/root/.cache/uv \\\n"
                "    --mount=type=bind,source=uv.lock,target=uv.lock \\\n"
                "    uv sync --locked\n",
                "pyproject.toml": "",
            },
            'Dockerfile line 2: failed to compute cache key: "/uv.lock": not found',
        ),
        (
            {"Dockerfile": "FROM x\nRUN exit 3\n"},
            "Dockerfile line 2: The command '/bin/sh -c exit 3' returned a non-zero code: 3",
        ),
    ],
)
def test_build_failures_read_like_docker(api: Cloud, files: dict[str, str], message: str) -> None:
    made = _upload(api.emulator, api.rest, _tarball(files))
    build = made.json()["build"]
    assert (build["status"], build["errorMessage"]) == ("failed", "Docker build failed: " + message)


def test_what_a_build_reads_and_what_it_does_not(api: Cloud) -> None:
    dockerfile = (
        "# escape=\\\nARG APP=app\nFROM python:3.12 AS deps\nCOPY missing.txt /\n"
        "FROM dailyco/pipecat-base AS final\nENV SRC=src\nCOPY --from=builder /x /x\n"
        'COPY ["${SRC}/main.py", "$APP/"]\nCOPY --chown=1000 \\\n  src/pkg \\\n  /pkg/\n'
        "COPY <<EOF /etc/conf\nnot a file\nEOF\nADD https://example.com/x.tgz /x\n"
        "COPY s?c/*.py /app/\n"
    )
    files = {"Dockerfile": dockerfile, "src/main.py": "", "src/pkg/a.py": "", "src/pkg/b.py": ""}
    made = _upload(api.emulator, api.rest, _tarball(files))
    build = made.json()["build"]
    assert build["status"] == "success", build  # the unused stage's COPY is not built
    seen = api.rest.get(f"/_emulator/builds/{build['id']}").json()
    assert seen["copied"] == ["src/main.py", "src/pkg/a.py", "src/pkg/b.py"]
    logs = api.rest.get(f"/v1/builds/{build['id']}/logs").json()["logs"]
    assert " ---> copied src/pkg/b.py" in logs and "COPY missing.txt /" not in " ".join(logs)
    assert api.rest.get("/v1/builds/not-a-uuid").status_code == 400
    assert api.rest.get("/v1/builds/00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_build_takes_its_delay(tmp_path: Path) -> None:
    with (
        run_emulator(build_delay=30.0) as emu,
        httpx.Client(
            base_url=emu.api_host, headers={"Authorization": f"Bearer {emu.token}"}
        ) as rest,
    ):
        made = _upload(emu, rest, _tarball({"Dockerfile": "FROM x\n"}))
        build = made.json()["build"]
        assert build["status"] == "building" and "imageUri" not in build
        listed = rest.get("/v1/builds", params={"status": "success"}).json()
        assert listed["builds"] == [] and listed["total"] == 0
        deploy = rest.post("/v1/agents", json={"serviceName": "early", "buildId": build["id"]})
        assert (
            deploy.json()["error"] == f"Build '{build['id']}' has not succeeded (status: building)"
        )


def test_a_context_that_escapes_is_refused(api: Cloud) -> None:
    made = _upload(api.emulator, api.rest, _tarball({"Dockerfile": "FROM x\n", "../up": ""}))
    build = made.json()["build"]
    assert build["status"] == "failed" and "unsafe path" in build["errorMessage"]
    garbage = _upload(api.emulator, api.rest, b"not a tarball")
    assert "not a gzip-compressed tar archive" in garbage.json()["build"]["errorMessage"]


# An image that leaves out a module bot.py imports --------------------------------------------


def test_an_image_without_settings_py_builds_but_its_agent_dies_at_start_up(
    cloud: Cloud, tmp_path: Path
) -> None:
    """pipecat init's Dockerfile copies bot.py alone: the build succeeds (as Docker's would),
    and the agent stops at its first import, as it would on Pipecat Cloud."""
    project = _project(
        tmp_path, dockerfile=DOCKERFILE.replace("COPY ./settings.py settings.py\n", "")
    )
    cloud.put_set("built-secrets", DAILY_API_KEY="v1")
    r = cloud(project, "deploy", "--yes")
    out = _output(r)
    assert r.returncode != 0 and "Build Complete" in out and "PCC_UNKNOWN_ERROR" in out
    (build,) = cloud.builds()
    assert build["status"] == "success"
    revision = cloud.rest.get("/v1/agents/built-agent").json()["currentRevision"]
    assert revision["phase"] == "Failed"
    assert revision["health"]["message"] == "ModuleNotFoundError: No module named 'settings'"
    logs = cloud(tmp_path, "agent", "logs", "built-agent")
    assert "ERROR:    ModuleNotFoundError: No module named 'settings'" in logs.stdout
    # shipping it makes the next deploy run
    (project / "Dockerfile").write_text(DOCKERFILE)
    fixed = cloud(project, "deploy", "--yes")
    assert fixed.returncode == 0, _output(fixed)
    assert cloud.rest.get("/v1/agents/built-agent").json()["ready"]


@pytest.mark.parametrize(
    ("bot", "extra", "dies"),
    [
        ("import settings\n", {"settings.py": ""}, "settings"),
        (
            "from config.values import X\n",
            {"config/__init__.py": "", "config/values.py": ""},
            "config",
        ),
        ("import helpers\n", {"helpers.py": "import settings\n", "settings.py": ""}, "settings"),
        ("try:\n    import settings\nexcept ImportError:\n    pass\n", {"settings.py": ""}, None),
        ("import pipecat\nimport os\n", {}, None),  # not project modules
        ("import settings\n", {}, None),  # not in the context: a package the image installs
    ],
)
def test_which_imports_make_an_agent_die(
    api: Cloud, bot: str, extra: dict[str, str], dies: str | None
) -> None:
    copies = "COPY bot.py helpers.py* ./\n" if "helpers.py" in extra else "COPY bot.py ./\n"
    files = {"Dockerfile": "FROM base\n" + copies, "bot.py": bot, **extra}
    build = _upload(api.emulator, api.rest, _tarball(files)).json()["build"]
    assert build["status"] == "success"
    api.rest.post("/v1/agents", json={"serviceName": "importer", "buildId": build["id"]})
    agent = api.rest.get("/v1/agents/importer").json()
    if dies is None:
        assert agent["ready"], agent
    else:
        assert agent["currentRevision"]["health"]["message"] == (
            f"ModuleNotFoundError: No module named '{dies}'"
        )


def test_uploads_waiting_for_their_build_are_bounded(
    api: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pcc_env.emulator import build_store

    monkeypatch.setattr(build_store, "MAX_PENDING_BYTES", 64)
    r = _upload(api.emulator, api.rest, b"x" * 100)
    assert r.status_code == 413


def test_a_bind_mount_reads_the_context_but_copies_nothing(api: Cloud) -> None:
    dockerfile = (
        "FROM x\nRUN --mount=type=bind,source=uv.lock,target=uv.lock "
        "--mount=type=bind,from=other,source=/x,target=/x uv sync\nCOPY bot.py .\n"
    )
    files = {"Dockerfile": dockerfile, "uv.lock": "", "bot.py": ""}
    build = _upload(api.emulator, api.rest, _tarball(files)).json()["build"]
    assert build["status"] == "success", build
    assert api.rest.get(f"/_emulator/builds/{build['id']}").json()["copied"] == ["bot.py"]
    logs = api.rest.get(f"/v1/builds/{build['id']}/logs").json()["logs"]
    assert " ---> mounted uv.lock (a bind mount: not in the image)" in logs


def test_check_catches_the_dockerfile_that_leaves_out_settings_before_the_build_does(
    cloud: Cloud, tmp_path: Path
) -> None:
    """pcc-env check, before the deploy, names the Dockerfile line that would leave settings.py
    out; the real deploy then shows what it would have cost (built, agent dead at start-up);
    with the line added, check passes its image findings and the deploy runs."""
    project = _project(
        tmp_path, dockerfile=DOCKERFILE.replace("COPY ./settings.py settings.py\n", "")
    )
    with (project / "pyproject.toml").open("a") as f:
        f.write('\n[tool.pcc-env]\nsettings = "settings:Settings"\n')
    env = {"PCC_ENV_DATA_DIR": str(tmp_path / "state"), "HOME": str(tmp_path / "home")}
    first = run_cli("check", "--offline", env=env, cwd=project)
    assert first.code == 1, first.output
    assert "Dockerfile:9" in first.output and "settings.py" in first.output
    _no_canary(first.output)
    cloud.put_set("built-secrets", DAILY_API_KEY="v1")
    r = cloud(project, "deploy", "--yes")
    assert r.returncode != 0 and "Build Complete" in _output(r)
    revision = cloud.rest.get("/v1/agents/built-agent").json()["currentRevision"]
    assert revision["health"]["message"] == "ModuleNotFoundError: No module named 'settings'"
    (project / "Dockerfile").write_text(DOCKERFILE)
    fixed = run_cli("check", "--offline", env=env, cwd=project)
    assert "Dockerfile:9" not in fixed.output and "FAIL" not in fixed.output, fixed.output
    assert cloud(project, "deploy", "--yes").returncode == 0
