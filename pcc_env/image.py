"""Which project files reach the agent's image: a Dockerfile and ``.dockerignore``, read as text.

``pcc-env init`` writes ``settings.py`` beside ``bot.py``, but ``pipecat init``'s Dockerfile (and
half the real ones) copies ``bot.py`` alone, so the agent dies with ``ModuleNotFoundError`` at its
first session. This module answers, without Docker and without a build: where would a project
file land in the final stage (``image_paths``), does a module land beside the entry point so its
import works (``shipping``), and what is the smallest edit that makes it (``ship_edit``: one
``COPY`` line added right after the one that copies ``bot.py``, re-parsed to prove it works).

It follows what the build does with the instructions that move files: line continuations,
comments, the ``# escape=`` directive, heredocs, ``COPY``/``ADD`` flags (``--from`` copies from a
stage or another image, not from the context; ``--chown``/``--chmod``/``--link`` are kept in an
edit), the JSON-array form, ``ARG``/``ENV`` substitution, ``WORKDIR``, and multi-stage builds (a
stage built ``FROM`` another inherits its files; ``COPY --from=stage`` carries them over). What it
cannot know (a ``$VAR`` with no value, a path only the base image knows) makes the answer "cannot
tell", never a guess. ``RUN`` commands that move files are not followed.

It also adds ``pcc-env`` to the project's dependencies (``pyproject.toml`` or
``requirements.txt``, by inserting text). Pure: it reads only the text it is given.
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"
ENTRY = "bot.py"  # what Pipecat Cloud's base image imports
UNKNOWN_WORKDIR = "."  # the base image's WORKDIR: not in the Dockerfile
REQUIREMENT = "pcc-env"
KEPT_FLAGS = ("--chown", "--chmod", "--link")  # carried over to an added COPY line


# Patterns (Go's filepath.Match, with ``**`` as .dockerignore and BuildKit read it) -------------


def _glob_regex(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("^"):
                    body = "^" + body[1:].replace("\\", "\\\\")
                else:
                    body = body.replace("\\", "\\\\").replace("^", "\\^")
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_glob_regex(pattern) + r"\Z", re.DOTALL)


def _has_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _ancestors(path: str) -> list[str]:
    """``a/b/c.py`` -> ``["a", "a/b"]`` (an absolute path keeps its leading ``/``)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts)) if "/".join(parts[:i])]


def _clean(path: str) -> str:
    """A context path as the build cleans it: no leading ``/`` or ``./``, ``.`` for the root."""
    cleaned = posixpath.normpath("/" + path.replace("\\", "/")).lstrip("/")
    return cleaned or "."


# .dockerignore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreRule:
    line: int
    pattern: str
    exception: bool  # ``!pattern``: include again


@dataclass(frozen=True)
class DockerIgnore:
    """``.dockerignore``: the last rule matching a path (or a folder holding it) decides."""

    rules: tuple[IgnoreRule, ...] = ()

    def excluded_by(self, path: str) -> IgnoreRule | None:
        """The rule that leaves ``path`` (relative to the context) out, None when it is sent."""
        path = _clean(path)
        decided: IgnoreRule | None = None
        candidates = [path, *_ancestors(path)]
        for rule in self.rules:
            regex = _compiled(rule.pattern)
            if any(regex.match(c) for c in candidates):
                decided = None if rule.exception else rule
        return decided


def parse_dockerignore(text: str | None) -> DockerIgnore:
    """The rules of a ``.dockerignore`` (None: no file, nothing excluded). As Docker reads them:
    ``#`` starts a comment line, blanks are trimmed, ``!`` makes an exception, a pattern is
    cleaned (``/x`` and ``./x`` are ``x``)."""
    if not text:
        return DockerIgnore()
    rules: list[IgnoreRule] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = line[1:].strip() if exception else line
        if not pattern:
            continue
        pattern = _clean(pattern)
        if pattern == ".":
            pattern = "**"
        rules.append(IgnoreRule(number, pattern, exception))
    return DockerIgnore(tuple(rules))


# Dockerfile ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword (upper case), arguments with continuations joined, and the
    physical lines it spans (1-based, inclusive)."""

    keyword: str
    args: str
    line: int
    end_line: int
    indent: str = ""
    heredocs: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.args}".strip()


@dataclass(frozen=True)
class Copy:
    """A ``COPY``/``ADD``: from the build context, another stage (``stage``), or another image
    (``external``). ``workdir`` is the stage's WORKDIR at that line."""

    instruction: Instruction
    sources: tuple[str, ...]
    dest: str
    flags: tuple[str, ...]
    json_form: bool
    workdir: str
    stage: int | None = None
    external: bool = False
    uncertain: bool = False  # a ``$VAR`` with no known value in a source or the destination
    excludes: tuple[str, ...] = ()
    raw_sources: tuple[str, ...] = ()  # as written (before ``$VAR`` substitution)
    raw_dest: str = ""


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: int | None  # FROM an earlier stage
    copies: tuple[Copy, ...]
    workdir: str


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None


