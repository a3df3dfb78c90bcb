"""What ``pipecat cloud deploy`` uploads to Pipecat Cloud Build, and what that means for the image.

With no ``image`` in ``pcc-deploy.toml`` (what ``pipecat init`` writes, and every real deploy
file we read) the pipecat CLI packs a build context and uploads it; the image is built from that
tarball, not from the project folder. pipecatcloud 1.4.0 (``_utils/build_utils.py``) decides
what goes in, and it is not Docker's rule:

- a ``.dockerignore``, when there is one, *replaces* the CLI's default exclusions (``.env``,
  ``.env.*``, ``.git``, ``.venv``... ``DEFAULT_EXCLUSIONS``), and ``[build.exclude] patterns``
  of the deploy file are then ignored; without one, those patterns add to the defaults;
- each pattern is matched with ``fnmatch`` against every part of a path and against the whole
  relative path (``*`` crosses ``/``); a leading ``./`` and a trailing ``/`` are dropped; a
  ``!pattern`` line is no exception, only a literal pattern (so ``*`` then ``!bot.py`` uploads
  nothing);
- an excluded folder is not walked; symlinked folders are not followed (``os.walk``);
- more than 500 MB of files is refused.

So a settings module can be left out of the image by a rule Docker never applies, and a file
holding values (``prod.env``, ``.envrc``, or ``.env`` itself once a ``.dockerignore`` exists)
can be uploaded. ``check_build`` names each, by file and line. Pure: listing and reading are
passed in.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pcc_env import image
from pcc_env.rules import escape_text

# pipecatcloud 1.4.0's DEFAULT_EXCLUSIONS (a test compares them with the installed CLI's).
DEFAULT_EXCLUSIONS: tuple[str, ...] = (
    ".git", ".gitignore", ".gitattributes",
    ".env", ".env.*", "*.pem", "*.key",
    "__pycache__", "*.pyc", "*.pyo", "*.pyd", "*.so", ".Python",
    ".venv", "venv", "ENV", "env",
    ".pytest_cache", ".coverage", "htmlcov", ".tox", ".nox",
    ".mypy_cache", ".ruff_cache",
    ".vscode", ".idea", "*.swp", "*.swo",
    "dist", "build", "*.egg-info", "*.egg", ".eggs",
    "node_modules", ".github", ".claude", ".codex", ".cursor",
    "pcc-deploy.toml", ".ipynb_checkpoints", ".cache",
    ".DS_Store", "Thumbs.db", "*.log",
)  # fmt: skip
MAX_CONTEXT_BYTES = 500 * 1024 * 1024
DEFAULT_SOURCE = "the pipecat CLI's default exclusions"
DEPLOY_SOURCE = "pcc-deploy.toml [build.exclude] patterns"

# The env files the pcc-env-no-values hook checks (.pre-commit-hooks.yaml): .env, .env.local,
# .envrc, prod.env, env.local... A template among them (is_template_name) may be uploaded.
_ENV_FILE = re.compile(
    r"(?:\.envrc|\.env(?:[.~_-][^/]*)?|[^/]+\.env(?:[.~_-][^/]*)?"
    r"|env\.(?:example|sample|template|dist|local)(?:[.~_-][^/]*)?)"
)
_NOT_ENV = re.compile(r".*\.(?:py|pyi|ipynb|md|rst)")


@dataclass(frozen=True)
class BuildSettings:
    """The deploy file's say in the cloud build: no ``image`` and no ``build_id`` means the CLI
    builds (``uses_cloud_build``); ``[build]`` names the context folder, the Dockerfile in it and
    extra exclusions."""

    uses_cloud_build: bool = True
    context_dir: str = "."
    dockerfile: str = image.DOCKERFILE
    exclude: tuple[str, ...] = ()


def build_settings(deploy: Mapping[str, Any] | None) -> BuildSettings:
    """``BuildSettings`` from the parsed ``pcc-deploy.toml`` (None: no deploy file). Values of
    the wrong type are left to ``pipecat cloud deploy`` to refuse: the defaults stand."""
    if deploy is None:
        return BuildSettings()
    table = deploy.get("build")
    build = table if isinstance(table, Mapping) else {}
    excl = build.get("exclude")
    patterns = excl.get("patterns") if isinstance(excl, Mapping) else None
    context_dir = build.get("context_dir")
    dockerfile = build.get("dockerfile")
    return BuildSettings(
        uses_cloud_build=not deploy.get("image") and not deploy.get("build_id"),
        context_dir=context_dir if isinstance(context_dir, str) else ".",
        dockerfile=dockerfile if isinstance(dockerfile, str) else image.DOCKERFILE,
        exclude=tuple(p for p in patterns if isinstance(p, str))
        if isinstance(patterns, list)
        else (),
    )


@dataclass(frozen=True)
class Exclusion:
    pattern: str
    source: str  # where it comes from: ".dockerignore:3", DEFAULT_SOURCE, DEPLOY_SOURCE
    line: int | None = None

    @property
    def shown(self) -> str:
        return f"{self.source} ('{escape_text(self.pattern)}')"


def _normalize(pattern: str) -> str:
    out = pattern.strip()
    out = out.removeprefix("./")
    return out.rstrip("/")


def exclusions(dockerignore_text: str | None, extra: Sequence[str] = ()) -> tuple[Exclusion, ...]:
    """The patterns the CLI excludes with (``get_exclusions``): the ``.dockerignore``'s alone
    when there is one (even an empty one), else the defaults plus ``extra``."""
    if dockerignore_text is not None:
        found: list[Exclusion] = []
        for number, raw in enumerate(dockerignore_text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            pattern = _normalize(line)
            if pattern:
                found.append(Exclusion(pattern, f"{image.DOCKERIGNORE}:{number}", number))
        return tuple(found)
    defaults = [Exclusion(p, DEFAULT_SOURCE) for p in DEFAULT_EXCLUSIONS]
    added = [Exclusion(n, DEPLOY_SOURCE) for p in extra if (n := _normalize(p))]
    return (*defaults, *added)


def excluded_by(path: str, rules: Iterable[Exclusion]) -> Exclusion | None:
    """The rule that keeps ``path`` (relative to the context, ``/``-separated) out
    (``_should_exclude``: any part, or the whole path, matches), None when it is uploaded."""
    parts = path.split("/")
    for rule in rules:
        if any(fnmatchcase(part, rule.pattern) for part in parts) or fnmatchcase(
            path, rule.pattern
        ):
            return rule
    return None


def excluded_with_folders(path: str, rules: Sequence[Exclusion]) -> Exclusion | None:
    """``excluded_by`` for ``path`` or any folder above it (an excluded folder is not walked)."""
    parts = path.split("/")
    for i in range(1, len(parts) + 1):
        rule = excluded_by("/".join(parts[:i]), rules)
        if rule is not None:
            return rule
    return None


Listing = Callable[[str], tuple[Sequence[str], Sequence[tuple[str, int]]]]


@dataclass(frozen=True)
class Context:
    """The files the CLI would upload (sorted, relative to the context) and their total size."""

    files: tuple[str, ...]
    total_bytes: int


def context_files(listdir: Listing, rules: Sequence[Exclusion]) -> Context:
    """Walk the context as ``create_deterministic_tarball`` does: ``listdir(rel)`` gives the
    folders (not symlinked ones) and the (file, size) pairs in ``rel`` ("" for the root)."""
    files: list[str] = []
    total = 0
    pending = [""]
    while pending:
        here = pending.pop()
        dirs, names = listdir(here)
        for d in sorted(dirs):
            rel = f"{here}/{d}" if here else d
            if excluded_by(rel, rules) is None:
                pending.append(rel)
        for name, size in names:
            rel = f"{here}/{name}" if here else name
            if excluded_by(rel, rules) is None:
                files.append(rel)
                total += size
    return Context(tuple(sorted(files)), total)


def is_values_file(path: str) -> bool:
    """A file named as the pcc-env-no-values hook's env files, and not as a template."""
    from pcc_env.value_shapes import is_template_name

    name = posixpath.basename(path)
    return (
        bool(_ENV_FILE.fullmatch(name))
        and not _NOT_ENV.fullmatch(name)
        and not is_template_name(name)
    )


