"""``pcc-env check`` on the build context ``pipecat cloud deploy`` uploads to Pipecat Cloud Build.

The rules are pipecatcloud 1.4.0's (``_utils/build_utils.py``): the first tests compare
``pcc_env.build_context`` with the real CLI's own code, run from ``.venv-pipecat``, on the same
fixture projects; the others run ``check --offline`` on them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from pcc_env.build_context import (
    DEFAULT_EXCLUSIONS,
    build_settings,
    context_files,
    exclusions,
    is_values_file,
)
from pcc_env.cli.check import _listing
from tests.cli_helpers import ROOT, Result, run_cli

CANARY = "sk-CANARY-build-ctx-51e0"
PIPECAT_PY = (
    Path(os.environ.get("PCC_ENV_PIPECAT_CLI") or ROOT / ".venv-pipecat" / "bin" / "pipecat").parent
    / "python"
)
BOT = "from settings import Settings\n\nsettings = Settings()\n"
SETTINGS = (
    "from pydantic import SecretStr\nfrom pydantic_settings import BaseSettings\n\n\n"
    "class Settings(BaseSettings):\n    openai_api_key: SecretStr\n"
)
PYPROJECT = (
    '[project]\nname = "bot"\nversion = "0.1.0"\n\n[tool.pcc-env]\nsettings = "settings:Settings"\n'
)
DOCKERFILE = (
    "FROM dailyco/pipecat-base:latest\n"
    "COPY ./requirements.txt requirements.txt\n"
    "RUN pip install -r requirements.txt\n"
    "COPY ./bot.py bot.py\n"
    "COPY ./settings.py settings.py\n"
)


def _real_cli() -> Path:
    if not PIPECAT_PY.exists():
        pytest.skip(f"the pipecat CLI is not installed at {PIPECAT_PY.parent}; run 'make test'")
    return PIPECAT_PY


def project(root: Path, dockerignore: str | None = None, **files: str) -> Path:
    root.mkdir(parents=True)
    base = {
        "bot.py": BOT,
        "settings.py": SETTINGS,
        "pyproject.toml": PYPROJECT,
        "requirements.txt": "pipecat-ai\npcc-env\n",
        "Dockerfile": DOCKERFILE,
        ".env": f"OPENAI_API_KEY={CANARY}\n",
        ".env.example": "OPENAI_API_KEY=\n",
        "pcc-deploy.toml": 'agent_name = "bot"\nsecret_set = "bot-secrets"\n',
    }
    if dockerignore is not None:
        base[".dockerignore"] = dockerignore
    for name, text in {**base, **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def real_upload(root: Path, extra: list[str]) -> list[str]:
    """The files pipecatcloud's own create_deterministic_tarball puts in the tarball."""
    code = (
        "import io, json, sys, tarfile\n"
        "from pipecatcloud._utils.build_utils import create_deterministic_tarball, "
        "get_exclusions\n"
        "from pathlib import Path\n"
        "root = Path(sys.argv[1])\n"
        "ctx = create_deterministic_tarball(str(root), get_exclusions(root, "
        "json.loads(sys.argv[2])))\n"
        "tar = tarfile.open(fileobj=io.BytesIO(ctx.tarball), mode='r:gz')\n"
        "print(json.dumps(sorted(tar.getnames())))\n"
    )
    out = subprocess.run(
        [str(_real_cli()), "-c", code, str(root), json.dumps(extra)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names: list[str] = json.loads(out.stdout)
    return names


def ours(root: Path, extra: list[str]) -> list[str]:
    text = (root / ".dockerignore").read_text() if (root / ".dockerignore").exists() else None
    return list(context_files(_listing(root), exclusions(text, extra)).files)


def test_default_exclusions_are_the_real_clis() -> None:
    code = (
        "import json\nfrom pipecatcloud._utils.build_utils import DEFAULT_EXCLUSIONS\n"
        "print(json.dumps(sorted(DEFAULT_EXCLUSIONS)))"
    )
    out = subprocess.run([str(_real_cli()), "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == sorted(DEFAULT_EXCLUSIONS)


@pytest.mark.parametrize(
    ("dockerignore", "extra"),
    [
        (None, []),
        (None, ["data/", "./notes.txt", "*.wav"]),
        ("# allow-list, as Docker reads it\n*\n!bot.py\n!settings.py\n", []),
        ("./data/\n*.md\n!README.md\n", ["notes.txt"]),  # extras are ignored with a .dockerignore
        ("", []),  # an empty .dockerignore: nothing excluded, not even .env
        ("build/*\n.env\n", []),
    ],
)
def test_the_uploaded_files_are_what_the_real_cli_uploads(
    tmp_path: Path, dockerignore: str | None, extra: list[str]
) -> None:
    root = project(
        tmp_path / "bot",
        dockerignore,
        **{
            "prod.env": f"OPENAI_API_KEY={CANARY}\n",
            ".envrc": "dotenv\n",
            "README.md": "# bot\n",
            "notes.txt": "n\n",
            "hello.wav": "w",
            "data/x.json": "{}",
            "build/out.txt": "o",
            "pkg/build/keep.py": "",
            "venv/lib.py": "",
            ".git/HEAD": "ref\n",
            "sub/.env.local": "A=1\n",
        },
    )
    os.symlink(root / "data", root / "linked")  # a symlinked folder is never walked
    assert ours(root, extra) == real_upload(root, extra)


def test_values_files_are_the_hooks_env_files_less_templates() -> None:
    for name in (".env", ".env.local", ".envrc", "prod.env", "sub/.env.production", "env.local"):
        assert is_values_file(name), name
    for name in (".env.example", "env.example", "x.env.sample", "env.py", "settings.py", "a.md"):
        assert not is_values_file(name), name


def test_build_settings_from_the_deploy_file() -> None:
    assert build_settings(None).uses_cloud_build
    assert not build_settings({"image": "me/bot:1"}).uses_cloud_build
    assert not build_settings({"build_id": "b-1"}).uses_cloud_build
    got = build_settings(
        {
            "build": {
                "context_dir": "app",
                "dockerfile": "Dockerfile.prod",
                "exclude": {"patterns": ["*.wav"]},
            }
        }
    )
    assert (got.context_dir, got.dockerfile, got.exclude) == ("app", "Dockerfile.prod", ("*.wav",))


# check --offline on fixture projects ----------------------------------------------------------


def check(root: Path) -> Result:
    r = run_cli("check", "--offline", cwd=root, env={"PCC_ENV_DATA_DIR": str(root / ".state")})
    assert CANARY not in r.output
    return r


def fails(r: Result) -> list[str]:
    return [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL")]


def test_a_good_project_passes(tmp_path: Path) -> None:
    r = check(project(tmp_path / "bot"))
    assert r.code == 0, r.output
    assert "ok   Dockerfile ships the settings module settings.py beside bot.py" in r.stdout
    assert "holds no env file with values" in r.stdout


def test_an_allow_list_dockerignore_leaves_out_everything(tmp_path: Path) -> None:
    """Docker reads '*' then '!bot.py' as "only bot.py"; the pipecat CLI uploads nothing."""
    root = project(tmp_path / "bot", "*\n!bot.py\n!settings.py\n!requirements.txt\n!Dockerfile\n")
    r = check(root)
    assert r.code == 1, r.output
    lines = fails(r)
    assert any(
        "settings.py is not in the build context 'pipecat cloud deploy' uploads: "
        ".dockerignore:1 ('*') leaves it out"
        in ln
        and "no '!' exceptions" in ln
        for ln in lines
    ), lines
    assert any("Dockerfile:4 copies bot.py, which .dockerignore:1" in ln for ln in lines), lines
    assert any("the build has no Dockerfile" in ln for ln in lines), lines
    assert sum("settings.py" in ln for ln in lines) == 1, lines  # one finding for the module


def test_a_module_the_settings_module_imports_is_left_out_once(tmp_path: Path) -> None:
    root = project(
        tmp_path / "bot",
        "**/__pycache__\nconfig\n",
        **{
            "settings.py": "import config.defaults  # noqa\n" + SETTINGS,
            "config/__init__.py": "",
            "config/defaults.py": "MODEL = 'x'\n",
            "Dockerfile": DOCKERFILE + "COPY ./config config\n",
        },
    )
    r = check(root)
    assert r.code == 1, r.output
    lines = fails(r)
    mine = [ln for ln in lines if "config/defaults.py" in ln]
    assert len(mine) == 1 and ".dockerignore:2 ('config') leaves it out" in mine[0], lines
    assert "imported by the settings module settings.py" in mine[0]


def test_a_default_exclusion_leaves_a_module_out(tmp_path: Path) -> None:
    """No .dockerignore: the CLI's defaults drop any folder named build, env, dist..."""
    root = project(
        tmp_path / "bot",
        **{
            "settings.py": "from env import names  # noqa\n" + SETTINGS,
            "env/__init__.py": "",
            "env/names.py": "A = 1\n",
            "Dockerfile": DOCKERFILE.replace("COPY ./settings.py settings.py", "COPY . ."),
        },
    )
    r = check(root)
    assert r.code == 1, r.output
    lines = fails(r)  # one finding per module: the package and the module imported from it
    assert [ln.split()[1] for ln in lines] == ["env/__init__.py", "env/names.py"], lines
    assert all("the pipecat CLI's default exclusions ('env') leaves it out" in ln for ln in lines)


def test_a_dockerignore_that_forgets_env_uploads_it(tmp_path: Path) -> None:
    root = project(tmp_path / "bot", "__pycache__\n*.md\n")
    r = check(root)
    assert r.code == 1, r.output
    (line,) = fails(r)
    assert line.startswith("FAIL .env:1: 'pipecat cloud deploy' would upload .env"), line
    assert ".dockerignore replaces the pipecat CLI's default exclusions" in line
    assert "line(s) 1 hold values" in line and "add .env to .dockerignore" in line
    (root / ".dockerignore").write_text("__pycache__\n*.md\n.env\n.env.*\n")
    assert check(root).code == 0


def test_env_files_the_defaults_miss_are_named_and_templates_pass(tmp_path: Path) -> None:
    root = project(
        tmp_path / "bot",
        **{"prod.env": f"# prod\nOPENAI_API_KEY={CANARY}\n", ".envrc": "dotenv\n",
           "env.sample": "OPENAI_API_KEY=your-key-here\n", "empty.env": "OPENAI_API_KEY=\n"},
    )  # fmt: skip
    r = check(root)
    assert r.code == 1, r.output
    (line,) = fails(r)  # .env and .env.* are excluded; .envrc holds a direnv command only
    assert line.startswith("FAIL prod.env:2: 'pipecat cloud deploy' would upload prod.env")
    assert "excludes only .env and .env.* by default" in line


def test_an_image_in_the_deploy_file_means_no_upload(tmp_path: Path) -> None:
    root = project(
        tmp_path / "bot",
        "__pycache__\n",
        **{"pcc-deploy.toml": 'agent_name = "bot"\nimage = "me/bot:1"\n'},
    )
    r = check(root)
    assert r.code == 0, r.output
    assert "build context" not in r.stdout


def test_the_build_table_names_the_context_and_dockerfile(tmp_path: Path) -> None:
    root = project(
        tmp_path / "bot",
        **{"pcc-deploy.toml": 'agent_name = "bot"\n[build]\ndockerfile = "deploy/Dockerfile"\n'
           '[build.exclude]\npatterns = ["settings.py"]\n',
           "deploy/Dockerfile": DOCKERFILE},
    )  # fmt: skip
    (root / "Dockerfile").unlink()
    r = check(root)
    assert r.code == 1, r.output
    assert any(
        "settings.py is not in the build context" in ln
        and "pcc-deploy.toml [build.exclude] patterns ('settings.py')" in ln
        for ln in fails(r)
    ), r.stdout


def test_json_names_the_check(tmp_path: Path) -> None:
    root = project(tmp_path / "bot", "")
    r = run_cli("check", "--offline", "--json", cwd=root)
    assert r.code == 1 and CANARY not in r.output
    found = json.loads(r.stdout)["findings"]
    assert [f["check"] for f in found if not f["ok"]] == ["build-context"]


def test_the_deploy_file_given_is_the_one_read(tmp_path: Path) -> None:
    root = project(
        tmp_path / "bot", "__pycache__\n", **{"prod.toml": 'agent_name = "bot"\nimage = "me/b:1"\n'}
    )
    assert check(root).code == 1  # pcc-deploy.toml has no image: .env would be uploaded
    r = run_cli("check", "--offline", "--deploy-file", "prod.toml", cwd=root)
    assert r.code == 0 and "build context" not in r.stdout, r.output
