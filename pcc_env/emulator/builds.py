"""Cloud Build on the emulator, the pure part: read an uploaded context, play a build over it.

Nothing is built and nothing runs. The context (the gzipped tar ``pipecat cloud deploy`` makes) is
read as a list of files, never extracted; the Dockerfile named by the build is parsed
(``dockerfile.steps``) and each ``COPY``/``ADD`` source is looked up in that list, so a source
the context lacks fails the build with the message Docker would give, at the step Docker would
stop. The log lists what each step copied. File contents are never kept: only paths and sizes.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import posixpath
import re
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pcc_env.emulator import dockerfile
from pcc_env.rules import escape_text

MAX_CONTEXT_BYTES = 500 * 1024 * 1024  # the CLI's own limit, uncompressed
MAX_CONTEXT_FILES = 50_000
MAX_DOCKERFILE_BYTES = 1 << 20
MAX_COPIED_SHOWN = 200  # per step, in the log
MAX_MODULE_BYTES = 256 << 10  # a .py file read for its imports
MAX_MODULES_BYTES = 16 << 20  # all of them
ENTRY = "bot.py"  # what Pipecat Cloud's base image runs
NOTHING_RUNS = "(emulated by pcc-env: nothing is built or run; COPY/ADD sources are checked)"


class ContextError(Exception):
    """The upload is not a context a build can read (the build fails with this message)."""


@dataclass(frozen=True)
class ContextFile:
    path: str
    size: int


@dataclass(frozen=True)
class Context:
    files: tuple[ContextFile, ...]
    dockerfile: str | None  # the text of the build's Dockerfile, when the context has it
    # The top-level modules each .py file imports unguarded (names only; no text is kept).
    imports: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


def context_hash(data: bytes) -> str:
    """What the CLI computes and looks the cache up by (md5, first 16 hex digits)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()[:16]


def _clean(path: str) -> str | None:
    """A member's path inside the context, or ``None`` when it would leave it."""
    if path.startswith("/"):
        return None
    normal = posixpath.normpath(path)
    if normal in (".", "") or normal == ".." or normal.startswith("../"):
        return None
    return normal


def read_context(data: bytes, dockerfile_path: str) -> Context:
    """The files of a gzipped tar, read as a stream (bounded: files, sizes, the Dockerfile)."""
    wanted = _clean(dockerfile_path)
    files: list[ContextFile] = []
    text: str | None = None
    imports: dict[str, tuple[str, ...]] = {}
    total = read = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                path = _clean(member.name)
                if path is None:
                    raise ContextError(f"invalid build context: unsafe path {member.name!r}")
                if not member.isfile():
                    continue  # the CLI adds regular files only
                total += member.size
                if len(files) >= MAX_CONTEXT_FILES or total > MAX_CONTEXT_BYTES:
                    raise ContextError("invalid build context: too many files or too large")
                files.append(ContextFile(path, member.size))
                if path == wanted and member.size <= MAX_DOCKERFILE_BYTES:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        text = handle.read().decode("utf-8", "replace")
                if path.endswith(".py") and member.size <= MAX_MODULE_BYTES:
                    read += member.size
                    handle = tar.extractfile(member) if read <= MAX_MODULES_BYTES else None
                    if handle is not None:
                        imports[path] = _top_imports(handle.read())
    except (tarfile.TarError, EOFError, OSError, zlib.error, gzip.BadGzipFile):
        raise ContextError("invalid build context: not a gzip-compressed tar archive") from None
    files.sort(key=lambda f: f.path)
    return Context(tuple(files), text, imports)


