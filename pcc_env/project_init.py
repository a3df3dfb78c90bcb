"""``pcc-env init``: typed settings for an existing bot, planned from what its code reads.

``plan_fields`` turns a scan (``pcc_env.scan``) and the keys of ``.env`` into the fields of a
``SecretSettings`` model; ``settings_source`` writes them as Python; ``plan_init`` decides what
happens to each file (settings module, template, ``.gitignore``, ``pyproject.toml``) from their
current text, refusing before anything is written; ``apply_init`` writes. ``drift`` compares an
existing model with the code. Values never enter here: only the names of ``.env``'s keys.
"""

from __future__ import annotations

import fnmatch
import keyword
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pcc_env.errors import ConfigError
from pcc_env.rules import holds_credential, library_reading, looks_secret
from pcc_env.scan import EnvRead, Scalar, ScanResult, left_out

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from pcc_env.discover import FoundModel
    from pcc_env.image import ShipPlan

SETTINGS_FILE = "settings.py"
SETTINGS_CLASS = "Settings"
SETTINGS_REF = "settings:Settings"
TEMPLATE_FILE = ".env.example"
READ_ELSEWHERE = "__pcc_read_elsewhere__"
MAX_PROJECT_FILE_BYTES = 1024 * 1024
SHOWN_PLACES = 3
TypeName = Literal["str", "int", "float", "bool"]


# Fields -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldPlan:
    """One field of the model to write. ``default`` only counts when ``required`` is False."""

    env_name: str
    field_name: str
    alias: bool  # the field name is not the env name: Field(validation_alias=env_name)
    secret: bool
    type_name: TypeName
    required: bool
    default: Scalar
    description: str
    places: tuple[str, ...]  # "bot.py:12": where the code reads it (empty: only in .env)
    # The code gives it a default that is (or holds) a credential: required, default not copied.
    withheld: bool = False
    # How the code treats a missing value (``scan.Need``), and where/why: "checked for presence
    # (bot.py:12)", "used when TTS == 'cartesia' (bot.py:30)". "unknown": the scan cannot tell.
    need: str = "required"
    why: str = ""
    library: str | None = None  # no scanned code reads it, but this library does (optional)

    @property
    def annotation(self) -> str:
        base = "SecretStr" if self.secret else self.type_name
        return f"{base} | None" if not self.required and self.default is None else base

    @property
    def summary(self) -> str:
        """Required, or the default (never a secret's), for the plan."""
        if self.withheld:
            return "required (its default in code is a credential: not copied)"
        if self.required:
            return "required"
        if self.library:
            return f"optional (read by a library: {self.library})"
        if self.default is None:
            if self.need == "unknown":
                return f"optional (undecided: {self.why})"
            return f"optional ({self.why})" if self.why else "optional"
        if self.secret:
            return "default in code"
        return f"default {self.default!r}"


@dataclass(frozen=True)
class LeftOut:
    name: str
    reason: str
    places: tuple[str, ...]


def _places(reads: Sequence[EnvRead]) -> tuple[str, ...]:
    seen: list[str] = []
    for r in reads:
        if r.where not in seen:
            seen.append(r.where)
    return tuple(seen)


def _places_text(places: Sequence[str]) -> str:
    shown = ", ".join(places[:SHOWN_PLACES])
    more = len(places) - SHOWN_PLACES
    return shown + (f" and {more} more place{'s' if more > 1 else ''}" if more > 0 else "")


def _field_name(env_name: str, taken: set[str]) -> tuple[str, bool]:
    """The Python name of a field for ``env_name``: its lower case when that is a plain
    identifier the model accepts, else a sanitised name (and the env name as alias)."""
    from pcc_env.runtime import SecretSettings

    name = env_name.lower()
    plain = (
        name.isidentifier()
        and name.isascii()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and not hasattr(SecretSettings, name)
    )
    if not plain:
        name = re.sub(r"\W", "_", name, flags=re.ASCII).strip("_") or "var"
        if name[0].isdigit():
            name = f"env_{name}"
        if keyword.iskeyword(name) or hasattr(SecretSettings, name):
            name += "_"
    alias = not plain
    while name in taken:
        name += "_"
        alias = True
    taken.add(name)
    return name, alias


WITHHELD_NOTE = "; required: its default in code is a credential, not copied"
WITHHELD_COMMENT = (
    "    # Required: the code's default is (or holds) a credential, so 'pcc-env init' did not\n"
    "    # copy it here. Put the value in .env, and rotate it if it was ever committed.\n"
)