_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9_]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def parse_instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, as the build reads them: a line ending in the escape
    character (``\\`` or the ``# escape=`` directive's) continues, comment and empty lines
    inside a continuation are dropped, a heredoc's body is not read as instructions."""
    escape = "\\"
    lines = text.splitlines()
    i = 0
    while i < len(lines):  # parser directives: only at the very top
        match = _DIRECTIVE.match(lines[i].strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("`", "\\"):
            escape = match.group(2)
        i += 1
    out: list[Instruction] = []
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start, parts = i, []
        indent = raw[: len(raw) - len(raw.lstrip())]
        while True:
            body = lines[i].rstrip()
            if body.endswith(escape) and i + 1 < len(lines):
                parts.append(body[:-1])
                i += 1
                while i < len(lines) and (
                    not lines[i].strip() or lines[i].lstrip().startswith("#")
                ):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(body.removesuffix(escape))
            break
        end = i
        joined = " ".join(p.strip() for p in parts).strip()
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        heredocs: list[tuple[bool, str]] = []
        if keyword in ("RUN", "COPY", "ADD"):
            heredocs = [(m.group(1) == "-", m.group(3)) for m in _HEREDOC.finditer(args)]
        for dash, word in heredocs:  # skip each body, up to its terminator
            i += 1
            while i < len(lines) and (lines[i].lstrip("\t") if dash else lines[i]) != word:
                i += 1
            end = min(i, len(lines) - 1)
        out.append(
            Instruction(
                keyword, args.strip(), start + 1, end + 1, indent, tuple(w for _, w in heredocs)
            )
        )
        i += 1
    return out


_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def _expand(text: str, env: dict[str, str]) -> tuple[str, bool]:
    """``$X``/``${X}``/``${X:-d}`` from the ARG and ENV values seen so far; False when one has
    no known value."""
    known = True

    def sub(m: re.Match[str]) -> str:
        nonlocal known
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3) or ""
        value = env.get(name)
        if op in (":-", "-"):
            return value if value else word
        if op in (":+", "+"):
            return word if value else ""
        if value is None:
            known = False
            return m.group(0)
        return value

    return _VAR.sub(sub, text), known


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args, posix=True)
    except ValueError:
        return args.split()


def _assignments(args: str, keyword: str) -> dict[str, str]:
    words = _words(args)
    if keyword == "ENV" and len(words) >= 2 and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}  # legacy ``ENV KEY value``
    out: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if name:
            out[name] = value if sep else out.get(name, "")
    return out


def _split_copy(args: str) -> tuple[list[str], list[str], bool]:
    """(flags, paths, json form) of a COPY/ADD's arguments."""
    flags: list[str] = []
    rest = args.strip()
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.lstrip()
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return flags, list(value), True
    return flags, _words(rest), False


def _flag(flags: Sequence[str], name: str) -> list[str]:
    return [f.partition("=")[2] for f in flags if f.partition("=")[0].lower() == name]


def _resolve(path: str, workdir: str) -> str:
    if path.startswith("/"):
        return posixpath.normpath("/" + path.lstrip("/"))
    return posixpath.normpath(posixpath.join(workdir, path))


def parse_dockerfile(text: str) -> Dockerfile:
    """The instructions, and per stage what each COPY/ADD moves (with the WORKDIR it sees)."""
    instructions = parse_instructions(text)
    stages: list[Stage] = []
    names: dict[str, int] = {}
    global_args: dict[str, str] = {}
    env: dict[str, str] = {}
    copies: list[Copy] = []
    workdir = UNKNOWN_WORKDIR
    current: tuple[str | None, int | None] | None = None

    def close() -> None:
        if current is not None:
            stages.append(Stage(len(stages), current[0], current[1], tuple(copies), workdir))

    for ins in instructions:
        kw = ins.keyword
        if kw == "FROM":
            close()
            words = [w for w in _words(ins.args) if not w.startswith("--")]
            image, _ = _expand(words[0], global_args) if words else ("", True)
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            base = names.get(image.lower())
            parent = stages[base] if base is not None else None
            workdir = parent.workdir if parent is not None else UNKNOWN_WORKDIR
            env, copies = {}, []
            current = (name, base)
            if name:
                names[name.lower()] = len(stages)
        elif current is None:
            if kw == "ARG":
                global_args.update(_assignments(ins.args, kw))
        elif kw in ("ARG", "ENV"):
            values = _assignments(ins.args, kw)
            if kw == "ARG":  # ``ARG X`` in a stage takes the global default
                values = {k: v or global_args.get(k, "") for k, v in values.items()}
            env.update({k: _expand(v, env)[0] for k, v in values.items()})
        elif kw == "WORKDIR":
            path, _ = _expand(ins.args.strip().strip("\"'"), env)
            workdir = _resolve(path, workdir)
        elif kw in ("COPY", "ADD"):
            flags, paths, json_form = _split_copy(ins.args)
            if len(paths) < 2:
                continue
            known = True
            expanded = []
            for p in paths:
                value, ok = _expand(p, env)
                known = known and ok
                expanded.append(value)
            *sources, dest = expanded
            sources = [
                s
                for s in sources
                if not s.startswith("<<")
                and not (kw == "ADD" and re.match(r"^[a-z][a-z0-9+.-]*://|^git@", s, re.I))
            ]
            stage: int | None = None
            external = False
            for ref in _flag(flags, "--from"):
                ref = _expand(ref, env)[0]
                if ref.lower() in names:
                    stage = names[ref.lower()]
                elif ref.isdigit() and int(ref) < len(stages):
                    stage = int(ref)
                else:
                    external = True
            if not sources:
                continue
            copies.append(
                Copy(
                    ins, tuple(sources), dest, tuple(flags), json_form, workdir, stage,
                    external, not known, tuple(_flag(flags, "--exclude")),
                    tuple(paths[:-1]), paths[-1],
                )
            )  # fmt: skip
    close()
    return Dockerfile(tuple(instructions), tuple(stages))


