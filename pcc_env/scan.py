"""Where a project's Python code reads environment variables, found in its syntax tree.

``pcc-env init`` turns the reads into a settings model, ``check --code`` fails for a variable the
code reads that neither the model nor the set holds, and ``init`` on an initialised project
reports drift. Parsing (``ast``), not pattern matching: a read split over lines, an alias
(``from os import environ as env``) or a variable holding ``os.environ`` is still found, and a
name in a comment or a string is not a read.

Found: ``os.getenv("X")``, ``os.getenv("X", default)``, ``os.environ["X"]``,
``os.environ.get("X", default)``, ``os.environ.setdefault(...)``, ``"X" in os.environ``, the same
through ``from os import environ, getenv`` (aliases included), through a name bound to
``os.environ`` (``env = os.environ``, ``env = dict(os.environ)``, ``os.environ.copy()``), and a
name given as a module-level string constant (``KEY = "X"; os.getenv(KEY)``). A default written
``os.getenv("X") or "d"`` counts as a default; ``int(os.getenv(...))`` and ``float(...)`` give
the variable's type. A name computed at run time is reported by place only. Each read also says
whether the code needs the value (``EnvRead.need``, see ``_Need``): a presence check, a
comparison, a fallback or a keyword argument tolerate a missing one; a read under an ``if`` on
another variable is conditional (a mode switch); "unknown" where the scan cannot tell.

Also followed, as real bots write them: one level of project helper that passes its parameter to
``getenv`` (``def _env_int(name, default): return int(os.getenv(name, default))``, then
``_env_int("X", 5)``: X, an int with default 5; the helper may live in another project module),
and names iterated from a literal list, tuple, set or dict, written in place or as a module-level
constant (``for n in ("A", "B"): os.getenv(n)``, ``{k: os.getenv(v) for k, v in MAP.items()}``).
``find_models`` lists the project's pydantic settings classes, from the syntax tree alone.

Pure apart from reading the files: nothing is printed, imported or executed.
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

# The name rule lives with the other naming rules; imported here for the scan's users.
from pcc_env.rules import SECRET_WORDS as SECRET_WORDS
from pcc_env.rules import looks_secret as looks_secret

MAX_SOURCE_BYTES = 2 * 1024 * 1024
# A default literal larger than this is no configuration value (and past ~14,000 bits Python
# refuses to convert it to decimal text): it counts as computed.
MAX_INT_BITS = 128
# A literal collection of names longer than this is data, not configuration: reads from it count
# as computed.
MAX_COLLECTION = 200
# Directories never scanned: installed packages, caches, and tests (what a test reads is not the
# bot's configuration). Hidden directories and virtual environments are skipped too.
SKIPPED_DIRS = frozenset(
    {"site-packages", "__pypackages__", "node_modules", "__pycache__", "tests", "test"}
)
# A directory holding one of these is an environment with Python and packages installed in it:
# a virtual environment (``pyvenv.cfg``) or a conda environment (``conda create -p ./env``,
# whose standard library sits in ``lib/python3.X``, outside any ``site-packages``).
ENVIRONMENT_MARKERS = ("pyvenv.cfg", "conda-meta")

# Variables the operating system, the shell or CI set: reading them is not configuration a
# secret set provides (``init`` leaves them out of the model; ``check --code`` ignores them).
SYSTEM_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "USERNAME", "LOGNAME", "SHELL", "PWD", "OLDPWD", "TERM",
        "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "HOSTNAME",
        "PYTHONPATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "CI",
        "GITHUB_ACTIONS", "NO_COLOR", "COLUMNS", "LINES", "DISPLAY", "XDG_CONFIG_HOME",
        "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "APPDATA", "LOCALAPPDATA",
        "USERPROFILE", "SYSTEMROOT", "COMSPEC", "PATHEXT",
    }
)  # fmt: skip

How = Literal["getenv", "environ[]", "environ.get", "environ.setdefault", "in environ"]
DefaultKind = Literal["none", "literal", "computed"]
# Whether the code needs the value (see ``_Need``): "required" only when it uses the value with
# no default, no presence check and no fallback.
Need = Literal["required", "optional", "conditional", "unknown"]
Cast = Literal["int", "float", "bool"]
Scalar = str | int | float | bool | None


def left_out(name: str) -> str | None:
    """Why a variable the code reads is no secret-set variable (None when it may be one): set by
    the system or CI, set by Pipecat Cloud inside the agent, or not a valid secret key."""
    from pcc_env.rules import key_problems, reserved_keys

    if name.upper() in SYSTEM_NAMES:
        return "set by the system"
    if reserved_keys([name]):
        return "set by Pipecat Cloud inside the agent"
    if key_problems(name):
        return "not a valid secret key"
    return None


@dataclass(frozen=True)
class EnvRead:
    """One read of an environment variable: where, how, and the default the code gives it."""

    name: str
    path: str  # relative to the scanned root, with '/'
    line: int
    how: How
    default_kind: DefaultKind = "none"
    default: Scalar = None  # the literal, when ``default_kind`` is "literal"
    cast: Cast | None = None
    need: Need = "required"
    why: str = ""  # how the code treats a missing value ("checked for presence", ...)
    via: str | None = None  # the project helper the name went through (``_env_int``)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Helper:
    """A project function that reads the variable its parameter names: the parameter's index,
    where the default comes from (a parameter, a literal, or nothing) and the type it returns."""

    name: str
    key_index: int
    key_param: str
    default_index: int | None = None  # the call's argument here (or by keyword) is the default
    default_param: str | None = None
    default_kind: DefaultKind = "none"  # the helper's own default when the call gives none
    default: Scalar = None
    cast: Cast | None = None


@dataclass(frozen=True)
class Place:
    path: str
    line: int | None

    @property
    def where(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass
class ScanResult:
    """Every read found under ``root``; the files scanned, and those that could not be read or
    parsed (by name and line, never their text)."""

    root: Path
    files: list[str] = field(default_factory=list)
    reads: list[EnvRead] = field(default_factory=list)
    dynamic: list[Place] = field(default_factory=list)  # reads whose name is computed
    unparsable: list[Place] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # symlinks out of root: never read
    attributes: set[str] = field(default_factory=set)  # every ``x.NAME`` read in the code

    def by_name(self) -> dict[str, list[EnvRead]]:
        """Reads grouped by variable, case folded as the runtime reads them (``upper``), in the
        order first found."""
        out: dict[str, list[EnvRead]] = {}
        for read in self.reads:
            out.setdefault(read.name.upper(), []).append(read)
        return out


# Walking the project ----------------------------------------------------------------------------


def _skip_dir(path: Path) -> bool:
    name = path.name
    return (
        name.startswith(".")
        or name in SKIPPED_DIRS
        or any((path / marker).exists() for marker in ENVIRONMENT_MARKERS)
    )


def _test_file(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def python_files(root: Path) -> Iterator[Path]:
    """The ``.py`` files under ``root``, sorted, skipping hidden directories (``.venv``,
    ``.git``...), environments (a ``pyvenv.cfg`` or ``conda-meta``), ``site-packages``,
    ``__pypackages__``, ``node_modules``,
    ``__pycache__``, and tests (``tests/``, ``test/``, ``test_*.py``, ``*_test.py``,
    ``conftest.py``). Symlinked directories are not followed."""
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        dirs[:] = sorted(d for d in dirs if not _skip_dir(here / d))
        for name in sorted(files):
            if name.endswith(".py") and not name.startswith(".") and not _test_file(name):
                yield here / name


def _inside(path: Path, root: Path) -> Path | None:
    """``path`` with every symlink resolved, or None when that is outside ``root`` (resolved)
    or cannot be resolved (a loop): a symlinked file in a cloned repository may point anywhere
    (``~/.config/...``), and its contents must never reach the model."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if real.is_relative_to(root) else None