def default_is_credential(reads: Sequence[EnvRead]) -> bool:
    """Whether a literal default the code gives the variable is or holds a credential (a URL
    with ``user:password@``, ``?token=``, a key's shape): then it is a secret, whatever its
    name."""
    return any(
        r.default_kind == "literal" and isinstance(r.default, str) and holds_credential(r.default)
        for r in reads
    )


def _type_and_default(reads: Sequence[EnvRead], secret: bool) -> tuple[TypeName, bool, Scalar, str]:
    """(type, required, default, note) from every read of one variable. A secret's default
    (other than empty) counts as a credential: never copied, so the field becomes required
    (optional with no default, the bot would start without the value it used to have)."""
    casts = {r.cast for r in reads if r.how != "in environ"}
    type_name: TypeName = "str"
    if casts == {"bool"}:  # a helper such as _env_bool("X", False)
        type_name = "bool"
    elif casts == {"int"}:
        type_name = "int"
    elif casts and casts <= {"int", "float"}:
        type_name = "float"
    literal = next((r for r in reads if r.default_kind == "literal"), None)
    if literal is not None:
        value = literal.default
        if secret:
            if value == "":
                return "str", False, "", ""
            return "str", True, None, WITHHELD_NOTE
        if type_name == "bool" and isinstance(value, bool):
            return type_name, False, value, ""
        if isinstance(value, bool) or value is None:
            return type_name, False, None, ""
        if isinstance(value, (int, float)) and type_name == "str":
            type_name = "int" if isinstance(value, int) else "float"
        converted = _convert(value, type_name)
        if converted is None:  # int("auto"): keep the text
            return "str", False, str(value), ""
        return type_name, False, converted, ""
    if any(r.default_kind == "computed" for r in reads):
        return type_name, False, None, "; its default is computed in code"
    if all(r.how == "in environ" for r in reads):
        return type_name, False, None, ""
    need, _ = field_need(reads)
    return type_name, need == "required", None, ""


def field_need(reads: Sequence[EnvRead]) -> tuple[str, str]:
    """(need, why) of a variable from every read: required when one read uses the value with
    no default, check or fallback; else conditional (a mode or provider switch), then unknown
    (the scan cannot tell: said so, never guessed required), then optional."""
    for need in ("required", "conditional", "unknown", "optional"):
        hit = next((r for r in reads if r.need == need), None)
        if hit is not None:
            return need, f"{hit.why} at {hit.where}" if hit.why else ""
    return "optional", ""


UNDECIDED_COMMENT = (
    "    # Undecided: 'pcc-env init' cannot tell whether the code needs it ({why}).\n"
    "    # Optional for now; drop the default to make it required if the bot cannot run\n"
    "    # without it.\n"
)
CONDITIONAL_COMMENT = "    # Optional: {why}.\n"


def _convert(value: str | int | float, type_name: str) -> Scalar:
    if type_name == "bool":  # the words pydantic reads as booleans
        word = str(value).strip().lower()
        truth = {"1": True, "true": True, "yes": True, "on": True}
        falsity = {"0": False, "false": False, "no": False, "off": False}
        return truth.get(word, falsity.get(word))
    try:
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
    except (TypeError, ValueError):
        return None
    return str(value)


UNREAD_TEMPLATE_KEY = "no code reads it, nor a library pcc-env knows of: it stays in the template"


