"""Which code is the agent: its entry point and what that entry point imports.

Pipecat Cloud runs ``bot.py`` (the file the Dockerfile copies in as ``bot.py``, or the project's
``bot.py``); a telephony ``server.py`` that dials out with ``PIPECAT_API_KEY``, a script or a
second bot beside it run elsewhere. A project with no ``bot.py`` is taken as the Pipecat runner
takes it: each module that defines ``bot()`` (the function the runner and Pipecat Cloud call) or
runs a Pipecat pipeline as a program (``if __name__ == "__main__":`` in a module importing
``pipecat``) is an entry point (a folder of example bots); with none, no code is the agent's
and every read is reported apart. The settings model holds what the agent reads, so the reads
of a scan (``pcc_env.scan``) are split: the entry point, the project modules it imports
(transitively), and in a module imported ``from m import f``, the functions and classes the
import names (and what they use, and the module's top-level code) are the agent; every other
read is reported apart, by file.

Pure apart from reading the project's files: nothing is imported or executed.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pcc_env.scan import MAX_SOURCE_BYTES, EnvRead, ScanResult

ENTRY = "bot.py"
ALL = None  # every function and class of a module is reachable


@dataclass(frozen=True)
class Outside:
    """Reads of one file outside the agent: another program (``server.py``), or code of a
    module the agent imports that the agent does not use (``partly``)."""

    path: str
    reads: tuple[EnvRead, ...]
    partly: bool = False

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(r.name for r in self.reads))


@dataclass
class AgentScan:
    """The agent's part of a scan (``agent``: what the model holds) and the rest (``outside``).
    ``entry`` is the first entry point (``entries``: every one), None when none was found: then
    no code is the agent's, and every read is in ``outside``."""

    entry: str | None
    reason: str
    agent: ScanResult
    outside: list[Outside] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)  # the agent's files, entry points first
    entries: list[str] = field(default_factory=list)


def _read(root: Path, rel: str) -> str | None:
    from pcc_env.dotenv_file import read_regular_file
    from pcc_env.errors import InputError

    try:
        data = read_regular_file(root / rel, "a Python file", MAX_SOURCE_BYTES)
    except InputError:
        return None
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


NO_ENTRY = (
    f"no entry point found (no {ENTRY}, no Dockerfile copying one, no module defining bot() or "
    "running a Pipecat pipeline): no code is the agent's, every read is listed apart"
)


def find_entries(root: Path, files: Sequence[str]) -> tuple[list[str], str]:
    """(the agent's entry points, why), as Pipecat Cloud and the Pipecat runner find them: the
    file the Dockerfile copies in as ``bot.py``; else the shallowest ``bot.py``; else every
    module that defines a top-level ``bot()`` (what the runner's ``main()`` and Pipecat Cloud
    call) or runs a Pipecat pipeline as a program; else none (``NO_ENTRY``)."""
    from pcc_env.image import DOCKERFILE, DOCKERIGNORE, parse_dockerfile, parse_dockerignore
    from pcc_env.image import find_entry as image_entry
    from pcc_env.project_init import read_existing

    try:
        dockerfile = read_existing(root / DOCKERFILE)
        ignore = read_existing(root / DOCKERIGNORE)
    except Exception:  # a Dockerfile init cannot read names no entry point
        dockerfile = ignore = None
    if dockerfile is not None:
        try:
            found = image_entry(parse_dockerfile(dockerfile), parse_dockerignore(ignore), files)
        except Exception:
            found = None
        if found is not None:
            path, landing = found
            line = landing.origin.instruction.line
            renamed = f" as {ENTRY}" if posixpath.basename(path) != ENTRY else ""
            return [path], f"{DOCKERFILE}:{line} copies it into the image{renamed}"
    bots = sorted((f for f in files if posixpath.basename(f) == ENTRY), key=lambda f: f.count("/"))
    if bots:
        return [bots[0]], "the file Pipecat Cloud runs"
    programs = [f for f in files if _runs_an_agent(root, f)]
    if programs:
        return programs, (
            f"no {ENTRY}: the module(s) defining bot() (what the Pipecat runner calls) or "
            "running a Pipecat pipeline as a program"
        )
    return [], NO_ENTRY


def find_entry(root: Path, files: Sequence[str]) -> tuple[str | None, str]:
    """The first of ``find_entries`` (None when there is none), and why."""
    entries, why = find_entries(root, files)
    return (entries[0] if entries else None), why