def scan_project(root: Path, *, exclude: Iterable[Path] = ()) -> ScanResult:
    """Scan every Python file under ``root`` (see ``python_files``); files in ``exclude`` are
    left out (``init`` excludes the settings module it writes). A file that is a symlink to
    anything outside ``root`` is never read (listed in ``outside``); one to a file inside is
    read once."""
    from pcc_env.dotenv_file import read_regular_file
    from pcc_env.errors import InputError

    result = ScanResult(root)
    skipped = {p.resolve() for p in exclude}
    inside, seen = root.resolve(), set()
    sources: list[tuple[str, bytes | None]] = []
    for path in python_files(root):
        real = _inside(path, inside)
        rel = path.relative_to(root).as_posix()
        if real is None:  # a symlink out of the project: its code is not the bot's
            result.outside.append(rel)
            continue
        if real in skipped or real in seen:  # excluded, or a symlink to a file scanned already
            continue
        seen.add(real)
        try:
            sources.append((rel, read_regular_file(real, "a Python file", MAX_SOURCE_BYTES)))
        except InputError:
            sources.append((rel, None))
    helpers = project_helpers((rel, src) for rel, src in sources if src is not None)
    for rel, source in sources:
        if source is None:
            result.unparsable.append(Place(rel, None))
            continue
        failed = len(result.unparsable)
        scan_source(source, rel, result, helpers=helpers)
        if len(result.unparsable) == failed:
            result.files.append(rel)
    return result


HelperIndex = dict[str, dict[str, Helper]]  # module ("pkg.utils") -> function name -> helper


def module_name(path: str) -> str:
    """``pkg/utils.py`` -> ``pkg.utils`` (``pkg/__init__.py`` -> ``pkg``)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _parse(source: str | bytes, path: str) -> ast.Module | None:
    try:
        return ast.parse(source, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def project_helpers(sources: Iterable[tuple[str, str | bytes]]) -> HelperIndex:
    """The helpers (see ``Helper``) each module defines at its top level, so that a module
    importing one (``from utils import env_int``) has its calls followed too."""
    index: HelperIndex = {}
    for path, source in sources:
        tree = _parse(source, path)
        if tree is not None:
            found = _Module(tree, path, ScanResult(Path("."))).own_helpers()
            if found:
                index[module_name(path)] = found
    return index


def scan_source(
    source: str | bytes,
    path: str,
    result: ScanResult | None = None,
    *,
    helpers: HelperIndex | None = None,
) -> ScanResult:
    """Scan one module's source into ``result`` (a new one by default). A module that does not
    parse is listed in ``unparsable`` with the line of the error, never its text. ``helpers``:
    the project's helpers this module may import (``project_helpers``)."""
    result = result if result is not None else ScanResult(Path("."))
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        result.unparsable.append(Place(path, exc.lineno))
        return result
    except (ValueError, RecursionError, MemoryError):  # NUL bytes, absurd nesting
        result.unparsable.append(Place(path, None))
        return result
    _Module(tree, path, result, helpers or {}).run()
    return result


# One module -------------------------------------------------------------------------------------