def plan_fields(
    scan: ScanResult,
    env_keys: Sequence[str],
    outside: Mapping[str, Sequence[str]] | None = None,
    template_keys: Sequence[str] = (),
    template_name: str = TEMPLATE_FILE,
) -> tuple[list[FieldPlan], list[LeftOut]]:
    """The model's fields: every variable the code reads, in the order found, then the keys of
    ``.env`` that no code reads (optional: a library may read them), and the template's keys
    that a library reads (``rules.library_reading``: the Pipecat runner's ``DAILY_API_KEY``),
    optional and marked as such. A template key nothing reads stays in the template and is no
    field (left out, with the reason); with a name computed at run time in the code, it may be
    that one: an optional field, undecided. Names the system or Pipecat Cloud sets, and names
    that cannot be secret keys, are left out (with the reason). A key of ``.env`` that only code
    outside the agent reads (``outside``: variable -> places, see ``pcc_env.reach``) stays
    optional, described as such."""
    elsewhere = {k.upper(): tuple(v) for k, v in (outside or {}).items()}
    fields: list[FieldPlan] = []
    skipped: list[LeftOut] = []
    taken: set[str] = set()
    by_name = scan.by_name()
    for env_name, reads in by_name.items():
        places = _places(reads)
        reason = left_out(env_name)
        if reason is not None:
            skipped.append(LeftOut(reads[0].name, reason, places))
            continue
        # the names as the code writes them: 'elevenLabsKey' has words, 'ELEVENLABSKEY' not
        secret = (
            looks_secret(env_name)
            or any(looks_secret(r.name) for r in reads)
            or default_is_credential(reads)
        )
        type_name, required, default, note = _type_and_default(reads, secret)
        need, why = field_need(reads) if not required else ("required", "")
        if not required and default is None and need in ("conditional", "unknown"):
            note += f"; {'undecided: ' if need == 'unknown' else ''}{why}"
        name, alias = _field_name(env_name, taken)
        fields.append(
            FieldPlan(
                env_name, name, alias, secret, type_name, required, default,
                f"read in {_places_text(places)}{note}", places, note == WITHHELD_NOTE,
                need, why,
            )
        )  # fmt: skip
    seen = set(by_name)
    for where, keys in ((".env", env_keys), (template_name, template_keys)):
        for key in keys:
            if key.upper() in seen:
                continue
            seen.add(key.upper())
            reason = left_out(key)
            if reason is not None:
                skipped.append(LeftOut(key, reason, (where,)))
                continue
            if where != ".env" and key.upper() in elsewhere:
                # a key of the template that only another program reads (server.py): the
                # template keeps it for that program, the agent's model does not hold it
                places = (where, *elsewhere[key.upper()])
                skipped.append(LeftOut(key, "read outside the agent only", places))
                continue
            library = library_reading(key)
            need, why = "optional", ""
            if where != ".env" and library is None and key.upper() not in elsewhere:
                if not scan.dynamic:  # nothing reads it: the template keeps it, the model not
                    skipped.append(LeftOut(key, UNREAD_TEMPLATE_KEY, (where,)))
                    continue
                # a name computed at run time may be this one: said so, never guessed
                need = "unknown"
                why = f"no literal read; a name computed at {scan.dynamic[0].where} may be it"
            name, alias = _field_name(key.upper(), taken)
            note = f"read by a library ({library})" if library else "no scanned code reads it"
            if need == "unknown":
                note += f"; undecided: {why}"
            if key.upper() in elsewhere:  # push sends it anyway; a library of the agent may
                note = f"read outside the agent only ({_places_text(elsewhere[key.upper()])})"
            fields.append(
                FieldPlan(
                    key.upper(), name, alias, looks_secret(key), "str", False, None,
                    f"in {where}; {note}", (), need=need, why=why, library=library,
                )
            )  # fmt: skip
    return fields, skipped


# The settings module ----------------------------------------------------------------------------

MODULE_DOC = '''"""Typed settings of this bot, written by 'pcc-env init' from the environment
variables its code reads and the keys of .env. Edit it freely: 'pcc-env init' never rewrites it
without --force; run again, it reports what changed in the code since.

Load them once at start-up (values come from the environment, then .env, then defaults):

    from pcc_env import load_settings

    from settings import Settings

    settings = load_settings(Settings)

Names that look like secrets are SecretStr: pass settings.openai_api_key.get_secret_value()
to a service; they never show in logs or reprs.
"""
'''


def _py(value: Scalar) -> str:
    """A Python literal, strings in double quotes (as formatters write them)."""
    text = repr(value)
    if isinstance(value, str) and text.startswith("'"):
        text = '"' + text[1:-1].replace('"', '\\"') + '"'
    return text


def _field_line(f: FieldPlan) -> str:
    args: list[str] = []
    if not f.required:
        default = _py(f.default)
        args.append(f"SecretStr({default})" if f.secret and f.default is not None else default)
    if f.alias:
        args.append(f"validation_alias={_py(f.env_name)}")
    args.append(f"description={_py(f.description)}")
    head = f"    {f.field_name}: {f.annotation} = Field("
    comment = WITHHELD_COMMENT if f.withheld else ""
    if not f.required and f.default is None and f.need == "unknown":
        comment = UNDECIDED_COMMENT.format(why=_comment_text(f.why))
    elif not f.required and f.default is None and f.need == "conditional":
        comment = CONDITIONAL_COMMENT.format(why=_comment_text(f.why))
    line = head + ", ".join(args) + ")"
    if len(line) <= 100:
        return comment + line
    return comment + head + "\n" + "".join(f"        {a},\n" for a in args) + "    )"


