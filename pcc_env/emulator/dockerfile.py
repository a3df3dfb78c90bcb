"""Just enough of a Dockerfile to know what a build would copy from its context (pure).

The emulator imports nothing of pcc-env but rules and models, so it does not share
``pcc_env.image`` (which answers a different question: where project files land in the image).
This reads what decides whether ``docker build`` finds its sources: continuation lines, comments,
the ``# escape=`` directive, heredocs (skipped), ``ARG``/``ENV`` values for ``$VAR`` in sources,
stages (only those the final stage needs are built, as BuildKit does), ``COPY``/``ADD`` with
their flags and JSON form. ``COPY --from`` and ``ADD`` of a URL do not read the context. A
``RUN`` that is exactly ``false`` or ``exit N`` fails, so a test can make a build fail on purpose.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9_]*)\s*=\s*(.*?)\s*$")
_HEREDOC = re.compile(r"<<(-?)(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")
_EXIT = re.compile(r"(?:exit\s+([0-9]+)|false)")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # continuations joined
    line: int  # first physical line, 1-based

    @property
    def text(self) -> str:
        return f"{self.keyword} {self.args}".strip()


@dataclass(frozen=True)
class Step:
    """One instruction of a stage that is built. ``sources`` are context paths (COPY/ADD from
    the context, or a RUN's bind mounts), ``None`` when the step reads no context or a source
    cannot be known."""

    instruction: Instruction
    sources: tuple[str, ...] | None = None
    exit_code: int | None = None  # a RUN that fails on purpose


def instructions(text: str) -> list[Instruction]:
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
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start, parts = i, []
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
        keyword, _, args = " ".join(p.strip() for p in parts).strip().partition(" ")
        keyword = keyword.upper()
        if keyword in ("RUN", "COPY", "ADD"):
            for m in _HEREDOC.finditer(args):  # skip each body, up to its terminator
                i += 1
                while i < len(lines) and (lines[i].lstrip("\t") if m.group(1) else lines[i]) != (
                    m.group(3)
                ):
                    i += 1
        out.append(Instruction(keyword, args.strip(), start + 1))
        i += 1
    return out


def _expand(text: str, env: dict[str, str]) -> str | None:
    """``$X``, ``${X}``, ``${X:-default}``; ``None`` when a variable has no known value."""
    unknown = False

    def sub(m: re.Match[str]) -> str:
        nonlocal unknown
        name = m.group(1) or m.group(3)
        if name in env:
            return env[name]
        if m.group(2) is not None:
            return m.group(2)
        unknown = True
        return ""

    out = _VAR.sub(sub, text)
    return None if unknown else out


def _words(args: str) -> list[str]:
    try:
        return shlex.split(args, posix=True)
    except ValueError:
        return args.split()


def _assignments(keyword: str, args: str) -> dict[str, str]:
    words = _words(args)
    if keyword == "ENV" and words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}  # ENV NAME value
    out: dict[str, str] = {}
    for word in words:
        name, eq, value = word.partition("=")
        if eq:
            out[name] = value
    return out


def _leading_flags(args: str) -> tuple[list[str], str]:
    flags: list[str] = []
    rest = args
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.lstrip()
    return flags, rest


def _bind_sources(flags: list[str], env: dict[str, str]) -> tuple[str, ...] | None:
    """What ``RUN --mount=type=bind,source=X`` reads from the context (``bind`` is the default
    type; ``from=`` mounts another stage or image). Mounted, not copied: not in the image."""
    sources: list[str] = []
    for flag in flags:
        if not flag.startswith("--mount="):
            continue
        options = dict(
            (part.partition("=")[0], part.partition("=")[2])
            for part in flag.removeprefix("--mount=").split(",")
        )
        if options.get("type", "bind") != "bind" or "from" in options:
            continue
        expanded = _expand(options.get("source") or options.get("src") or ".", env)
        if expanded is not None:
            sources.append(expanded)
    return tuple(sources) or None


def _copy_parts(args: str) -> tuple[list[str], list[str]]:
    """Flags and paths (sources then destination) of a COPY/ADD."""
    flags, rest = _leading_flags(args)
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return flags, list(parsed)
    return flags, _words(rest)


def _from_stage(flags: list[str]) -> bool:
    return any(f.startswith("--from=") for f in flags)


def _needed_stages(stages: list[tuple[str | None, list[Instruction]]]) -> set[int]:
    """The stages the final one needs: itself, its bases and its ``--from`` stages."""
    names = {name: i for i, (name, _) in enumerate(stages) if name is not None}

    def ref(word: str, before: int) -> int | None:
        if word in names and names[word] < before:
            return names[word]
        if word.isdigit() and int(word) < before:
            return int(word)
        return None

    needed: set[int] = set()
    todo = [len(stages) - 1] if stages else []
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        for ins in stages[i][1]:
            words = _words(ins.args)
            if ins.keyword == "FROM" and words:
                words = [w for w in words if not w.startswith("--")]
                base = ref(words[0], i) if words else None
                if base is not None:
                    todo.append(base)
            elif ins.keyword in ("COPY", "ADD"):
                for flag in _copy_parts(ins.args)[0]:
                    if flag.startswith("--from="):
                        stage = ref(flag.removeprefix("--from="), i)
                        if stage is not None:
                            todo.append(stage)
    return needed


def steps(text: str) -> list[Step]:
    """The steps a build runs, in order: those of the stages the final stage needs."""
    stages: list[tuple[str | None, list[Instruction]]] = []
    global_args: dict[str, str] = {}
    for ins in instructions(text):
        if ins.keyword == "FROM":
            words = [w for w in _words(ins.args) if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append((name, [ins]))
        elif stages:
            stages[-1][1].append(ins)
        elif ins.keyword == "ARG":
            global_args.update(_assignments("ARG", ins.args))
    needed = _needed_stages(stages)
    out: list[Step] = []
    for index, (_, body) in enumerate(stages):
        if index not in needed:
            continue
        env = dict(global_args)
        for ins in body:
            if ins.keyword in ("ARG", "ENV"):
                env.update(_assignments(ins.keyword, ins.args))
                out.append(Step(ins))
            elif ins.keyword in ("COPY", "ADD"):
                out.append(Step(ins, _context_sources(ins, env)))
            elif ins.keyword == "RUN":
                flags, command = _leading_flags(ins.args)
                m = _EXIT.fullmatch(command.strip())
                code = None if m is None else int(m.group(1) or 1)
                out.append(Step(ins, _bind_sources(flags, env), code if code else None))
            else:
                out.append(Step(ins))
    return out


def _context_sources(ins: Instruction, env: dict[str, str]) -> tuple[str, ...] | None:
    flags, paths = _copy_parts(ins.args)
    if _from_stage(flags) or len(paths) < 2:
        return None
    sources: list[str] = []
    for raw in paths[:-1]:
        if raw.startswith("<<"):
            continue  # a heredoc: text in the Dockerfile, not a context file
        if ins.keyword == "ADD" and ("://" in raw or raw.startswith("git@")):
            continue
        expanded = _expand(raw, env)
        if expanded is None:
            return None  # cannot tell what it names
        sources.append(expanded)
    return tuple(sources)
