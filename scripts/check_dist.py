"""Check the built sdist and wheel: they hold what a build and an install need, and no junk.

    python scripts/check_dist.py dist [--tag v0.1.0]

`make dist` and the release workflow run it after `python -m build` (which builds the wheel
from the sdist, so the sdist is proven to build). Checked: one sdist and one wheel of the
version in pyproject.toml; the package's data files in both (demo bot, completion table,
py.typed); the entry points in the wheel; nothing from a developer's clone in either (venvs,
tests and their data, benchmarks, caches, bytecode); CHANGELOG.md has a section for the
version; with --tag, the tag names that version. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# Files a user's install needs that are not Python modules (they are easy to lose).
PACKAGE_FILES = (
    "pcc_env/__init__.py",
    "pcc_env/py.typed",
    "pcc_env/cli/demo_bot/bot.py",
    "pcc_env/cli/demo_bot/env.sample",
    "pcc_env/cli/completion_table.json",
)
SDIST_FILES = ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "PKG-INFO")
# Path parts that come from a developer's clone, never from the package.
JUNK_PARTS = re.compile(
    r"^(\.venv.*|\.git|\.github|\.ci|tests|benchmarks|scripts|dist|build|examples|__pycache__"
    r"|\.mypy_cache|\.ruff_cache|\.pytest_cache|\.hypothesis|.*\.egg-info)$"
)
JUNK_NAMES = re.compile(r"(\.pyc|\.pyo|\.db|\.sqlite3?|\.log|~)$|^\.env$|^\.coverage")
ENTRY_POINTS = (
    "pcc-env = pcc_env.cli:main",
    "pcc_env.testing = pcc_env.testing",
    "env = pcc_env.cli.plugin:app",
)


def junk(names: list[str]) -> list[str]:
    return [
        n
        for n in names
        if any(JUNK_PARTS.match(part) for part in n.split("/")[:-1])
        or JUNK_PARTS.match(n.rsplit("/", 1)[-1])
        or JUNK_NAMES.search(n.rsplit("/", 1)[-1])
    ]


def check_sdist(path: Path, version: str) -> list[str]:
    with tarfile.open(path) as tar:
        members = [m.name for m in tar.getmembers() if m.isfile()]
    top = f"pcc_env-{version}/"
    problems = [f"sdist: {n} is outside {top}" for n in members if not n.startswith(top)]
    names = [n[len(top) :] for n in members if n.startswith(top)]
    problems += [f"sdist: missing {f}" for f in (*SDIST_FILES, *PACKAGE_FILES) if f not in names]
    problems += [f"sdist: holds {n} (not part of the package)" for n in junk(names)]
    return problems


def check_wheel(path: Path, version: str) -> list[str]:
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        info = f"pcc_env-{version}.dist-info/"
        ep = info + "entry_points.txt"
        entry_points = whl.read(ep).decode() if ep in names else ""
    problems = [f"wheel: missing {f}" for f in PACKAGE_FILES if f not in names]
    if info + "licenses/LICENSE" not in names:
        problems.append(f"wheel: missing {info}licenses/LICENSE")
    problems += [f"wheel: holds {n} (not part of the package)" for n in junk(names)]
    outside = [n for n in names if not n.startswith(("pcc_env/", info))]
    problems += [f"wheel: holds {n} outside the package" for n in outside]
    problems += [f"wheel: no entry point '{e}'" for e in ENTRY_POINTS if e not in entry_points]
    return problems


def check_changelog(version: str) -> list[str]:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    if not re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M):
        return [f"CHANGELOG.md: no '## [{version}] - YYYY-MM-DD' section"]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dist", type=Path)
    parser.add_argument("--tag", help="the git tag being released, e.g. v0.1.0")
    args = parser.parse_args()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    sdists = sorted(args.dist.glob("*.tar.gz"))
    wheels = sorted(args.dist.glob("*.whl"))
    problems = []
    if [p.name for p in sdists] != [f"pcc_env-{version}.tar.gz"]:
        problems.append(f"expected one sdist pcc_env-{version}.tar.gz, found {sdists}")
    if [p.name for p in wheels] != [f"pcc_env-{version}-py3-none-any.whl"]:
        problems.append(f"expected one wheel pcc_env-{version}-py3-none-any.whl, found {wheels}")
    if not problems:
        problems += check_sdist(sdists[0], version) + check_wheel(wheels[0], version)
    problems += check_changelog(version)
    if args.tag is not None and args.tag != f"v{version}":
        problems.append(f"tag {args.tag} does not name version {version} (expected v{version})")
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_dist: pcc_env {version}: sdist and wheel hold the package and nothing else")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