def _comment_text(text: str) -> str:
    """One line of a Python comment: escaped, no line break."""
    from pcc_env.rules import escape_text

    return escape_text(text).replace("\n", " ").replace("\r", " ")


def settings_source(fields: Sequence[FieldPlan]) -> str:
    """The settings module: a ``SecretSettings`` subclass, one field per variable."""
    lines = [MODULE_DOC, "from pydantic import Field"]
    if any(f.secret for f in fields):
        lines[-1] += ", SecretStr"
    lines += ["", "from pcc_env import SecretSettings", "", ""]
    lines.append(f"class {SETTINGS_CLASS}(SecretSettings):")
    lines.append('    """The environment variables this bot reads."""')
    lines.append("")
    lines += [_field_line(f) for f in fields]
    elsewhere = [f.env_name for f in fields if not f.places]
    if elsewhere:
        lines += [
            "",
            "    # In .env or the template, but no scanned code reads them (a library, such as the",
            "    # Pipecat runner reading DAILY_API_KEY, may): 'pcc-env init' does not report them",
            "    # as unread.",
            f"    {READ_ELSEWHERE} = ({''.join(f'{_py(n)}, ' for n in elsewhere).rstrip()})",
        ]
    return "\n".join(lines) + "\n"


def model_from_source(text: str) -> type[BaseSettings]:
    """Build the model ``settings_source`` wrote, without a file: the template is made from it
    (and this proves the generated module runs)."""
    namespace: dict[str, Any] = {"__name__": "_pcc_env_init_settings"}
    exec(compile(text, SETTINGS_FILE, "exec", dont_inherit=True), namespace)
    model: type[BaseSettings] = namespace[SETTINGS_CLASS]
    return model


# Files ------------------------------------------------------------------------------------------

Action = Literal["create", "overwrite", "update", "append", "unchanged", "conflict"]


@dataclass(frozen=True)
class FileChange:
    """What ``init`` does to one file. ``text`` is the whole new content (never a value)."""

    path: Path
    action: Action
    summary: str
    text: str | None = field(default=None, repr=False)
    before: str | None = field(default=None, repr=False)  # planned from (None: no file)
    # Why a real run refuses this file (a template holding what may be real values): a dry run
    # shows the whole plan and says so instead of stopping before anything is shown.
    refusal: Exception | None = field(default=None, repr=False)

    @property
    def writes(self) -> bool:
        return self.action in ("create", "overwrite", "update", "append")


def read_existing(path: Path) -> str | None:
    """The text of a project file, None when it does not exist. Anything but a regular UTF-8
    file (a FIFO, a directory, a huge file) is refused (``InputError``, exit 2)."""
    from pcc_env.dotenv_file import decode_env_bytes, read_regular_file

    if not path.exists() and not path.is_symlink():
        return None
    return decode_env_bytes(read_regular_file(path, "a project file", MAX_PROJECT_FILE_BYTES), path)


def settings_change(path: Path, current: str | None, text: str, force: bool, n: int) -> FileChange:
    secrets = text.count(": SecretStr")
    summary = f"the {SETTINGS_CLASS} model: {n} field(s), {secrets} secret"
    if current is None:
        return FileChange(path, "create", summary, text)
    if current == text:
        return FileChange(path, "unchanged", summary)
    if not force:
        return FileChange(path, "conflict", "exists; --force overwrites it")
    return FileChange(path, "overwrite", summary, text, current)