# Where a file lands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    """One place a project file lands in a stage, and the context COPY that brought it in."""

    path: str  # in the image; relative when the base image's WORKDIR decides
    origin: Copy
    uncertain: bool = False
    via: Copy | None = None  # the COPY that put it in this stage (``--from``: not the origin)


def _match(source: str, target: str, image: bool) -> tuple[bool, str | None]:
    """Whether ``source`` (a COPY source) takes ``target``: (True, None) for the file itself,
    (True, rest) when it names a folder holding it (its contents are copied: ``rest`` is the
    path inside), (False, None) otherwise."""
    if image:
        source = posixpath.normpath("/" + source.lstrip("/"))
        if source == "/":
            return True, target.lstrip("/")
    else:
        source = _clean(source)
        if source == ".":
            return True, target
    regex = _compiled(source)
    if regex.match(target):
        return True, None
    for parent in reversed(_ancestors(target)):
        if regex.match(parent):
            return True, target[len(parent) :].lstrip("/")
    return False, None


def _stage_dirs(st: Stage) -> set[str]:
    """Paths known to be folders in a stage: its WORKDIRs."""
    return {UNKNOWN_WORKDIR, st.workdir, *(c.workdir for c in st.copies)}


def _into(copy: Copy, dirs: set[str]) -> bool:
    """Whether the destination is a folder the sources go into (not a file's new name)."""
    many = len(copy.sources) > 1 or any(_has_glob(s) for s in copy.sources)
    base = _resolve(copy.dest, copy.workdir)
    return copy.dest.endswith("/") or many or base in dirs or copy.dest in (".", "./")


def _dest(copy: Copy, target: str, rest: str | None, dirs: set[str]) -> str:
    base = _resolve(copy.dest, copy.workdir)
    if any(f.lower() in ("--parents", "--parents=true") for f in copy.flags):
        return _resolve(target, base)
    if rest is not None:  # a folder's contents go into the destination
        return _resolve(rest, base)
    return _resolve(posixpath.basename(target), base) if _into(copy, dirs) else base


def _excluded(copy: Copy, path: str) -> bool:
    return any(_compiled(_clean(p)).match(path) for p in copy.excludes)


def landings(
    dockerfile: Dockerfile, ignore: DockerIgnore, path: str, stage: int | None = None
) -> list[Landing]:
    """Where the project file ``path`` (relative to the context) lands in ``stage`` (default:
    the final one): none when no COPY takes it or ``.dockerignore`` keeps it out."""
    if not dockerfile.stages:
        return []
    index = len(dockerfile.stages) - 1 if stage is None else stage
    return _landings(dockerfile, ignore, _clean(path), index, 0)


def _landings(
    dockerfile: Dockerfile, ignore: DockerIgnore, path: str, index: int, depth: int
) -> list[Landing]:
    st = dockerfile.stages[index]
    found: list[Landing] = []
    if st.base is not None and depth < len(dockerfile.stages):
        found = _landings(dockerfile, ignore, path, st.base, depth + 1)
    dirs = _stage_dirs(st)
    sent = ignore.excluded_by(path) is None
    for copy in st.copies:
        if copy.external:
            continue
        if copy.stage is None:
            targets = [Landing(path, copy)] if sent else []
        elif copy.stage < index and depth < len(dockerfile.stages):
            targets = _landings(dockerfile, ignore, path, copy.stage, depth + 1)
        else:
            continue
        for t in targets:
            for source in copy.sources:
                hit, rest = _match(source, t.path, image=copy.stage is not None)
                if not hit:
                    continue
                if copy.stage is not None and not t.path.startswith("/"):
                    uncertain = True  # where the other stage's base put it is unknown
                else:
                    uncertain = t.uncertain or copy.uncertain
                if _excluded(copy, rest if rest is not None else posixpath.basename(t.path)):
                    continue
                origin = t.origin if copy.stage is not None else copy
                found.append(Landing(_dest(copy, t.path, rest, dirs), origin, uncertain, copy))
                break
        if copy.uncertain and copy.stage is None and sent and not found:
            found.append(Landing("?", copy, True))
    return found