def _top_imports(source: bytes) -> tuple[str, ...]:
    """The modules a file imports at its top level, outside ``try`` (a guarded import may be
    missing on purpose): ``import a.b`` and ``from a.b import c`` give ``a``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return tuple(dict.fromkeys(names))


def missing_module(context: Context, copied: Sequence[str]) -> str | None:
    """A project module that ``bot.py`` (or a project module it imports) imports, which is in
    the context but that no step copied: the image lacks it, so the agent would stop at start-up
    with ``ModuleNotFoundError``. Conservative: a module copied anywhere counts as shipped, and
    a name with no file in the context is a package the image installs."""
    entries = sorted((p for p in copied if posixpath.basename(p) == ENTRY), key=len)
    if not entries:
        return None
    base = posixpath.dirname(entries[0])
    paths = {f.path for f in context.files}
    shipped = set(copied)
    seen: set[str] = set()
    todo = [entries[0]]
    while todo:
        for name in context.imports.get(todo.pop(), ()):
            if name in seen:
                continue
            seen.add(name)
            module = posixpath.join(base, name + ".py")
            package = posixpath.join(base, name) + "/"
            local = [p for p in paths if p == module or p.startswith(package)]
            if not local:
                continue
            if not any(p in shipped for p in local):
                return name
            todo.extend(p for p in local if p in shipped and p.endswith(".py"))
    return None


# Sources ----------------------------------------------------------------------------------------


def _glob(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match``, which Docker uses for COPY sources: ``*`` and ``?`` stay within
    one path segment, ``[...]`` is a class (``^`` negates)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^"):
                    body = "^" + body[1:].replace("\\", "\\\\")
                else:
                    body = body.replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


def matches(source: str, paths: Sequence[str]) -> list[str]:
    """The context files a COPY/ADD source copies (none: Docker fails the step)."""
    cleaned = posixpath.normpath(source.lstrip("/")) if source.strip("/") else "."
    if cleaned in (".", ""):
        return list(paths)
    if cleaned == ".." or cleaned.startswith("../"):
        return []
    if any(c in cleaned for c in "*?["):
        pattern = _glob(cleaned)
        hit: list[str] = []
        for path in paths:
            parts = path.split("/")
            prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
            if any(pattern.fullmatch(p) for p in prefixes):
                hit.append(path)
        return hit
    return [p for p in paths if p == cleaned or p.startswith(cleaned + "/")]


# The build --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildOutcome:
    success: bool
    log: tuple[str, ...]
    error_message: str | None = None
    copied: tuple[str, ...] = ()
    startup_error: str | None = None  # what an agent running the image would die of


@dataclass
class _Log:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(escape_text(line))


def _not_found(keyword: str, source: str) -> str:
    return (
        f"{keyword} failed: file not found in build context or excluded by .dockerignore: "
        f"stat {source}: file does not exist"
    )


def run_build(
    context: Context, dockerfile_path: str, image_uri: str, forced_failure: str | None = None
) -> BuildOutcome:
    """Play the build: each step in order; the first that cannot run fails it."""
    log = _Log()
    log.add(f"[Container] Entering phase: BUILD {NOTHING_RUNS}")
    log.add(f"#0 load build context: {len(context.files)} files, {context.total_size} bytes")

    def fail(message: str) -> BuildOutcome:
        log.add(f"ERROR: {message}")
        log.add("[Container] Phase complete: BUILD State: FAILED")
        return BuildOutcome(False, tuple(log.lines), escape_text("Docker build failed: " + message))

    if context.dockerfile is None:
        return fail(f"failed to read dockerfile: open {dockerfile_path}: no such file or directory")
    log.add(f"#1 load build definition from {dockerfile_path}")
    build_steps = dockerfile.steps(context.dockerfile)
    if not build_steps:
        return fail("the Dockerfile has no FROM instruction")
    paths = [f.path for f in context.files]
    copied: dict[str, None] = {}  # in order, once each
    for number, step in enumerate(build_steps, 1):
        ins = step.instruction
        log.add(f"Step {number}/{len(build_steps)} : {ins.text}")
        if step.exit_code is not None:
            return fail(
                f"{dockerfile_path} line {ins.line}: The command '/bin/sh -c {ins.args}' "
                f"returned a non-zero code: {step.exit_code}"
            )
        if ins.keyword == "RUN":
            for source in step.sources or ():
                if not matches(source, paths):
                    return fail(
                        f"{dockerfile_path} line {ins.line}: failed to compute cache key: "
                        f'"/{source.lstrip("/")}": not found'
                    )
                log.add(f" ---> mounted {source} (a bind mount: not in the image)")
            log.add(" ---> not run (emulated)")
            continue
        if step.sources is None:
            if ins.keyword in ("COPY", "ADD"):
                log.add(" ---> not from the build context: not checked")
            continue
        for source in step.sources:
            found = matches(source, paths)
            if not found:
                return fail(f"{dockerfile_path} line {ins.line}: {_not_found(ins.keyword, source)}")
            for path in found[:MAX_COPIED_SHOWN]:
                log.add(f" ---> copied {path}")
            if len(found) > MAX_COPIED_SHOWN:
                log.add(f" ---> ... and {len(found) - MAX_COPIED_SHOWN} more files")
            copied.update(dict.fromkeys(found))
    if forced_failure is not None:
        return fail(forced_failure)
    log.add(f"Successfully built; pushed {image_uri}")
    log.add("[Container] Phase complete: BUILD State: SUCCEEDED")
    missing = missing_module(context, tuple(copied))
    startup_error = None if missing is None else f"ModuleNotFoundError: No module named '{missing}'"
    return BuildOutcome(
        True,
        tuple(log.lines),
        None,
        tuple(copied),
        escape_text(startup_error) if startup_error else None,
    )