def template_change(
    path: Path, current: str | None, model: type[BaseSettings], force: bool
) -> FileChange:
    """The template (an existing ``env.example`` or ``.env.example``, else a new
    ``.env.example``) from the model, as ``export --output`` writes it: created, or updated in
    place, even with --force (its comments, order, placeholders and keys no code reads kept; new
    keys appended, optional ones commented out). A file that may hold real values (not
    placeholders: ``dotenv_file.template_problem_lines``) is refused (``InputError``)."""
    from pcc_env.dotenv_file import (
        TEMPLATE_ADVICE,
        _line_list,
        render_template,
        template_problem_lines,
        update_template,
    )
    from pcc_env.errors import InputError
    from pcc_env.rules import escape_text
    from pcc_env.sync import template_entries

    entries = template_entries(model, None, None)
    header = [
        "Onboarding template written by 'pcc-env init'",
        f"from settings {SETTINGS_REF}.",
        TEMPLATE_ADVICE,
    ]
    summary = f"{len(entries)} keys, no values"
    if current is None:
        return FileChange(path, "create", summary, render_template(entries, header))
    bad = template_problem_lines(current)
    if bad:
        raise InputError(
            f"holds values or content other than comments, KEY= lines and placeholders "
            f"({_line_list(bad)}); init never writes over such a file, not even with --force. "
            "Replace each value by a placeholder (your-key-here) or leave it empty, then run "
            "'pcc-env init' again. Nothing was written.",
            source=escape_text(path.name),
        )
    del force  # a template is updated in place: regenerating it would drop its comments
    text = update_template(current, entries)
    if text == current:
        return FileChange(path, "unchanged", "already lists every key")
    return FileChange(path, "update", summary, text, current)


