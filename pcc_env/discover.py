"""The project's settings model, found in its syntax tree: no ``[tool.pcc-env] settings`` needed.

A class deriving from pcc-env's ``SecretSettings`` or pydantic's ``BaseSettings`` (directly, or
through another such class of the project) in the bot's modules (``scan.python_files``: not
``.venv``, ``site-packages`` or tests) is a candidate; a class that another candidate derives
from is a base, not the model. The reference is written as ``init`` writes it (``settings:
Settings``, ``bot:Settings``) so that ``export``, ``check`` and ``run`` load the model a user
wrote by hand exactly as they load one ``init`` wrote. Pure: the files are parsed, never
imported (``model_import.load_settings_class`` imports the one chosen).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pcc_env.errors import ConfigError

# Where the settings base classes come from, by module; the names each module exports.
SETTINGS_BASES = {
    "pydantic_settings": ("BaseSettings",),
    "pydantic_settings.main": ("BaseSettings",),
    "pydantic": ("BaseSettings",),  # pydantic v1
    "pcc_env": ("SecretSettings",),
    "pcc_env.runtime": ("SecretSettings",),
}
MAX_CANDIDATES_SHOWN = 5


@dataclass(frozen=True)
class FoundModel:
    """One settings class: its reference (``module:Class``), where it is defined, and the env
    names its fields declare (upper case; read from the class body, with ``env_prefix`` and
    literal ``alias``/``validation_alias``)."""

    ref: str
    path: str
    line: int
    env_names: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class _Class:
    module: str
    path: str
    node: ast.ClassDef
    # Each base: None for a settings root class, else the (module, class) it may be (several
    # when an import may name a sibling module or a root one; none when it is not a class of
    # the project).
    bases: list[tuple[Key, ...] | None]


Key = tuple[str, str]


def find_models(root: Path) -> list[FoundModel]:
    """Every settings model of the project under ``root``, in file order (see the module)."""
    from pcc_env.dotenv_file import read_regular_file
    from pcc_env.errors import InputError
    from pcc_env.scan import MAX_SOURCE_BYTES, python_files

    sources: list[tuple[str, bytes]] = []
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            sources.append((rel, read_regular_file(path, "a Python file", MAX_SOURCE_BYTES)))
        except InputError:
            continue
    return models_in(sources, root)


def models_in(
    sources: Iterable[tuple[str, str | bytes]], root: Path | None = None
) -> list[FoundModel]:
    """``find_models`` over given sources (path relative to the root, with '/')."""
    from pcc_env.scan import module_name

    classes: dict[tuple[str, str], _Class] = {}
    for path, source in sources:
        try:
            tree = ast.parse(source, filename=path)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        module = module_name(path)
        names = _imported_names(tree, path)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                bases = [_base(b, module, names) for b in node.bases]
                classes[(module, node.name)] = _Class(module, path, node, bases)
    settings: set[tuple[str, str]] = set()
    while True:  # to a fixed point: a class deriving from a settings class of the project
        before = len(settings)
        for key, cls in classes.items():
            if any(b is None or any(k in settings for k in b) for b in cls.bases):
                settings.add(key)
        if len(settings) == before:
            break
    used_as_base = {k for key in settings for b in classes[key].bases for k in b or ()}
    found = []
    for key in sorted(settings - used_as_base, key=lambda k: _order(classes[k])):
        cls = classes[key]
        found.append(
            FoundModel(
                _ref(cls, root),
                cls.path,
                cls.node.lineno,
                tuple(_env_names(key, classes, settings)),
            )
        )
    return found


def _order(cls: _Class) -> tuple[int, str, int]:
    return (cls.path.count("/"), cls.path, cls.node.lineno)


def _imported_names(tree: ast.Module, path: str) -> dict[str, tuple[Key, ...] | None]:
    """The names a module binds by import: None for a settings root class, the (module, name)
    it may be for a class of a project module, ``(("~module", ""),)`` for a module."""
    from pcc_env.scan import _candidates

    package = path.split("/")[:-1]
    out: dict[str, tuple[Key, ...] | None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            for alias in node.names:
                bound = alias.asname or alias.name
                if not node.level and alias.name in SETTINGS_BASES.get(source, ()):
                    out[bound] = None
                    continue
                modules = _candidates(package, node.module, node.level)
                out[bound] = tuple((m, alias.name) for m in modules)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in SETTINGS_BASES:
                    out[alias.asname or alias.name] = (("~" + alias.name, ""),)
    return out


def _base(
    node: ast.expr, module: str, names: dict[str, tuple[Key, ...] | None]
) -> tuple[Key, ...] | None:
    """What a base class may be (see ``_Class.bases``)."""
    if isinstance(node, ast.Name):
        return names.get(node.id, ((module, node.id),))
    if isinstance(node, ast.Attribute):
        dotted = _dotted(node.value)
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            bound = names.get(head)
            if bound and bound[0][0].startswith("~"):  # ``import pydantic_settings as ps``
                dotted = bound[0][0][1:] + (f".{rest}" if rest else "")
            if node.attr in SETTINGS_BASES.get(dotted, ()):
                return None
    return ()


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def _ref(cls: _Class, root: Path | None) -> str:
    """``module:Class`` as ``init`` writes it; a file path when the module's folders are not
    packages (importing ``server.bot`` would break its own sibling imports)."""
    parts = cls.path.split("/")
    packaged = root is not None and all(
        (root.joinpath(*parts[:n]) / "__init__.py").is_file() for n in range(1, len(parts))
    )
    if len(parts) == 1 or packaged:
        return f"{cls.module}:{cls.node.name}"
    return f"{cls.path}:{cls.node.name}"


def _env_names(key: Key, classes: dict[Key, _Class], settings: set[Key]) -> list[str]:
    """The env names the class declares, its project bases' fields first: each field's literal
    alias, else the effective ``env_prefix`` (the class's own, else its nearest base's) + the
    field's name, upper-cased as the runtime reads them."""
    fields, prefix = _fields(key, classes, settings, set())
    names: list[str] = []
    for field, alias in fields:
        name = (alias if alias is not None else (prefix or "") + field).upper()
        if name not in names:
            names.append(name)
    return names