# Shipping a module -----------------------------------------------------------------------------

Verdict = Literal["shipped", "missing", "unknown"]


@dataclass(frozen=True)
class Shipping:
    """Whether ``module`` reaches the image where the entry point imports it. ``line`` is the
    Dockerfile line to change (the one that copies the entry point), ``excluded_by`` the
    ``.dockerignore`` line that keeps the module out of the context."""

    module: str
    verdict: Verdict
    reason: str
    line: int | None = None
    instruction: str | None = None
    image_path: str | None = None
    expected: str | None = None
    excluded_by: int | None = None
    origin: Copy | None = field(default=None, repr=False, compare=False)

    @property
    def shipped(self) -> bool | None:
        return {"shipped": True, "missing": False}.get(self.verdict)

    @property
    def where(self) -> str:
        return f"{DOCKERFILE}:{self.line}" if self.line is not None else DOCKERFILE


def find_entry(
    dockerfile: Dockerfile, ignore: DockerIgnore, files: Iterable[str]
) -> tuple[str, Landing] | None:
    """The project file that lands as ``bot.py`` in the final stage (``COPY ./bot-openai.py
    bot.py`` makes ``bot-openai.py`` the agent), else where the project's ``bot.py`` lands."""
    candidates: list[tuple[str, Landing]] = []
    files = list(files)
    for f in files:
        for land in landings(dockerfile, ignore, f):
            if land.path != "?" and posixpath.basename(land.path) == ENTRY:
                candidates.append((f, land))
    # the shallowest bot.py in the image is the one the base image imports (from its WORKDIR)
    candidates.sort(key=lambda c: (c[1].path.count("/"), posixpath.basename(c[0]) != ENTRY))
    return candidates[0] if candidates else None