def _runs_an_agent(root: Path, path: str) -> bool:
    """Whether a module is an agent the Pipecat runner can start: a top-level ``bot`` function,
    a call of the runner's ``main`` (``from pipecat.runner.run import main``), or a module
    importing ``pipecat`` that runs as a program (``if __name__ == "__main__":``)."""
    text = _read(root, path)
    if text is None:
        return False
    try:
        tree = ast.parse(text, path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if any(
        isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == "bot"
        for s in tree.body
    ):
        return True
    pipecat = False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module == "pipecat.runner.run" and any(a.name == "main" for a in node.names):
                return True
            pipecat = pipecat or node.module.split(".")[0] == "pipecat"
        elif isinstance(node, ast.Import):
            pipecat = pipecat or any(a.name.split(".")[0] == "pipecat" for a in node.names)
    return pipecat and any(_is_main_guard(s) for s in tree.body)


def _is_main_guard(stmt: ast.stmt) -> bool:
    test = stmt.test if isinstance(stmt, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


@dataclass
class _Module:
    defs: dict[str, tuple[int, int]]  # top-level function/class: first and last line
    seeds: set[str]  # names the top-level code uses
    uses: dict[str, set[str]]  # names each def uses
    imports: list[tuple[str | None, ast.Import | ast.ImportFrom]]  # (owning def, statement)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _module(source: str, path: str) -> _Module | None:
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    info = _Module({}, set(), {}, [])
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
            info.defs[stmt.name] = (first, stmt.end_lineno or stmt.lineno)
            info.uses[stmt.name] = _names(stmt)
            info.imports += [(stmt.name, i) for i in _imports(stmt)]
            # decorators, base classes and default values run at import
            for part in [*stmt.decorator_list, *getattr(stmt, "bases", [])]:
                info.seeds |= _names(part)
        else:
            info.seeds |= _names(stmt)
            info.imports += [(None, i) for i in _imports(stmt)]
    return info


def _included(info: _Module, wanted: set[str] | None) -> set[str]:
    """The defs reachable from the top-level code and ``wanted`` (ALL: every def)."""
    if wanted is ALL:
        return set(info.defs)
    todo = [n for n in (info.seeds | wanted) if n in info.defs]
    done: set[str] = set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        todo += [n for n in info.uses[name] if n in info.defs and n not in done]
    return done


def _requests(
    stmt: ast.Import | ast.ImportFrom, path: str, files: Sequence[str]
) -> list[tuple[str, set[str] | None]]:
    """The project files an import statement reaches, each with the names it takes."""
    from pcc_env.image import module_file

    out: list[tuple[str, set[str] | None]] = []

    def packages(dotted: str) -> None:  # importing a.b runs a/__init__.py's top level
        parts = dotted.split(".")
        for i in range(1, len(parts)):
            hit = module_file(".".join(parts[:i]), files)
            if hit is not None:
                out.append((hit, set()))

    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            packages(alias.name)
            hit = module_file(alias.name, files)
            if hit is not None:
                out.append((hit, ALL))
        return out
    base = stmt.module or ""
    if stmt.level:
        package = posixpath.dirname(path).replace("/", ".")
        up = package.split(".") if package else []
        up = up[: len(up) - (stmt.level - 1)] if stmt.level > 1 else up
        base = ".".join([*up, base] if base else up)
    if base:
        packages(base)
    target = module_file(base, files) if base else None
    for alias in stmt.names:
        sub = module_file(f"{base}.{alias.name}" if base else alias.name, files)
        if sub is not None:
            out.append((sub, ALL))
        elif target is not None:
            out.append((target, ALL if alias.name == "*" else {alias.name}))
    return out


def reachable(
    root: Path, entry: str | Sequence[str], files: Sequence[str]
) -> dict[str, tuple[set[str] | None, dict[str, tuple[int, int]]]]:
    """Per agent file: the defs it reaches (ALL for every one) and every top-level def's lines,
    from one entry point or several."""
    entries = [entry] if isinstance(entry, str) else list(entry)
    infos: dict[str, _Module | None] = {}
    wanted: dict[str, set[str] | None] = dict.fromkeys(entries, ALL)
    todo = list(entries)
    while todo:
        path = todo.pop()
        if path not in infos:
            text = _read(root, path)
            infos[path] = _module(text, path) if text is not None else None
        info = infos[path]
        if info is None:
            continue
        included = _included(info, wanted[path])
        for owner, stmt in info.imports:
            if owner is not None and owner not in included:
                continue
            for target, names in _requests(stmt, path, files):
                if target == path:
                    continue
                before = wanted.get(target, set())
                after = ALL if before is ALL or names is ALL else before | names
                if target not in wanted or after != before:
                    wanted[target] = after
                    todo.append(target)
    out: dict[str, tuple[set[str] | None, dict[str, tuple[int, int]]]] = {}
    for path, names in wanted.items():
        info = infos.get(path)
        defs = info.defs if info is not None else {}
        out[path] = (_included(info, names) if info is not None else ALL, defs)
    return out


def _inside(line: int, reach: tuple[set[str] | None, dict[str, tuple[int, int]]]) -> bool:
    included, defs = reach
    if included is ALL:
        return True
    return not any(
        first <= line <= last for name, (first, last) in defs.items() if name not in included
    )


def split_scan(root: Path, scan: ScanResult, entry: str | None = None) -> AgentScan:
    """The agent's part of ``scan`` (see the module doc). With no entry point found (and none
    given), no read is the agent's: each file's reads are reported apart."""
    reason = ""
    entries = [entry] if entry is not None else []
    if entry is None:
        entries, reason = find_entries(root, scan.files)
    entries = [e for e in entries if e in scan.files]
    if not entries:
        reason = reason or NO_ENTRY
    reach = reachable(root, entries, scan.files) if entries else {}
    agent_files = [f for f in [*entries, *scan.files] if f in reach]
    agent_files = list(dict.fromkeys(agent_files))

    def mine(path: str, line: int | None) -> bool:
        return path in reach and (line is None or _inside(line, reach[path]))

    agent = replace(  # files: still every file scanned (what "N files scanned" counts)
        scan,
        files=list(scan.files),
        reads=[r for r in scan.reads if mine(r.path, r.line)],
        dynamic=[p for p in scan.dynamic if mine(p.path, p.line)],
        unparsable=list(scan.unparsable),
        attributes=set(scan.attributes),
    )
    by_file: dict[str, list[EnvRead]] = {}
    for r in scan.reads:
        if not mine(r.path, r.line):
            by_file.setdefault(r.path, []).append(r)
    outside = [Outside(p, tuple(rs), partly=p in reach) for p, rs in by_file.items()]
    first = entries[0] if entries else None
    return AgentScan(first, reason, agent, outside, agent_files, entries)