def _literal(node: ast.expr) -> tuple[bool, Scalar]:
    """(True, value) for a constant str/int/float/bool/None (``-1`` too), else (False, None)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, type(None))):
        if isinstance(node.value, float) and not math.isfinite(node.value):  # 1e999
            return False, None
        if isinstance(node.value, int) and node.value.bit_length() > MAX_INT_BITS:
            return False, None  # 0xfff...: Python cannot even write it in decimal
        return True, node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        literal, value = _literal(node.operand)
        if literal and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, -value
    return False, None


class _Module:
    """The aliases of one module, then its reads. Flow-insensitive: a name bound to
    ``os.environ`` anywhere in the module is taken for ``os.environ`` everywhere in it."""

    def __init__(
        self, tree: ast.Module, path: str, result: ScanResult, project: HelperIndex | None = None
    ) -> None:
        self.tree = tree
        self.path = path
        self.result = result
        self.project: HelperIndex = project or {}
        self.os_names: set[str] = set()
        self.environ_names: set[str] = set()
        self.getenv_names: set[str] = set()
        self.constants: dict[str, str] = {}
        self.collections: dict[str, ast.expr] = {}  # module-level literal list/tuple/set/dict
        self.parents: dict[ast.AST, ast.AST] = {}
        self.reads: list[EnvRead] = []
        self._env_vars: dict[str, str] | None = None
        self.helpers: dict[str, Helper] = {}  # callable by this name in this module
        self.module_helpers: dict[str, dict[str, Helper]] = {}  # ``import utils``: utils.f()
        self.inner: set[int] = set()  # the reads inside a helper: followed at its calls instead
        self._returning: dict[int, list[ast.If]] = {}  # function -> its ifs ending in return

    def _prepare(self) -> None:
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self._imports()
        self._constants()
        self._environ_aliases()

    def own_helpers(self) -> dict[str, Helper]:
        """The helpers this module defines (for ``project_helpers``)."""
        self._prepare()
        return self._find_helpers()

    def run(self) -> None:
        self._prepare()
        self._project_imports()
        self.helpers.update(self._find_helpers())
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                self.result.attributes.add(node.attr)
            self._read(node)
        self.result.reads.extend(sorted(self.reads, key=lambda r: r.line))
        self.result.dynamic.sort(key=lambda p: (p.path, p.line or 0))

    def _imports(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "os" or alias.name.startswith("os."):
                        self.os_names.add(alias.asname or "os")
            elif isinstance(node, ast.ImportFrom) and node.module == "os" and not node.level:
                for alias in node.names:
                    if alias.name == "environ":
                        self.environ_names.add(alias.asname or alias.name)
                    elif alias.name == "getenv":
                        self.getenv_names.add(alias.asname or alias.name)

    def _constants(self) -> None:
        """Module-level ``NAME = "literal"`` bound exactly once: a variable name given that way."""
        seen: dict[str, int] = {}
        for node in self.tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            value = getattr(node, "value", None)
            for target in targets:
                if isinstance(target, ast.Name):
                    seen[target.id] = seen.get(target.id, 0) + 1
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        self.constants[target.id] = value.value
                    elif isinstance(value, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
                        self.collections[target.id] = value
        for name, count in seen.items():
            if count > 1:
                self.constants.pop(name, None)
                self.collections.pop(name, None)

    def _is_environ(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.environ_names
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            return isinstance(node.value, ast.Name) and node.value.id in self.os_names
        return False

    def _environ_copy(self, node: ast.AST | None) -> bool:
        """``os.environ``, ``dict(os.environ)`` or ``os.environ.copy()``."""
        if node is None:
            return False
        if self._is_environ(node):
            return True
        if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
            func = node.func
            if isinstance(func, ast.Name) and func.id == "dict":
                return self._is_environ(node.args[0])
        if isinstance(node, ast.Call) and not node.args and not node.keywords:
            func = node.func
            return (
                isinstance(func, ast.Attribute)
                and func.attr == "copy"
                and (self._is_environ(func.value))
            )
        return False

    def _environ_aliases(self) -> None:
        """Names bound to ``os.environ`` (or a copy), to a fixed point: ``a = os.environ;
        b = a``."""
        while True:
            before = len(self.environ_names)
            for node in ast.walk(self.tree):
                targets: list[ast.expr] = []
                value: ast.expr | None = None
                if isinstance(node, ast.Assign):
                    targets, value = node.targets, node.value
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                    targets, value = [node.target], node.value
                if self._environ_copy(value):
                    self.environ_names.update(t.id for t in targets if isinstance(t, ast.Name))
            if len(self.environ_names) == before:
                return

    def _is_getenv(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in self.getenv_names
        return (
            isinstance(func, ast.Attribute)
            and func.attr == "getenv"
            and isinstance(func.value, ast.Name)
            and func.value.id in self.os_names
        )

    def _name_of(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        return None

    def _read(self, node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            func = node.func
            how: How | None = None
            if self._is_getenv(func):
                how = "getenv"
            elif isinstance(func, ast.Attribute) and self._is_environ(func.value):
                if func.attr == "get":
                    how = "environ.get"
                elif func.attr == "setdefault":
                    how = "environ.setdefault"
            if how is None:
                helper = self._helper_of(func)
                if helper is not None:
                    self._helper_call(node, helper)
                return
            if id(node) in self.inner:
                return
            key = node.args[0] if node.args else _keyword(node, "key")
            default = node.args[1] if len(node.args) > 1 else _keyword(node, "default")
            if key is not None:
                self._add(node, key, how, default)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and self._is_environ(node.value)
            and id(node) not in self.inner
        ):
            self._add(node, node.slice, "environ[]", None)
        elif isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)) and self._is_environ(right):
                    self._add(node, node.left, "in environ", None)

    def _add(self, node: ast.expr, key: ast.expr, how: How, default: ast.expr | None) -> None:
        names = self._names_of(key)
        line = getattr(node, "lineno", 0)
        if names is None:
            self.result.dynamic.append(Place(self.path, line))
            return
        kind: DefaultKind = "none"
        value: Scalar = None
        if default is None:
            default = self._or_default(node)
        if default is not None:
            literal, value = _literal(default)
            kind = "literal" if literal else "computed"
        for name in dict.fromkeys(names):
            if name:
                need, why = _Need(self, name).of(node, how, default is not None)
                self.reads.append(
                    EnvRead(name, self.path, line, how, kind, value, self._cast(node), need, why)
                )

    # Names from literal collections ---------------------------------------------------------

    def _names_of(self, key: ast.expr) -> list[str] | None:
        """Every name ``key`` can be: a literal, a module constant, or the variable of a loop
        (or comprehension) over a literal collection. None: computed at run time."""
        if isinstance(key, ast.Name):
            loop = self._binding_loop(key)
            if loop is not None:
                target, iterable = loop
                return self._loop_names(target, iterable, key.id)
            local = self._local_value(key)
            if isinstance(local, ast.Constant) and isinstance(local.value, str):
                return [local.value]
        if (
            isinstance(key, ast.Subscript)
            and isinstance(key.value, ast.Name)
            and isinstance(key.slice, ast.Constant)
            and isinstance(key.slice.value, str)
        ):
            return self._record_names(key.value, key.slice.value)
        name = self._name_of(key)
        return None if name is None else [name]

    def _local_value(self, name: ast.Name) -> ast.expr | None:
        """The value a name of the enclosing function is bound to, when it is bound exactly once
        there, by a plain assignment (not a parameter); None otherwise, and outside a function."""
        node = self.parents.get(name)
        while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node = self.parents.get(node)
        if node is None:
            return None
        args = node.args
        if name.id in {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}:
            return None
        stores = [
            n
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and n.id == name.id and isinstance(n.ctx, ast.Store)
        ]
        if len(stores) != 1:
            return None
        parent = self.parents.get(stores[0])
        if isinstance(parent, ast.Assign) and stores[0] in parent.targets:
            return parent.value
        return None

    def _literal_of(self, node: ast.expr) -> ast.expr:
        """A name bound once to a literal collection (in the function, else the module), as
        that literal; anything else as it is."""
        if isinstance(node, ast.Name):
            local = self._local_value(node)
            if isinstance(local, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
                return local
            return self.collections.get(node.id, node)
        return node

    def _record_names(self, record: ast.Name, field_name: str) -> list[str] | None:
        """``config["api_key_env"]`` where ``config`` is one entry of a literal dict of dicts
        (``config = configs.get(provider)``, ``configs[provider]``, or a loop over its values):
        every entry's string under that key (``None`` entries name no variable)."""
        source: ast.expr | None = None
        loop = self._binding_loop(record)
        if loop is not None:
            target, iterable = loop
            found = self._collection(iterable) if isinstance(target, ast.Name) else None
            if found is not None and (not isinstance(found[0], ast.Dict) or found[1] == "values"):
                source = found[0]
        else:
            value = self._local_value(record)
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
                if value.func.attr == "get" and value.args:
                    source = self._literal_of(value.func.value)
            elif isinstance(value, ast.Subscript):
                source = self._literal_of(value.value)
        entries = (
            source.values
            if isinstance(source, ast.Dict)
            else getattr(source, "elts", None)
            if isinstance(source, (ast.List, ast.Tuple))
            else None
        )
        if entries is None or len(entries) > MAX_COLLECTION:
            return None
        names: list[str] = []
        for entry in entries:
            if not isinstance(entry, ast.Dict):
                return None
            for k, v in zip(entry.keys, entry.values, strict=True):
                if k is None or _text(k) != field_name:
                    continue
                if isinstance(v, ast.Constant) and v.value is None:
                    break
                text = _text(v)
                if text is None:
                    return None
                names.append(text)
        return names

    def _binding_loop(self, key: ast.Name) -> tuple[ast.expr, ast.expr] | None:
        """(target, iterable) of the innermost ``for`` or comprehension binding ``key``, up to
        the enclosing function (whose parameter it may be: then no loop)."""
        child: ast.AST = key
        node = self.parents.get(key)
        while node is not None:
            if isinstance(node, (ast.For, ast.AsyncFor)) and child is not node.iter:
                if key.id in _bound(node.target):
                    return node.target, node.iter
            elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                for gen in reversed(node.generators):
                    if child is not gen.iter and key.id in _bound(gen.target):
                        return gen.target, gen.iter
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return None
            child, node = node, self.parents.get(node)
        return None

    def _collection(self, node: ast.expr) -> tuple[ast.expr, str] | None:
        """The literal collection a loop iterates, and how (``items``, ``keys``, ``values``,
        ``elements``): written in place or a module-level constant."""
        how = "elements"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("items", "keys", "values")
            and not node.args
            and not node.keywords
        ):
            how, node = node.func.attr, node.func.value
        node = self._literal_of(node)
        if isinstance(node, ast.Dict):
            return node, "keys" if how == "elements" else how
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and how == "elements":
            return node, how
        return None

    def _loop_names(self, target: ast.expr, iterable: ast.expr, var: str) -> list[str] | None:
        found = self._collection(iterable)
        if found is None:
            return None
        node, how = found
        items: list[ast.expr | None]
        if isinstance(node, ast.Dict):
            if how == "items":
                items = [
                    None if k is None else ast.Tuple([k, v], ast.Load())
                    for k, v in zip(node.keys, node.values, strict=True)
                ]
            else:
                items = list(node.keys) if how == "keys" else list(node.values)
        else:
            items = list(getattr(node, "elts", []))
        if len(items) > MAX_COLLECTION:
            return None
        path = _path_in(target, var)
        if path is None:
            return None
        names: list[str] = []
        for item in items:
            for index in path:
                if not isinstance(item, (ast.Tuple, ast.List)) or index >= len(item.elts):
                    return None
                item = item.elts[index]
            name = self._name_of(item) if item is not None else None
            if name is None:
                return None
            names.append(name)
        return names

    # Project helpers ------------------------------------------------------------------------

    def _find_helpers(self) -> dict[str, Helper]:
        """Top-level functions that read the variable a parameter names (the first such read)."""
        found: dict[str, Helper] = {}
        for func in self.tree.body:
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                helper = self._helper(func)
                if helper is not None:
                    found[func.name] = helper
        return found

    def _helper(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Helper | None:
        params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
        tail = params[len(params) - len(func.args.defaults) :]
        defaults = dict(zip(tail, func.args.defaults, strict=True))
        assigned = {
            n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        for node in ast.walk(func):
            read = self._env_key(node)
            if read is None:
                continue
            key, default = read
            if not isinstance(key, ast.Name) or key.id not in params or key.id in assigned:
                continue
            self.inner.add(id(node))
            if default is None:
                default = self._or_default(node)  # type: ignore[arg-type]
            if default is None:  # ``if not v: return default``
                default = next(
                    (ast.Name(p, ast.Load()) for p in params if "default" in p.lower()), None
                )
            helper = Helper(func.name, params.index(key.id), key.id, cast=_returns(func))
            if helper.cast is None and isinstance(node, ast.Call):
                helper = replace(helper, cast=self._cast(node))
            if default is not None and not isinstance(default, ast.Name):
                # ``os.getenv(name, str(default))``: the parameter inside is the default
                inside = [n.id for n in ast.walk(default) if isinstance(n, ast.Name)]
                param = next((p for p in inside if p in params and p != key.id), None)
                if param is not None:
                    default = ast.Name(param, ast.Load())
            if isinstance(default, ast.Name) and default.id in params:
                param_default = defaults.get(default.id)
                kind: DefaultKind = "none"
                value: Scalar = None
                if param_default is not None:
                    literal, value = _literal(param_default)
                    kind = "literal" if literal else "computed"
                return replace(
                    helper,
                    default_index=params.index(default.id),
                    default_param=default.id,
                    default_kind=kind,
                    default=value,
                )
            if default is not None:
                literal, value = _literal(default)
                return replace(
                    helper, default_kind="literal" if literal else "computed", default=value
                )
            return helper
        return None

    def _env_key(self, node: ast.AST) -> tuple[ast.expr, ast.expr | None] | None:
        """(key, default) of a getenv/environ.get/environ[] read, else None."""
        if isinstance(node, ast.Call):
            func = node.func
            is_get = (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and self._is_environ(func.value)
            )
            if not (self._is_getenv(func) or is_get) or not node.args:
                return None
            return node.args[0], node.args[1] if len(node.args) > 1 else _keyword(node, "default")
        if isinstance(node, ast.Subscript) and self._is_environ(node.value):
            return node.slice, None
        return None

    def _project_imports(self) -> None:
        """Helpers imported from project modules: ``from utils import f``, ``import utils``."""
        package = self.path.split("/")[:-1]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom):
                for module in _candidates(package, node.module, node.level):
                    found = self.project.get(module)
                    if found is None:
                        continue
                    for alias in node.names:
                        if alias.name in found:
                            self.helpers[alias.asname or alias.name] = found[alias.name]
                    break
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    for module in _candidates(package, alias.name, 0):
                        if module in self.project and (alias.asname or "." not in alias.name):
                            self.module_helpers[alias.asname or alias.name] = self.project[module]
                            break

    def _helper_of(self, func: ast.expr) -> Helper | None:
        if isinstance(func, ast.Name):
            return self.helpers.get(func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return self.module_helpers.get(func.value.id, {}).get(func.attr)
        return None

    def _helper_call(self, node: ast.Call, helper: Helper) -> None:
        if any(isinstance(a, ast.Starred) for a in node.args):
            return
        key = (
            node.args[helper.key_index]
            if len(node.args) > helper.key_index
            else _keyword(node, helper.key_param)
        )
        if key is None:
            return
        names = self._names_of(key)
        line = node.lineno
        if names is None:
            self.result.dynamic.append(Place(self.path, line))
            return
        kind, value = helper.default_kind, helper.default
        default: ast.expr | None = None
        if helper.default_index is not None and len(node.args) > helper.default_index:
            default = node.args[helper.default_index]
        elif helper.default_param is not None:
            default = _keyword(node, helper.default_param)
        if default is not None:
            literal, value = _literal(default)
            kind = "literal" if literal else "computed"
        cast = helper.cast or self._cast(node)
        for name in dict.fromkeys(names):
            if name:
                # the call stands for the read: how the code treats its result decides the need
                need, why = _Need(self, name).of(node, "getenv", kind != "none")
                self.reads.append(
                    EnvRead(
                        name, self.path, line, "getenv", kind, value, cast, need, why,
                        via=helper.name,
                    )
                )  # fmt: skip

    def _or_default(self, node: ast.expr) -> ast.expr | None:
        """``os.getenv("X") or "d"``: the right-hand side is the default."""
        parent = self.parents.get(node)
        if (
            isinstance(parent, ast.BoolOp)
            and isinstance(parent.op, ast.Or)
            and len(parent.values) == 2
            and parent.values[0] is node
        ):
            return parent.values[1]
        return None

    def env_of(self, node: ast.expr) -> str | None:
        """The variable a test looks at: an env read (``os.getenv("TTS").lower()`` too), or a
        name the module assigns one to (``tts = os.getenv("TTS")``)."""
        while (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and not self._is_getenv(node.func)
            and not self._is_environ(node.func.value)
        ):
            node = node.func.value  # .lower(), .strip()
        if isinstance(node, ast.Call):
            func = node.func
            getter = self._is_getenv(func) or (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and self._is_environ(func.value)
            )
            key = node.args[0] if node.args else _keyword(node, "key")
            return self._name_of(key) if getter and key is not None else None
        if isinstance(node, ast.Subscript) and self._is_environ(node.value):
            return self._name_of(node.slice)
        if isinstance(node, ast.Name):
            return self.env_vars().get(node.id)
        return None

    def env_of_any(self, node: ast.expr) -> str | None:
        """``env_of`` anywhere inside ``node`` (``TTS == "x"`` in ``a and TTS == "x"``)."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.expr):
                name = self.env_of(sub)
                if name:
                    return name
        return None

    def returning_ifs(self, scope: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.If]:
        """The ``if`` statements of a function (not of a function inside it) whose body ends
        in ``return``: the presence checks a later read may sit behind (cached per function)."""
        found = self._returning.get(id(scope))
        if found is None:
            found = []
            todo: list[ast.AST] = list(ast.iter_child_nodes(scope))
            while todo:
                n = todo.pop()
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    continue
                if isinstance(n, ast.If) and n.body and isinstance(n.body[-1], ast.Return):
                    found.append(n)
                todo.extend(ast.iter_child_nodes(n))
            self._returning[id(scope)] = found
        return found

    def env_vars(self) -> dict[str, str]:
        """Names assigned an env read anywhere in the module (flow-insensitive)."""
        if self._env_vars is None:
            self._env_vars = {}
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name) and not isinstance(node.value, ast.Name):
                        name = self.env_of(node.value)
                        if name:
                            self._env_vars[target.id] = name
        return self._env_vars

    def _cast(self, node: ast.expr) -> Cast | None:
        parent = self.parents.get(node)
        if isinstance(parent, ast.BoolOp):  # int(os.getenv("X") or "3")
            parent = self.parents.get(parent)
        if (
            isinstance(parent, ast.Call)
            and isinstance(parent.func, ast.Name)
            and parent.func.id in ("int", "float")
            and len(parent.args) == 1
        ):
            return "int" if parent.func.id == "int" else "float"
        return None


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


# Whether the code needs the value ---------------------------------------------------------------

# Exceptions whose handler makes a read inside ``try`` tolerated (a missing value is caught).
# A broad ``except Exception`` around a request handler is no tolerance: left out.
_CAUGHT = frozenset({"KeyError", "TypeError", "ValueError", "AttributeError"})
# Casts that fail on None (``int(None)``): the value is used, so it is needed.
_FAILS_ON_NONE = frozenset({"int", "float", "Path", "json.loads", "bytes", "len", "open"})
_SHOWN_LITERAL = 30


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a name or an attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _shown(value: object) -> str:
    """A literal of the code as the plan shows it, short (``of`` escapes the whole text)."""
    text = repr(value)
    return text if len(text) <= _SHOWN_LITERAL else text[: _SHOWN_LITERAL - 3] + "..."


_OPS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not",
    ast.In: "in", ast.NotIn: "not in",
}  # fmt: skip


class _Need:
    """How the code treats one read's value when the variable is unset: ``of`` gives (need,
    why). Required only when the value is used with no default, no presence check and no
    fallback; a check, a comparison, a fallback or a keyword argument (the callee gets None)
    tolerate a missing value; a read under an ``if`` on another variable is conditional (a mode
    or provider switch). A credential handed on to a service is required (the service cannot
    authenticate without it); what the scanner cannot tell is "unknown", never guessed
    required."""

    def __init__(self, module: _Module, name: str) -> None:
        self.m = module
        self.name = name
        self.secret = looks_secret(name)

    def of(self, node: ast.expr, how: How, has_default: bool) -> tuple[Need, str]:
        """(need, why); ``why`` is escaped: it quotes names and literals of the code."""
        from pcc_env.rules import escape_text

        need, why = self._of(node, how, has_default)
        return need, escape_text(why)

    def _of(self, node: ast.expr, how: How, has_default: bool) -> tuple[Need, str]:
        if how == "in environ":
            return "optional", "checked for presence"
        if has_default:  # the field carries the default (or says it is computed)
            return "optional", ""
        condition = self._condition(node)
        if condition is not None:
            return "conditional", condition
        guard = self._guard(node)
        if guard is not None:
            return "optional", guard
        need: Need
        if how == "environ[]":
            need, why = "required", "os.environ[...] fails when it is unset"
        else:
            need, why, _ = self._use(node, 0)
        if need != "optional" and self._caught(node):
            return "optional", "read inside try/except: a missing value is caught"
        return need, why

    # where the read sits ------------------------------------------------------------------

    def _ancestors(self, node: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
        """(parent, child) pairs from the node up to the module."""
        child = node
        parent = self.m.parents.get(child)
        while parent is not None:
            yield parent, child
            child, parent = parent, self.m.parents.get(parent)

    def _caught(self, node: ast.AST) -> bool:
        for parent, child in self._ancestors(node):
            if isinstance(parent, ast.Try) and child in parent.body:
                for handler in parent.handlers:
                    kinds = handler.type
                    if kinds is None:
                        continue
                    elts = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
                    if any(_dotted(k) in _CAUGHT for k in elts):
                        return True
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return False
        return False

    def _condition(self, node: ast.AST) -> str | None:
        """ "used when TTS == 'cartesia'": the innermost ``if`` around the read whose test
        depends on an environment variable."""
        for parent, child in self._ancestors(node):
            if isinstance(parent, (ast.If, ast.IfExp, ast.While)) and child is not parent.test:
                text = self._test_text(parent.test)
                if text is not None:
                    orelse = parent.orelse if isinstance(parent.orelse, list) else [parent.orelse]
                    return f"used {'unless' if child in orelse else 'when'} {text}"
        return None

    def _test_text(self, test: ast.expr) -> str | None:
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            name = self.m.env_of(test.operand)
            return f"{name} is not set" if name else None
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, right = test.ops[0], test.comparators[0]
            if isinstance(op, (ast.In, ast.NotIn)) and self.m._is_environ(right):
                key = self.m._name_of(test.left)
                if key:
                    return f"{key} is {'not ' if isinstance(op, ast.NotIn) else ''}set"
            name = self.m.env_of(test.left)
            if name:
                literal, value = _literal(right)
                shown = _shown(value) if literal else "..."
                if isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                    shown = "(...)"
                return f"{name} {_OPS.get(type(op), '?')} {shown}"
        if isinstance(test, ast.BoolOp):
            names = [n for n in map(self.m.env_of_any, test.values) if n]
            return f"depends on {names[0]}" if names else None
        name = self.m.env_of(test)
        return f"{name} is set" if name else None

    # a presence check before the read -----------------------------------------------------

    def _guard(self, node: ast.AST) -> str | None:
        """ "checked for presence at bot.py:12 (returns when it is unset)": an ``if`` earlier
        in the same function, on every path to the read, that returns when the variable is
        unset (``if not all([sid, token]): return None``, ``if not (a and b)``, ``if any(not
        os.getenv(k) for k in KEYS)``, ``if missing:`` for ``missing = [k for k in KEYS if not
        os.getenv(k)]``, or such an ``if`` in a loop over the names). The code runs on without
        the value. One that raises or exits instead is no tolerance: the read keeps its need."""
        ancestors: list[ast.AST] = [node]
        scope: ast.FunctionDef | ast.AsyncFunctionDef | None = None
        for parent, _ in self._ancestors(node):
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scope = parent
                break
            ancestors.append(parent)
        if scope is None:  # module level: nothing returns there
            return None
        inside = set(map(id, ancestors))
        line = getattr(node, "lineno", 0)
        for stmt in self.m.returning_ifs(scope):
            if stmt.lineno >= line or id(stmt) in inside or not self._when_missing(stmt.test):
                continue
            if self._dominates(stmt, inside):
                return f"checked for presence at {self.m.path}:{stmt.lineno} (returns when unset)"
        return None

    def _dominates(self, stmt: ast.stmt, inside: set[int]) -> bool:
        """Whether ``stmt`` (or the loop over names holding it) sits in a statement list that
        also holds an ancestor of the read, before it: every path to the read passes it."""
        top: ast.AST = stmt
        parent = self.m.parents.get(top)
        while isinstance(parent, (ast.For, ast.AsyncFor)) and top in parent.body:
            top, parent = parent, self.m.parents.get(parent)
        if parent is None:
            return False
        for name in ("body", "orelse", "finalbody"):
            block = getattr(parent, name, None)
            if isinstance(block, list) and top in block:
                after = block[block.index(top) + 1 :]
                return any(id(s) in inside for s in after)
        return False

    def _when_missing(self, test: ast.expr) -> bool:
        """Whether ``test`` is true when the variable is unset."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self._when_present(test.operand)
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            return any(self._when_missing(v) for v in test.values)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, right = test.ops[0], test.comparators[0]
            literal, constant = _literal(right)
            if literal and constant is None and isinstance(op, ast.Is):
                return self._holds(test.left)
        if isinstance(test, ast.Call) and _dotted(test.func) == "any" and len(test.args) == 1:
            return any(self._when_missing(e) for e in self._elements(test.args[0]))
        if isinstance(test, ast.Name):  # missing = [k for k in KEYS if not os.getenv(k)]
            bound = self.m._local_value(test)
            if isinstance(bound, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
                return any(self._when_missing(c) for g in bound.generators for c in g.ifs)
        return False

    def _when_present(self, test: ast.expr) -> bool:
        """Whether ``test`` is true only when the variable is set (so ``not test`` when it is
        unset): the value itself, ``a and b``, ``all([a, b])``, ``x is not None``."""
        if self._holds(test):
            return True
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
            return any(self._when_present(v) for v in test.values)
        if isinstance(test, ast.Call) and _dotted(test.func) in ("all", "bool"):
            return len(test.args) == 1 and any(
                self._when_present(e) for e in self._elements(test.args[0])
            )
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            literal, value = _literal(test.comparators[0])
            if literal and value is None and isinstance(test.ops[0], ast.IsNot):
                return self._holds(test.left)
        return False

    @staticmethod
    def _elements(arg: ast.expr) -> list[ast.expr]:
        if isinstance(arg, (ast.List, ast.Tuple, ast.Set)):
            return list(arg.elts)
        if isinstance(arg, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
            return [arg.elt]
        return [arg] if isinstance(arg, ast.Call) and _dotted(arg.func) == "bool" else []

    def _holds(self, expr: ast.expr) -> bool:
        """Whether ``expr`` is this variable's value: a read of it (its name given in place, as
        a constant or by a loop over literal names) or a name assigned one."""
        while isinstance(expr, ast.Call) and _dotted(expr.func) == "bool" and expr.args:
            expr = expr.args[0]
        if isinstance(expr, ast.Name) and expr.id not in self.m.env_vars():
            return False
        if isinstance(expr, ast.Name):
            return self.m.env_vars()[expr.id] == self.name
        read = self.m._env_key(expr)
        if read is None:
            return False
        names = self.m._names_of(read[0])
        return names is not None and self.name in names

    # how the value is used ----------------------------------------------------------------

    def _handed_on(self, text: str, tolerant: bool) -> tuple[Need, str, bool]:
        if self.secret:
            return "required", f"a credential {text}", False
        if tolerant:
            return "optional", f"{text}, None when unset", False
        return "unknown", f"{text}: the scanner cannot tell whether None is accepted", False

    def _use(self, node: ast.AST, depth: int) -> tuple[Need, str, bool]:
        """(need, why, checked) for the value of ``node``; ``checked``: a presence check."""
        parent = self.m.parents.get(node)
        checked: tuple[Need, str, bool] = ("optional", "checked for presence", True)
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
            return checked
        if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and parent.test is node:
            return checked
        if isinstance(parent, ast.comprehension) and node in parent.ifs:
            return checked
        if isinstance(parent, ast.BoolOp):
            if isinstance(parent.op, ast.Or):
                return "optional", "has a fallback (or)", False
            if node is not parent.values[-1]:
                return checked
            return self._use(parent, depth)
        if isinstance(parent, ast.Compare):
            op = parent.ops[0] if node is parent.left else parent.ops[-1]
            if isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)) or (
                isinstance(op, (ast.In, ast.NotIn)) and node is parent.left
            ):
                right = parent.comparators[0] if node is parent.left else parent.left
                literal, value = _literal(right)
                what = f"compared with {_shown(value)}" if literal else "compared"
                return "optional", what, True
            return "required", "compared by order (fails on None)", False
        if isinstance(parent, ast.IfExp):
            return "optional", "chosen by a conditional expression", False
        if isinstance(parent, ast.keyword) and parent.arg is not None:
            call = self.m.parents.get(parent)
            callee = _dotted(call.func) if isinstance(call, ast.Call) else None
            return self._handed_on(f"passed on as {parent.arg}= to {callee or 'a call'}()", True)
        if isinstance(parent, (ast.List, ast.Tuple, ast.Set, ast.GeneratorExp, ast.ListComp)):
            call = self.m.parents.get(parent)
            if (  # all([sid, token]), any(os.getenv(k) for k in KEYS): a presence check
                isinstance(call, ast.Call)
                and parent in call.args
                and _dotted(call.func) in ("all", "any")
                and (not isinstance(parent, (ast.GeneratorExp, ast.ListComp)) or node is parent.elt)
            ):
                return "optional", f"checked for presence ({_dotted(call.func)}(...))", True
        if isinstance(parent, ast.Call) and node in parent.args:
            callee = _dotted(parent.func)
            if callee == "bool":
                return checked
            if callee in _FAILS_ON_NONE:
                return "required", f"converted with {callee}()", False
            return self._handed_on(f"passed to {callee or 'a call'}()", False)
        if isinstance(parent, (ast.Attribute, ast.Subscript)) and parent.value is node:
            return "required", "used as a value (fails on None)", False
        if isinstance(parent, ast.BinOp):
            return "required", "used in an expression (fails on None)", False
        if isinstance(parent, ast.Expr):
            return "optional", "its value is not used", False
        if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and depth < 3:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                return self._uses_of(targets[0].id, parent, depth)
            return self._handed_on("stored in an attribute or item", False)
        if isinstance(parent, ast.Return):
            return self._handed_on("returned to the caller", False)
        if isinstance(parent, ast.FormattedValue):
            return self._handed_on("formatted into a string", False)
        return self._handed_on("handed on", False)

    def _uses_of(self, var: str, assign: ast.AST, depth: int) -> tuple[Need, str, bool]:
        """A variable holding the value: checked anywhere in its scope means the code handles
        a missing value; else the strictest use decides."""
        scope: ast.AST = self.m.tree
        for parent, _ in self._ancestors(assign):
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scope = parent
                break
        uses = [
            n
            for n in ast.walk(scope)
            if isinstance(n, ast.Name) and n.id == var and isinstance(n.ctx, ast.Load)
        ]
        if not uses:
            if scope is self.m.tree:
                return self._handed_on(f"kept in the module-level name {var}", False)
            return "optional", f"assigned to {var}, never used", False
        found = [self._use(u, depth + 1) for u in uses]
        for _, why, was_checked in found:
            if was_checked:
                return "optional", f"{why}, as {var}", True
        rank = {"required": 0, "unknown": 1, "conditional": 2, "optional": 3}
        need, why, _ = min(found, key=lambda f: rank[f[0]])
        return need, f"{why}, as {var}", False


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _bound(target: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _path_in(target: ast.expr, var: str) -> list[int] | None:
    """Where ``var`` sits in a loop target: ``[]`` for ``for var in``, ``[1]`` for
    ``for k, var in``; None when it is deeper or starred."""
    if isinstance(target, ast.Name):
        return [] if target.id == var else None
    if isinstance(target, (ast.Tuple, ast.List)):
        for index, elt in enumerate(target.elts):
            if isinstance(elt, ast.Starred):
                return None
            sub = _path_in(elt, var)
            if sub is not None:
                return [index, *sub]
    return None


_TYPED_NAME = re.compile(r"(?:^|_)(int|float|bool)$")


def _returns(func: ast.FunctionDef | ast.AsyncFunctionDef) -> Cast | None:
    """The type a helper returns: its annotation (``-> int``, ``-> int | None``), else its name
    (``_env_int``, ``env_bool``)."""
    ann = func.returns
    if isinstance(ann, ast.BinOp):  # int | None
        ann = ann.left
    if isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name):  # Optional[int]
        ann = ann.slice if ann.value.id == "Optional" else ann
    if isinstance(ann, ast.Name) and ann.id in ("int", "float", "bool"):
        return ann.id  # type: ignore[return-value]
    match = _TYPED_NAME.search(func.name.lower())
    return match.group(1) if match else None  # type: ignore[return-value]


def _candidates(package: list[str], module: str | None, level: int) -> list[str]:
    """The project modules an import may name: relative to the importing module's package,
    a sibling module (a bot run from its own folder), or from the root."""
    if level:
        if level - 1 > len(package):
            return []
        base = package[: len(package) - (level - 1)]
        return [".".join([*base, *([module] if module else [])])]
    if module is None:
        return []
    return [".".join([*package, module]), module] if package else [module]