@dataclass(frozen=True)
class BuildFinding:
    ok: bool
    message: str
    check: str = "build-context"  # "image": what the Dockerfile does with the uploaded files


def _uploaded_dir(path: str, files: Sequence[str]) -> bool:
    prefix = path.rstrip("/") + "/"
    return any(f.startswith(prefix) for f in files)


def _bang_note(rules: Sequence[Exclusion]) -> str:
    if any(r.pattern.startswith("!") for r in rules):
        return " (the pipecat CLI reads no '!' exceptions in .dockerignore: '!x' is a pattern)"
    return ""


def _why_uploaded(dockerignore_text: str | None) -> str:
    if dockerignore_text is not None:
        return (
            f"{image.DOCKERIGNORE} replaces the pipecat CLI's default exclusions (.env, .env.*) "
            "and leaves it in"
        )
    return "the pipecat CLI excludes only .env and .env.* by default"


def check_build(
    *,
    dockerfile_text: str,
    dockerignore_text: str | None,
    settings: BuildSettings,
    context: Context,
    module: str | None,
    python_files: Sequence[str],
    read: Callable[[str], str | None],
    value_lines: Callable[[str], list[int] | None],
) -> list[BuildFinding]:
    """``check`` before a cloud build: one failure for each module of the settings model (the
    settings module and the project modules it imports, ``python_files`` relative to the
    context) the upload or the Dockerfile leaves out of the image, for each file the Dockerfile
    copies that is not uploaded, and for each uploaded file holding values (``value_lines``:
    the lines holding values, None when it cannot be read); else one passing finding."""
    rules = exclusions(dockerignore_text, settings.exclude)
    uploaded = set(context.files)
    out: list[BuildFinding] = []
    df_name = escape_text(settings.dockerfile)
    note = _bang_note(rules)
    if settings.dockerfile not in uploaded:
        rule = excluded_with_folders(settings.dockerfile, rules)
        if rule is not None:
            out.append(
                BuildFinding(
                    False,
                    f"{rule.shown} leaves {df_name} out of the build context the pipecat CLI "
                    f"uploads: the build has no Dockerfile{note}",
                )
            )
    left_out: set[str] = set()
    modules = image.import_closure(module, python_files, read) if module else []
    module = module or ""
    for m in modules:
        if m in uploaded:
            continue
        left_out.add(m)
        by = f" (imported by the settings module {escape_text(module)})" if m != module else ""
        rule = excluded_with_folders(m, rules)
        why = f"{rule.shown} leaves it out" if rule else "it is outside the context folder"
        out.append(
            BuildFinding(
                False,
                f"{escape_text(m)} is not in the build context 'pipecat cloud deploy' uploads: "
                f"{why}, so the image never has it{by}{note}",
            )
        )
    df = image.parse_dockerfile(dockerfile_text)
    for stage in df.stages:
        for copy in stage.copies:
            if copy.stage is not None or copy.external or copy.uncertain:
                continue
            for source in copy.sources:
                path = image._clean(source)
                if path == "." or image._has_glob(path) or path in left_out:
                    continue
                if path in uploaded or _uploaded_dir(path, context.files):
                    continue
                rule = excluded_with_folders(path, rules)
                if rule is None:
                    continue  # not in the project at all: the image check says what it can
                line = copy.instruction.line
                out.append(
                    BuildFinding(
                        False,
                        f"{df_name}:{line} copies {escape_text(path)}, which {rule.shown} leaves "
                        f"out of the uploaded build context: the build fails{note}",
                    )
                )
    passed: list[BuildFinding] = []
    if module:
        # The builder reads the uploaded tarball, and .dockerignore (sent with it) as Docker does.
        shipped = [f for f in python_files if f in uploaded or f in left_out]
        for found in image.check_image(
            dockerfile_text, dockerignore_text, module, shipped, read, leave_out=frozenset(left_out)
        ):
            (passed if found.ok else out).append(BuildFinding(found.ok, found.message, "image"))
    for path in context.files:
        if not is_values_file(path):
            continue
        lines = value_lines(path)
        if lines == []:
            continue
        shown = escape_text(path)
        where = (
            f"{shown}:{lines[0]}" if lines else shown
        )  # the first line holding a value, or the file when it cannot be read
        what = f"line(s) {', '.join(map(str, lines))} hold values" if lines else "it cannot be read"
        out.append(
            BuildFinding(
                False,
                f"{where}: 'pipecat cloud deploy' would upload {shown} to Pipecat Cloud Build "
                f"({_why_uploaded(dockerignore_text)}); {what}: add {shown} to "
                f"{image.DOCKERIGNORE}",
            )
        )
    if context.total_bytes > MAX_CONTEXT_BYTES:
        out.append(
            BuildFinding(
                False,
                f"the build context is {context.total_bytes / 2**20:.1f} MB: the pipecat CLI "
                f"refuses more than {MAX_CONTEXT_BYTES // 2**20} MB (exclude large files in "
                f"{image.DOCKERIGNORE})",
            )
        )
    if out:
        return out
    return [
        *passed,
        BuildFinding(
            True,
            f"the build context the pipecat CLI uploads ({len(uploaded)} files) holds no env "
            "file with values",
        ),
    ]