def _short(text: str, limit: int = 80) -> str:
    from pcc_env.rules import escape_text

    text = escape_text(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shipping(
    dockerfile: Dockerfile, ignore: DockerIgnore, module: str, files: Iterable[str]
) -> Shipping:
    """Whether ``module`` (relative to the context) lands beside the agent's entry point as it
    sits in the project (``settings.py`` next to ``bot.py``: ``import settings`` works)."""
    module = _clean(module)
    name = _short(module)
    files = [_clean(f) for f in files]
    if module not in files:
        files.append(module)
    entry = find_entry(dockerfile, ignore, files)
    if entry is None:
        return Shipping(
            module, "unknown",
            f"no COPY or ADD puts {ENTRY} into the final stage: cannot tell where the agent "
            f"imports {name} from",
        )  # fmt: skip
    entry_file, entry_land = entry
    origin = entry_land.origin
    line, shown = origin.instruction.line, _short(origin.instruction.text)
    rel = posixpath.relpath(module, posixpath.dirname(entry_file) or ".")
    expected = posixpath.normpath(posixpath.join(posixpath.dirname(entry_land.path), rel))
    lands = landings(dockerfile, ignore, module)
    common: dict[str, Any] = {
        "line": line, "instruction": shown, "expected": expected, "origin": origin,
    }  # fmt: skip
    if any(land.path == expected for land in lands):
        return Shipping(module, "shipped", f"{name} reaches the image beside {ENTRY}", **common)
    if any(land.uncertain for land in lands) or entry_land.uncertain:
        return Shipping(
            module, "unknown",
            f"cannot tell whether {name} reaches the image ({DOCKERFILE} uses a value or a "
            "path the build decides)", **common,
        )  # fmt: skip
    rule = ignore.excluded_by(module)
    if rule is not None:
        return Shipping(
            module, "missing",
            f"{DOCKERIGNORE}:{rule.line} keeps {name} out of the build context, so it never "
            f"reaches the image", excluded_by=rule.line, **common,
        )  # fmt: skip
    if lands:
        at = _short(lands[0].path)
        return Shipping(
            module, "missing",
            f"{name} lands at {at}, not beside {ENTRY} ({_short(entry_land.path)}): the "
            f"agent cannot import it", image_path=lands[0].path, **common,
        )  # fmt: skip
    alone = "alone" if len(origin.sources) == 1 and not _has_glob(origin.sources[0]) else ""
    what = f"copies {_short(entry_file)} {alone}".strip()
    via = entry_land.via
    if via is not None and via is not origin:
        what += f" and {DOCKERFILE}:{via.instruction.line} carries it into the final stage"
    return Shipping(
        module, "missing",
        f"{name} would not reach the image: {DOCKERFILE}:{line} ({shown}) {what}, and no "
        f"other line copies {name}",
        **common,
    )  # fmt: skip


# The edit --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipEdit:
    """Text to write so the module ships: the new Dockerfile (a COPY line after ``after_line``)
    and/or a new ``.dockerignore`` (an exception for the module appended)."""

    dockerfile: str | None
    dockerignore: str | None
    summary: str
    after_line: int | None = None
    new_line: str | None = None


def _copy_line(origin: Copy, module: str, dest: str) -> str:
    """``COPY [flags] ./module dest`` in the origin's style (``./`` prefix, JSON form, the
    ``--chown``/``--chmod``/``--link`` flags). ``COPY``, not ``ADD``: a plain file needs no more."""
    flags = [f for f in origin.flags if f.partition("=")[0].lower() in KEPT_FLAGS]
    first = origin.raw_sources[0] if origin.raw_sources else ""
    source = ("./" if first.startswith("./") else "") + module
    if origin.json_form:
        paths = json.dumps([source, dest])
    else:
        paths = " ".join(p if "$" in p else shlex.quote(p) for p in (source, dest))
    return " ".join(["COPY", *flags, paths])


def _dest_text(origin: Copy, rel: str, dirs: set[str]) -> str:
    """The destination as the origin line writes it: the same folder (``bot.py`` ->
    ``settings.py``, ``/app/`` stays ``/app/``, ``${APP}`` is kept)."""
    if _into(origin, dirs):
        sub = posixpath.dirname(rel)
        return posixpath.join(origin.raw_dest, sub) + "/" if sub else origin.raw_dest
    return posixpath.join(posixpath.dirname(origin.raw_dest), rel)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _insert_after(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    nl = _newline(text)
    if lines and not lines[line - 1].endswith(("\n", "\r")):
        lines[line - 1] += nl
    lines.insert(line, new + nl)
    return "".join(lines)


def ship_edit(
    dockerfile_text: str,
    dockerignore_text: str | None,
    module: str,
    files: Iterable[str],
) -> ShipEdit | None:
    """The smallest edit that makes ``module`` ship beside the entry point, or None when it
    ships already or no edit can be proven to work (then ``shipping`` says which line to change
    by hand). The edit is checked by parsing the result again."""
    files = list(files)
    df = parse_dockerfile(dockerfile_text)
    ignore = parse_dockerignore(dockerignore_text)
    verdict = shipping(df, ignore, module, files)
    if verdict.verdict != "missing" or verdict.origin is None or verdict.expected is None:
        return None
    module = verdict.module
    new_ignore: str | None = None
    parts: list[str] = []
    if verdict.excluded_by is not None and dockerignore_text is not None:
        nl = _newline(dockerignore_text)
        sep = "" if not dockerignore_text or dockerignore_text.endswith("\n") else nl
        new_ignore = (
            f"{dockerignore_text}{sep}# pcc-env init: the settings module ships{nl}!{module}{nl}"
        )
        ignore = parse_dockerignore(new_ignore)
        parts.append(f"!{module} in {DOCKERIGNORE}")
        again = shipping(df, ignore, module, files)
        if again.verdict == "shipped":
            return ShipEdit(None, new_ignore, _short(", ".join(parts), 120))
    origin = verdict.origin
    stage = next(s.index for s in df.stages if origin in s.copies)
    entry = find_entry(df, ignore, files)
    if entry is None:
        return None
    entry_file = entry[0]
    in_stage = [land for land in landings(df, ignore, entry_file, stage) if land.origin is origin]
    if not in_stage:
        return None
    rel = posixpath.relpath(module, posixpath.dirname(entry_file) or ".")
    if rel.startswith("../"):  # the module sits above the entry point: no COPY line puts it beside
        return None
    dest = _dest_text(origin, rel, _stage_dirs(df.stages[stage]))
    new_line = origin.instruction.indent + _copy_line(origin, module, dest)
    text = _insert_after(dockerfile_text, origin.instruction.end_line, new_line)
    if shipping(parse_dockerfile(text), ignore, module, files).verdict != "shipped":
        return None
    parts.append(f"add '{new_line.strip()}' after line {origin.instruction.end_line}")
    return ShipEdit(
        text, new_ignore, _short(", ".join(parts), 160), origin.instruction.end_line,
        new_line.strip(),
    )  # fmt: skip


# What the settings module imports --------------------------------------------------------------


def module_file(module: str, files: Iterable[str]) -> str | None:
    """The project file of a dotted module name (``a.b``: ``a/b.py`` or ``a/b/__init__.py``)."""
    names = set(files)
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in names:
            return candidate
    return None


def _guarded(node: ast.Try) -> bool:
    for handler in node.handlers:
        kinds = handler.type
        elts = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds] if kinds else []
        for kind in elts:
            if isinstance(kind, ast.Name) and kind.id in ("ImportError", "ModuleNotFoundError"):
                return True
        if kinds is None:
            return True
    return False


def project_imports(source: str, path: str, files: Iterable[str]) -> list[str]:
    """The project files the module at ``path`` imports (an import guarded by ``except
    ImportError`` is optional and left out). A module that does not parse imports nothing."""
    names = list(files)
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError):
        return []
    package = posixpath.dirname(path).replace("/", ".")
    if path.endswith("/__init__.py"):
        package = posixpath.dirname(path).replace("/", ".")
    found: list[str] = []

    def add(module: str) -> None:
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            hit = module_file(".".join(parts[:i]), names)
            if hit is not None and hit not in found and hit != path:
                found.append(hit)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try) and _guarded(node):
            for stmt in [*node.orelse, *node.finalbody]:
                visit(stmt)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".") if package else []
                up = up[: len(up) - (node.level - 1)] if node.level > 1 else up
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                add(f"{base}.{alias.name}" if base else alias.name)
            if base:
                add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_closure(
    start: str, files: Iterable[str], read: Callable[[str], str | None]
) -> list[str]:
    """``start`` and every project module it imports, directly or not (``read`` gives a
    file's text, None when it cannot be read)."""
    names = list(files)
    seen = [start]
    i = 0
    while i < len(seen):
        text = read(seen[i])
        if text is not None:
            seen += [m for m in project_imports(text, seen[i], names) if m not in seen]
        i += 1
    return seen