def _fields(
    key: Key, classes: dict[Key, _Class], settings: set[Key], seen: set[Key]
) -> tuple[list[tuple[str, str | None]], str | None]:
    seen.add(key)
    cls = classes[key]
    fields: list[tuple[str, str | None]] = []
    inherited: str | None = None
    for base in cls.bases:
        k = next((k for k in base or () if k in settings and k not in seen), None)
        if k is not None:
            more, prefix = _fields(k, classes, settings, seen)
            fields += [f for f in more if f[0] not in {g[0] for g in fields}]
            inherited = inherited if inherited is not None else prefix
    for stmt in cls.node.body:
        if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
            continue
        field = stmt.target.id
        if field.startswith("_") or field == "model_config" or _is_classvar(stmt.annotation):
            continue
        fields = [f for f in fields if f[0] != field] + [(field, _alias(stmt.value))]
    own = _env_prefix(cls.node)
    return fields, own if own is not None else inherited


def _is_classvar(node: ast.expr) -> bool:
    target = node.value if isinstance(node, ast.Subscript) else node
    return (isinstance(target, ast.Name) and target.id == "ClassVar") or (
        isinstance(target, ast.Attribute) and target.attr == "ClassVar"
    )


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _alias(value: ast.expr | None) -> str | None:
    if not isinstance(value, ast.Call):
        return None
    aliases = (_text(k.value) for k in value.keywords if k.arg in ("validation_alias", "alias"))
    return next((a for a in aliases if a is not None), None)


def _env_prefix(node: ast.ClassDef) -> str | None:
    """``model_config = SettingsConfigDict(env_prefix="X_")`` (or a dict, or pydantic v1's
    ``class Config``), when literal."""
    for stmt in node.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        value = stmt.value if isinstance(stmt, ast.Assign) else None
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Config":
            for inner in stmt.body:
                if isinstance(inner, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "env_prefix" for t in inner.targets
                ):
                    return _text(inner.value) or ""
        if not any(isinstance(t, ast.Name) and t.id == "model_config" for t in targets):
            continue
        if isinstance(value, ast.Call):
            found = [_text(k.value) or "" for k in value.keywords if k.arg == "env_prefix"]
            if found:  # else inherited: pydantic merges model_config with the base's
                return found[0]
        if isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values, strict=True):
                if k is not None and _text(k) == "env_prefix":
                    return _text(v) or ""
    return None


def one_model(root: Path) -> FoundModel | None:
    """The project's one settings model, None when it has none; ``ConfigError`` (exit 2) naming
    each candidate when there are several: the user names one in pyproject.toml."""
    found = find_models(root)
    if len(found) <= 1:
        return found[0] if found else None
    from pcc_env.rules import escape_text

    shown = ", ".join(
        f"{escape_text(m.ref)} ({escape_text(m.where)})" for m in found[:MAX_CANDIDATES_SHOWN]
    )
    more = len(found) - MAX_CANDIDATES_SHOWN
    extra = f" and {more} more" if more > 0 else ""
    raise ConfigError(
        f"found {len(found)} settings models in the project: {shown}{extra}. Name the bot's in "
        'pyproject.toml: [tool.pcc-env] settings = "module:Class" (or pass --settings)'
    )
