"""`make dist`'s checks (issue 24 item 1): scripts/check_dist.py on archives made here, and the
release workflow's shape. The real build runs in `make dist` (too slow for the suite)."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
PACKAGE = [
    "pcc_env/__init__.py",
    "pcc_env/py.typed",
    "pcc_env/cli/demo_bot/bot.py",
    "pcc_env/cli/demo_bot/env.sample",
    "pcc_env/cli/completion_table.json",
]
SDIST_TOP = ["pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "PKG-INFO"]
ENTRY_POINTS = (
    "[console_scripts]\npcc-env = pcc_env.cli:main\n\n"
    "[pipecat_cli.extensions]\nenv = pcc_env.cli.plugin:app\n\n"
    "[pytest11]\npcc_env.testing = pcc_env.testing\n"
)


def make_dist(folder: Path, extra_sdist: list[str], extra_wheel: list[str]) -> Path:
    folder.mkdir()
    top = f"pcc_env-{VERSION}/"
    with tarfile.open(folder / f"pcc_env-{VERSION}.tar.gz", "w:gz") as tar:
        for name in [
            "pyproject.toml",
            "README.md",
            "CHANGELOG.md",
            "LICENSE",
            "PKG-INFO",
            *PACKAGE,
            *extra_sdist,
        ]:
            info = tarfile.TarInfo(top + name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    info = f"pcc_env-{VERSION}.dist-info/"
    with zipfile.ZipFile(folder / f"pcc_env-{VERSION}-py3-none-any.whl", "w") as whl:
        for name in [*PACKAGE, *extra_wheel]:
            whl.writestr(name, "x")
        whl.writestr(info + "entry_points.txt", ENTRY_POINTS)
        whl.writestr(info + "licenses/LICENSE", "x")
    return folder


def check(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_dist.py"), str(folder), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_clean_dist_passes(tmp_path: Path) -> None:
    r = check(make_dist(tmp_path / "dist", [], []), "--tag", f"v{VERSION}")
    assert r.returncode == 0, r.stderr
    assert "sdist and wheel hold the package and nothing else" in r.stdout


@pytest.mark.parametrize(
    ("sdist", "wheel", "named"),
    [
        ([".venv-dist/bin/python"], [], ".venv-dist/bin/python"),
        (["tests/data/bot/.env"], [], "tests/data/bot/.env"),
        (["benchmarks/anchors/stack_push.py"], [], "benchmarks/anchors/stack_push.py"),
        (["pcc_env/__pycache__/rules.cpython-311.pyc"], [], "rules.cpython-311.pyc"),
        ([], ["tests/test_sync.py"], "tests/test_sync.py"),
        ([], ["pcc_env/.env"], "pcc_env/.env"),
    ],
)
def test_junk_in_a_dist_is_named(
    tmp_path: Path, sdist: list[str], wheel: list[str], named: str
) -> None:
    r = check(make_dist(tmp_path / "dist", sdist, wheel))
    assert r.returncode == 1
    assert named in r.stderr


def test_a_missing_data_file_or_a_wrong_tag_fails(tmp_path: Path) -> None:
    folder = make_dist(tmp_path / "dist", [], [])
    whl = folder / f"pcc_env-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(whl) as z:
        kept = {n: z.read(n) for n in z.namelist() if not n.endswith("completion_table.json")}
    with zipfile.ZipFile(whl, "w") as z:
        for name, data in kept.items():
            z.writestr(name, data)
    r = check(folder, "--tag", "v9.9.9")
    assert r.returncode == 1
    assert "wheel: missing pcc_env/cli/completion_table.json" in r.stderr
    assert f"tag v9.9.9 does not name version {VERSION}" in r.stderr


def test_the_sdist_takes_only_what_a_build_needs() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sdist = config["tool"]["hatch"]["build"]["targets"]["sdist"]
    assert sdist["only-include"] == ["pcc_env", "README.md", "CHANGELOG.md", "LICENSE"]
    assert config["project"]["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    assert f"## [{VERSION}] - " in (ROOT / "CHANGELOG.md").read_text()


def test_the_release_workflow_publishes_a_checked_tag_with_trusted_publishing() -> None:
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert flow[True]["push"]["tags"] == ["v*"]  # YAML reads the key `on` as True
    build = "\n".join(str(s.get("run", "")) for s in flow["jobs"]["build"]["steps"])
    assert "python -m build" in build and "twine check --strict" in build
    assert 'check_dist.py dist --tag "$GITHUB_REF_NAME"' in build and "pcc-env demo" in build
    publish = flow["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    assert publish["steps"][-1]["uses"] == "pypa/gh-action-pypi-publish@release/v1"
    assert "password" not in str(publish)  # no token: PyPI trusts the workflow