# pcc-env in the dependencies -------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _requirement_name(spec: str) -> str | None:
    m = _REQ_NAME.match(spec)
    return _norm(m.group(1)) if m else None


DepStatus = Literal["add", "present", "manual"]


@dataclass(frozen=True)
class DependencyEdit:
    """``pcc-env`` in the project's dependencies: the file, its new text (``add``), or why not."""

    status: DepStatus
    file: str | None
    summary: str
    text: str | None = None


def requirements_has(text: str) -> bool:
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")) and _requirement_name(line) == REQUIREMENT:
            return True
    return False


def add_to_requirements(text: str, requirement: str) -> DependencyEdit:
    name = "requirements.txt"
    if requirements_has(text):
        return DependencyEdit("present", name, f"{REQUIREMENT} is listed already")
    if "--hash" in text:
        return DependencyEdit(
            "manual", name,
            f"uses --hash (pip then needs a hash for every line): add {requirement} with its "
            "hash yourself (pip-compile --generate-hashes)",
        )  # fmt: skip
    nl = _newline(text)
    sep = "" if not text or text.endswith("\n") else nl
    return DependencyEdit("add", name, requirement, f"{text}{sep}{requirement}{nl}")


def _string_end(text: str, i: int) -> int | None:
    """The index just past the TOML string starting at ``i`` (None: unterminated)."""
    ch = text[i]
    triple = text.startswith(ch * 3, i)
    quote = ch * 3 if triple else ch
    j, n = i + len(quote), len(text)
    while j < n:
        if ch == '"' and text[j] == "\\":
            j += 2
            continue
        if text.startswith(quote, j):
            return j + len(quote)
        if not triple and text[j] == "\n":
            return None
        j += 1
    return None


def _array_end(text: str, start: int) -> int | None:
    """The index of the ``]`` closing the TOML array opened at ``start``, skipping strings and
    comments."""
    depth, i, n = 0, start, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = n if nl == -1 else nl
            continue
        if ch in "\"'":
            after = _string_end(text, i)
            if after is None:
                return None
            i = after
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _last_token(text: str, start: int, end: int) -> int | None:
    """The index of the last character before ``end`` that is neither blank nor in a comment
    (a string counts by its closing quote)."""
    last: int | None = None
    i = start
    while i < end:
        ch = text[i]
        if ch == "#":
            nl = text.find("\n", i)
            i = end if nl == -1 or nl > end else nl
            continue
        if ch in "\"'":
            after = _string_end(text, i)
            if after is None or after > end:
                return None
            last, i = after - 1, after
            continue
        if not ch.isspace():
            last = i
        i += 1
    return last


_PROJECT_HEADER = re.compile(
    r"""^[ \t]*\[[ \t]*(?:project|"project"|'project')[ \t]*\][ \t]*(?:#.*)?$""", re.M
)
_DEPS_KEY = re.compile(
    r"""^[ \t]*(?:dependencies|"dependencies"|'dependencies')[ \t]*=[ \t]*\[""", re.M
)
_ANY_HEADER = re.compile(r"^[ \t]*\[", re.M)