def env_is_ignored(text: str, name: str = ".env") -> bool:
    """Whether a ``.gitignore`` ignores a file ``name`` (default ``.env``) at the top: the last
    pattern that matches it wins, and ``!pattern`` un-ignores (directory-only patterns ``x/``
    do not match a file)."""
    ignored = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.endswith("/"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = pattern.removeprefix("**/").lstrip("/")
        if "/" not in pattern and fnmatch.fnmatchcase(name, pattern):
            ignored = not negate
    return ignored


# Files that hold values (``.env.production``, ``.env.local``...: the names frameworks and the
# README's targets use) and templates, which must stay committed. A template init does not know
# of is kept committed when it exists (``gitignore_change``'s ``templates``).
VALUE_FILE_PROBES = (
    ".env",
    ".env.local",
    ".env.production",
    ".env.prod",
    ".env.staging",
    ".env.development",
    ".env.dev",
    ".env.test",
)
TEMPLATE_NAMES = (".env.example", "env.example", ".env.sample", ".env.template", ".env.dist")
GITIGNORE_HEAD = "# Local secrets: never commit them; templates stay committed (pcc-env init)\n"


def gitignore_lines(current: str, templates: Sequence[str] = (TEMPLATE_FILE,)) -> list[str]:
    """The lines that make ``current`` ignore ``.env`` and every ``.env.*`` holding values
    while leaving each of ``templates`` committed; none when it does so already."""
    lines: list[str] = []

    def text() -> str:
        return current + "\n" + "\n".join(lines)

    if not env_is_ignored(current, ".env"):
        lines.append(".env")
    if any(not env_is_ignored(text(), name) for name in VALUE_FILE_PROBES):
        lines.append(".env.*")
    lines.extend(f"!{name}" for name in templates if env_is_ignored(text(), name))
    return lines


def gitignore_change(
    path: Path, current: str | None, templates: Sequence[str] = (TEMPLATE_FILE,)
) -> FileChange:
    lines = gitignore_lines(current or "", templates)
    if current is not None and not lines:
        return FileChange(path, "unchanged", ".env and .env.* are ignored already")
    entry = GITIGNORE_HEAD + "".join(f"{line}\n" for line in lines)
    summary = ", ".join(lines)
    if current is None:
        return FileChange(path, "create", summary, entry)
    sep = "" if not current or current.endswith("\n") else "\n"
    blank = "\n" if current.strip() else ""
    return FileChange(path, "append", summary, current + sep + blank + entry, current)


def project_templates(root: Path) -> list[str]:
    """The template init writes (``dotenv_file.find_template``: the project's own, else
    ``.env.example``), and any other template the project has (kept committed)."""
    from pcc_env.dotenv_file import find_template

    written = find_template(root).name
    return [written] + [n for n in TEMPLATE_NAMES if n != written and (root / n).is_file()]


_TABLE_HEADER = re.compile(
    r"""^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*(?:pcc-env|"pcc-env"|'pcc-env')[ \t]*\][ \t]*(?:#.*)?$""",
    re.MULTILINE,
)


def _toml(text: str, path: Path) -> dict[str, Any]:
    from pcc_env.deploy_config import parse_toml

    try:
        return parse_toml(text, path)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; nothing was written") from None


def pyproject_change(path: Path, current: str | None, ref: str = SETTINGS_REF) -> FileChange:
    """Add ``settings = "<ref>"`` to ``[tool.pcc-env]``, creating the table when missing, by
    inserting text: every other line stays as written. The result is parsed again and must hold
    exactly the old data plus that key, else nothing is written (``ConfigError``)."""
    line = f"settings = {_toml_string(ref)}"
    summary = f"[tool.pcc-env] {line}"
    if current is None:
        return FileChange(path, "create", summary, f"[tool.pcc-env]\n{line}\n")
    before = _toml(current, path)
    tool = before.get("tool")
    table = tool.get("pcc-env") if isinstance(tool, dict) else None
    existing = table.get("settings") if isinstance(table, dict) else None
    if existing == ref:
        return FileChange(path, "unchanged", f"{summary} already")
    if existing is not None:
        shown = existing if isinstance(existing, str) and existing.isprintable() else "?"
        raise ConfigError(
            f"{path}: [tool.pcc-env] already names settings {shown!r}; init writes {ref!r}. "
            f"Compare that model with the code instead: run 'pcc-env init' without --force, or "
            "remove the line first. Nothing was written."
        )
    match = _TABLE_HEADER.search(current)
    if match is not None:
        at = match.end()
        text = current[:at] + "\n" + line + current[at:]
    else:
        sep = "" if not current or current.endswith("\n") else "\n"
        text = current + sep + ("\n" if current.strip() else "") + f"[tool.pcc-env]\n{line}\n"
    try:
        after: dict[str, Any] | None = _toml(text, path)
    except ConfigError:  # the table is defined inline or by dotted keys: it cannot be reopened
        after = None
    if after != _with_settings(before, ref):
        raise ConfigError(
            f"{path}: cannot add the setting without rewriting the file (is [tool.pcc-env] or "
            f"[tool] written inline?). Add {line} under [tool.pcc-env] yourself, then run "
            "'pcc-env init' again. Nothing was written."
        )
    return FileChange(path, "update", summary, text, current)


def _with_settings(data: dict[str, Any], ref: str) -> dict[str, Any]:
    out = dict(data)
    tool = dict(out.get("tool") or {})
    table = dict(tool.get("pcc-env") or {})
    table["settings"] = ref
    tool["pcc-env"] = table
    out["tool"] = tool
    return out


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class InitPlan:
    fields: list[FieldPlan]
    left_out: list[LeftOut]
    changes: list[FileChange]
    shipping: ShipPlan | None = None  # the settings module in the image, pcc-env in the deps
    # The project's own model, adopted: ``fields`` are then the additions it lacks (proposed,
    # never written into the user's class).
    adopted: FoundModel | None = None

    @property
    def conflicts(self) -> list[FileChange]:
        return [c for c in self.changes if c.action == "conflict"]


def plan_init(
    root: Path,
    scan: ScanResult,
    env_keys: Sequence[str],
    *,
    force: bool = False,
    all_files: Sequence[str] | None = None,
    outside: Mapping[str, Sequence[str]] | None = None,
) -> InitPlan:
    """Every file's change, decided before anything is written. Raises ``ConfigError`` or
    ``InputError`` for a file that must not be touched (a template holding values, a
    pyproject that names another model or cannot be edited safely). ``scan`` is what the
    model holds (the agent's reads); ``all_files`` every Python file of the project (for the
    image), ``outside`` the variables only other programs read. The template is the project's
    own (``dotenv_file.find_template``: an existing ``env.example`` is updated in place)."""
    from pcc_env.dotenv_file import find_template, template_keys
    from pcc_env.errors import InputError

    template_name = find_template(root).name
    names = (SETTINGS_FILE, template_name, ".gitignore", "pyproject.toml")
    settings_path, template_path, gitignore_path, pyproject_path = (
        project_file(root, name) for name in names
    )
    template_text = read_existing(template_path)
    keys = template_keys(template_text) if template_text is not None else []
    fields, skipped = plan_fields(scan, env_keys, outside, keys, template_name)
    source = settings_source(fields)
    model = model_from_source(source)
    try:
        template = template_change(template_path, template_text, model, force)
    except InputError as exc:
        template = FileChange(template_path, "conflict", "; ".join(exc.problems), refusal=exc)
    changes = [
        settings_change(settings_path, read_existing(settings_path), source, force, len(fields)),
        template,
        gitignore_change(gitignore_path, read_existing(gitignore_path), project_templates(root)),
        pyproject_change(pyproject_path, read_existing(pyproject_path)),
    ]
    changes = [
        c
        if c.path == root / name
        else replace(c, summary=f"{c.summary} (through the symlink {name})")
        for c, name in zip(changes, names, strict=True)
    ]
    files = list(all_files) if all_files is not None else list(scan.files)
    changes, shipping = ship_changes(root, changes, [*files, SETTINGS_FILE])
    return InitPlan(fields, skipped, changes, shipping)


def plan_adopt(
    root: Path,
    scan: ScanResult,
    env_keys: Sequence[str],
    found: FoundModel,
    *,
    all_files: Sequence[str] | None = None,
    outside: Mapping[str, Sequence[str]] | None = None,
) -> InitPlan:
    """A project that has a settings model already (``pcc_env.discover``): init points
    ``[tool.pcc-env] settings`` at it and proposes, as additions, the fields it lacks for what
    the code reads, and for the keys of the project's template (``find_template``: its
    ``env.example`` lists what a library reads). It writes no second model beside it, and never
    edits the user's class (nor the template)."""
    from pcc_env.dotenv_file import find_template, template_keys
    from pcc_env.errors import InputError

    template_name = find_template(root).name
    try:  # adopt never writes the template: one linked out of the project is just not read
        template_text = read_existing(project_file(root, template_name))
    except InputError:
        template_text = None
    keys = template_keys(template_text) if template_text is not None else []
    fields, skipped = plan_fields(scan, env_keys, outside, keys, template_name)
    declared = set(found.env_names)
    additions = [f for f in fields if f.env_name not in declared]
    gitignore_path, pyproject_path = (
        project_file(root, ".gitignore"),
        project_file(root, "pyproject.toml"),
    )
    changes = [
        gitignore_change(gitignore_path, read_existing(gitignore_path), project_templates(root)),
        pyproject_change(pyproject_path, read_existing(pyproject_path), found.ref),
    ]
    files = list(all_files) if all_files is not None else list(scan.files)
    changes, shipping = ship_changes(root, changes, files, module=found.path)
    return InitPlan(additions, skipped, changes, shipping, found)


def field_line(f: FieldPlan) -> str:
    """The Python line of one field, as ``settings_source`` writes it (for a proposed
    addition to a model init adopts)."""
    return _field_line(f).strip()


def ship_changes(
    root: Path, changes: list[FileChange], py_files: Sequence[str], *, module: str = SETTINGS_FILE
) -> tuple[list[FileChange], ShipPlan]:
    """The settings module into the image (``pcc_env.image``): the Dockerfile (and
    ``.dockerignore``) edit that ships it beside ``bot.py``, and ``pcc-env`` added to
    ``pyproject.toml``'s dependencies (on top of the ``[tool.pcc-env]`` line) or to
    ``requirements.txt``. Each file is still one change, planned from its current text."""
    from dataclasses import replace

    from pcc_env import __version__
    from pcc_env.errors import InputError
    from pcc_env.image import (
        DOCKERFILE,
        DOCKERIGNORE,
        dependency_edit,
        plan_shipping,
        requirement_spec,
    )

    out = list(changes)
    unreadable: list[str] = []
    refused: set[Path] = set()

    def locate(name: str) -> Path:
        try:  # through a symlink inside the project, as the other files; never outside it
            return project_file(root, name)
        except InputError:
            refused.add(root / name)
            return root / name

    dockerfile_path, ignore_path = locate(DOCKERFILE), locate(DOCKERIGNORE)
    requirements_path = locate("requirements.txt")

    def read(path: Path) -> str | None:  # a Dockerfile init cannot read is no reason to refuse
        if path in refused:
            unreadable.append(f"{path.name} (a symlink out of the project)")
            return None
        try:
            return read_existing(path)
        except (InputError, ConfigError):
            unreadable.append(path.name)
            return None

    dockerfile, ignore, requirements = map(read, (dockerfile_path, ignore_path, requirements_path))
    at = next((i for i, c in enumerate(out) if c.path.name == "pyproject.toml"), None)
    py = out[at] if at is not None else None
    py_before = py.before if py is not None and py.writes else None
    if py is not None and not py.writes:
        py_before = read_existing(py.path)
    py_text = py.text if py is not None and py.writes else py_before
    if py is not None and py.action == "create":
        py_text = None  # a new file has no [project] table the image installs from
    dep = dependency_edit(
        py_text, requirements, dockerfile, requirement_spec(__version__),
        lambda text: _toml(text, root / "pyproject.toml"),
    )  # fmt: skip
    plan = plan_shipping(dockerfile, ignore, module, py_files, dep, (root / "uv.lock").exists())
    if unreadable:
        note = f"not read (not a regular UTF-8 file): {', '.join(unreadable)}; left as it is."
        plan = replace(plan, notes=(*plan.notes, note))
    if plan.edit is not None and plan.edit.dockerignore is not None and ignore_path in refused:
        plan = replace(plan, edit=None)  # never write over a link out of the project
    if plan.edit is not None and plan.edit.dockerfile is not None:
        out.append(
            FileChange(
                dockerfile_path, "update", plan.edit.summary, plan.edit.dockerfile, dockerfile
            )
        )
    if plan.edit is not None and plan.edit.dockerignore is not None:
        summary = f"!{module}: the settings module is sent to the build"
        out.append(FileChange(ignore_path, "update", summary, plan.edit.dockerignore, ignore))
    if dep.status == "add" and dep.text is not None:
        if dep.file == "pyproject.toml" and py is not None and at is not None:
            summary = dep.summary if not py.writes else f"{py.summary}; {dep.summary}"
            out[at] = FileChange(py.path, "update", summary, dep.text, py_before)
        elif dep.file == "requirements.txt" and requirements_path not in refused:
            out.append(FileChange(requirements_path, "append", dep.summary, dep.text, requirements))
    return out, plan


def project_file(root: Path, name: str) -> Path:
    """Where init reads and writes the project file ``name``: the file itself, or the target of
    a symlink to a file inside ``root`` (written through: the link stays a link). A symlink out
    of the project, or one that loops, is refused (``InputError``, exit 2) before anything is
    read: a cloned repository's ``.gitignore`` may point at any file of the user's."""
    from pcc_env.errors import InputError

    path = root / name
    if not path.is_symlink():
        return path
    inside = root.resolve()
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # a loop
        raise InputError(
            "is a symlink that cannot be resolved (a loop); init does not edit it. Nothing "
            "was written.",
            source=name,
        ) from None
    if not real.is_relative_to(inside):
        raise InputError(
            "is a symlink to a file outside the project; init never reads or writes outside "
            "the project. Replace the link with a file, or make the change yourself. Nothing "
            "was written.",
            source=name,
        )
    return root / real.relative_to(inside)


def apply_init(plan: InitPlan) -> list[FileChange]:
    """Write every change (atomically; an existing file keeps its mode, a new one is 0644: none
    holds a value). Returns the changes written. A file created or edited since the plan (while
    the confirmation was on screen) is never written over: ``ConfigError``, nothing written."""
    from pcc_env.dotenv_file import atomic_write_text
    from pcc_env.rules import escape_text

    moved = [c.path.name for c in plan.changes if c.writes and read_existing(c.path) != c.before]
    if moved:
        raise ConfigError(
            f"{escape_text(', '.join(moved))} changed since the plan was made; nothing was "
            "written. Run 'pcc-env init' again."
        )
    done = []
    for change in plan.changes:
        if not change.writes or change.text is None:
            continue
        mode = 0o644
        if change.path.exists():
            mode = stat.S_IMODE(change.path.stat().st_mode)
        atomic_write_text(change.path, change.text, mode=mode)
        done.append(change)
    return done


# Drift ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """An existing model against the code: variables read but not declared (with where), and
    fields nothing reads (neither an env read nor ``x.field_name``)."""

    not_in_model: list[tuple[str, tuple[str, ...]]]
    unread: list[str]
    read: int

    @property
    def ok(self) -> bool:
        return not self.not_in_model and not self.unread


def drift(model: type[BaseSettings], scan: ScanResult) -> Drift:
    from pcc_env.runtime import env_names_by_field

    by_field = env_names_by_field(model)
    declared = {n.upper() for names in by_field.values() for n in names}
    by_name = scan.by_name()
    missing = [
        (name, _places(reads))
        for name, reads in by_name.items()
        if name not in declared and left_out(name) is None
    ]
    elsewhere_raw = getattr(model, READ_ELSEWHERE, ())
    elsewhere = (
        {str(n).upper() for n in elsewhere_raw} if isinstance(elsewhere_raw, tuple) else set()
    )
    unread = [
        names[0]
        for field_name, names in by_field.items()
        if field_name not in scan.attributes
        and not any(n.upper() in by_name or n.upper() in elsewhere for n in names)
    ]
    read = sum(1 for name in by_name if name in declared)
    return Drift(missing, unread, read)