def _insert_dependency(text: str, requirement: str) -> str | None:
    header = _PROJECT_HEADER.search(text)
    if header is None:
        return None
    nxt = _ANY_HEADER.search(text, header.end())
    section_end = nxt.start() if nxt else len(text)
    key = _DEPS_KEY.search(text, header.end(), section_end)
    quoted = json.dumps(requirement)
    nl = _newline(text)
    if key is None:
        at = header.end()
        return text[:at] + f"{nl}dependencies = [{quoted}]" + text[at:]
    opening = key.end() - 1
    close = _array_end(text, opening)
    if close is None:
        return None
    inner = text[opening + 1 : close]
    line_start = text.rfind("\n", 0, close) + 1
    if "\n" in inner and not text[line_start:close].strip():
        # ``]`` on its own line: a new element line before it, indented as the others
        items = [ln for ln in inner.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        indent = items[-1][: len(items[-1]) - len(items[-1].lstrip())] if items else "    "
        body = text[:line_start]
        last = _last_token(text, opening + 1, line_start)
        if last is not None and text[last] not in ",[":
            body = text[: last + 1] + "," + text[last + 1 : line_start]
        return body + f"{indent}{quoted},{nl}" + text[line_start:]
    last = _last_token(text, opening + 1, close)
    if last is None or text[last] == "[":
        return text[:close] + quoted + text[close:]
    if text[last] == ",":
        return text[: last + 1] + f" {quoted}" + text[last + 1 :]
    return text[: last + 1] + f", {quoted}" + text[last + 1 :]


def add_to_pyproject(
    text: str, requirement: str, parse: Callable[[str], dict[str, Any]]
) -> DependencyEdit:
    """``requirement`` inserted into ``[project] dependencies`` (every other line as written);
    the result must parse to the old data plus that one requirement, else nothing is edited."""
    name = "pyproject.toml"
    data = parse(text)
    project = data.get("project")
    if not isinstance(project, dict):
        return DependencyEdit("manual", name, "has no [project] table")
    deps = project.get("dependencies", [])
    if "dependencies" in (project.get("dynamic") or []):
        return DependencyEdit("manual", name, "declares its dependencies dynamic")
    if not isinstance(deps, list):
        return DependencyEdit("manual", name, "[project] dependencies is not a list")
    if any(isinstance(d, str) and _requirement_name(d) == REQUIREMENT for d in deps):
        return DependencyEdit("present", name, f"{REQUIREMENT} is a dependency already")
    new = _insert_dependency(text, requirement)
    expected = {**data, "project": {**project, "dependencies": [*deps, requirement]}}
    try:
        ok = new is not None and parse(new) == expected
    except Exception:  # the insertion broke the file: never write it
        ok = False
    if not ok or new is None:
        return DependencyEdit(
            "manual", name,
            f"cannot add {requirement} to [project] dependencies without rewriting the file",
        )  # fmt: skip
    return DependencyEdit("add", name, f"[project] dependencies += {requirement}", new)


def _installs_requirements(dockerfile_text: str | None) -> bool:
    if not dockerfile_text:
        return False
    return any(
        ins.keyword in ("RUN", "COPY", "ADD") and "requirements" in ins.args
        for ins in parse_instructions(dockerfile_text)
    )


def dependency_edit(
    pyproject: str | None,
    requirements: str | None,
    dockerfile_text: str | None,
    requirement: str,
    parse: Callable[[str], dict[str, Any]],
) -> DependencyEdit:
    """Add ``pcc-env`` where the project lists what the image installs: ``requirements.txt``
    when the Dockerfile installs from it (or there is no ``[project]`` table), else
    ``[project] dependencies``. Never a second pcc-env requirement."""
    py: DependencyEdit | None = None
    if pyproject is not None:
        py = add_to_pyproject(pyproject, requirement, parse)
    req = add_to_requirements(requirements, requirement) if requirements is not None else None
    if py is not None and py.status == "present":
        return py
    if req is not None and req.status == "present":
        return req
    if req is not None and (
        py is None or py.status == "manual" or _installs_requirements(dockerfile_text)
    ):
        return req
    if py is not None:
        return py
    return DependencyEdit(
        "manual", None,
        f"no pyproject.toml [project] or requirements.txt: add {requirement} to the image's "
        "dependencies yourself",
    )  # fmt: skip


@dataclass(frozen=True)
class ShipPlan:
    """What ``init`` found about the image: whether the settings module ships (None: no
    Dockerfile), the edit that makes it (None: none needed, or none proven), pcc-env in the
    dependencies, and what is left to the user (a line to edit by hand, ``uv lock``)."""

    shipping: Shipping | None
    edit: ShipEdit | None
    dependency: DependencyEdit
    notes: tuple[str, ...] = ()
    relock: bool = False

    def to_json(self) -> dict[str, Any]:
        s, e, d = self.shipping, self.edit, self.dependency
        image: dict[str, Any] | None = None
        if s is not None:
            image = {
                "dockerfile": DOCKERFILE,
                "module": s.module,
                "ships": s.shipped,
                "line": s.line,
                "instruction": s.instruction,
                "reason": s.reason,
                "edit": None
                if e is None
                else {
                    "afterLine": e.after_line,
                    "add": e.new_line,
                    "dockerignore": e.dockerignore is not None,
                },
            }
        return {
            "image": image,
            "dependency": {"file": d.file, "status": d.status, "summary": d.summary},
            "notes": list(self.notes),
        }


def requirement_spec(version: str) -> str:
    """``pcc-env>=<this version>`` for a release version (the model needs this API), else the
    bare name."""
    return f"{REQUIREMENT}>={version}" if re.fullmatch(r"\d+(\.\d+)*", version) else REQUIREMENT


def plan_shipping(
    dockerfile_text: str | None,
    dockerignore_text: str | None,
    module: str,
    files: Iterable[str],
    dependency: DependencyEdit,
    has_uv_lock: bool,
) -> ShipPlan:
    """The image part of ``init``'s plan, from the project's texts (see ``ShipPlan``)."""
    from pcc_env.rules import escape_text

    notes: list[str] = []
    name = _short(module)
    verdict: Shipping | None = None
    edit: ShipEdit | None = None
    if dockerfile_text is not None:
        files = list(files)
        verdict = shipping(
            parse_dockerfile(dockerfile_text), parse_dockerignore(dockerignore_text), module, files
        )
        edit = ship_edit(dockerfile_text, dockerignore_text, module, files)
        if verdict.verdict == "missing" and edit is None:
            notes.append(
                f"{verdict.reason}. init cannot prove an edit of {verdict.where} works: make "
                f"{DOCKERFILE} copy {name} beside {ENTRY} yourself ('pcc-env check' fails "
                "until it does)."
            )
        elif verdict.verdict == "unknown":
            notes.append(f"{verdict.reason}: make sure {name} ships beside {ENTRY}.")
    relock = dependency.status == "add" and dependency.file == "pyproject.toml" and has_uv_lock
    if dependency.status == "manual":
        where = f"{escape_text(dependency.file)} " if dependency.file else ""
        notes.append(
            f"{where}{dependency.summary}: add {REQUIREMENT} to the dependencies yourself."
            if dependency.file
            else f"{dependency.summary}."
        )
    if relock:
        notes.append(
            "uv.lock: run 'uv lock' once pyproject.toml has pcc-env (the Dockerfile's "
            "'uv sync --locked' refuses a stale lock) and commit it."
        )
    return ShipPlan(verdict, edit, dependency, tuple(notes), relock)


def settings_module_file(ref: str, files: Iterable[str]) -> str | None:
    """The project file of a ``[tool.pcc-env] settings`` reference (``module:Class`` or
    ``path/to/file.py:Class``), None when it is not a project file (an installed package)."""
    target = ref.rpartition(":")[0]
    names = [_clean(f) for f in files]
    if target.endswith(".py") or "/" in target:
        path = _clean(target)
        return path if path in names else None
    return module_file(target, names)


@dataclass(frozen=True)
class ImageCheck:
    ok: bool
    message: str


def check_image(
    dockerfile_text: str,
    dockerignore_text: str | None,
    module: str,
    files: Iterable[str],
    read: Callable[[str], str | None],
    leave_out: frozenset[str] = frozenset(),
) -> list[ImageCheck]:
    """``check``: one failure per module (the settings module and the project modules it
    imports) that would not reach the image beside ``bot.py``, naming the Dockerfile line and
    the edit that fixes it; else one passing finding. "Cannot tell" passes, saying so.
    ``leave_out``: modules already reported missing (``build_context``: not uploaded)."""
    files = [_clean(f) for f in files]
    df, ignore = parse_dockerfile(dockerfile_text), parse_dockerignore(dockerignore_text)
    modules = import_closure(module, files, read)
    out: list[ImageCheck] = []
    unknown: list[Shipping] = []
    for m in modules:
        if m in leave_out:
            continue
        verdict = shipping(df, ignore, m, files)
        if verdict.verdict == "unknown":
            unknown.append(verdict)
        if verdict.verdict != "missing":
            continue
        by = "" if m == module else f" (imported by the settings module {_short(module)})"
        edit = ship_edit(dockerfile_text, dockerignore_text, m, files)
        fix = f"; fix: {edit.summary}" if edit else ""
        where = f"{DOCKERIGNORE}:{verdict.excluded_by}" if verdict.excluded_by else verdict.where
        prefix = "" if where in verdict.reason else f"{where}: "
        out.append(ImageCheck(False, f"{prefix}{verdict.reason}{by}{fix}"))
    if out:
        return out
    if unknown:
        return [ImageCheck(True, f"image: {unknown[0].reason} ({unknown[0].where})")]
    more = f" and the {len(modules) - 1} project module(s) it imports" if len(modules) > 1 else ""
    return [
        ImageCheck(
            True,
            f"{DOCKERFILE} ships the settings module {_short(module)}{more} beside {ENTRY}",
        )
    ]
