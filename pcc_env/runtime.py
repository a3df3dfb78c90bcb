"""What a bot imports: typed settings from the secrets Pipecat Cloud mounts as env vars.

``load_settings`` builds a pydantic-settings model (process environment, then a local ``.env``,
then defaults) and turns a ``ValidationError`` (or pydantic-settings' own error for a complex
field whose value is not JSON) into one of ours: ``MissingSecretsError`` naming every missing env
var as the user must set it, or ``InvalidSecretsError`` naming each invalid one. Our errors are
built from the pydantic error *type* and *location* only, with a fixed message per type: never
from pydantic's ``msg`` or ``input``, which a custom validator, ``str_strip_whitespace`` or a
``mode="before"`` validator can fill with (a transformed part of) a value. The pydantic error is
not chained, not in ``__context__``, and no frame of the raised error's traceback holds a value.

pydantic-settings logs every source's values (the environment, .env, secret files) at DEBUG when
``PYDANTIC_SETTINGS_DEBUG`` is set: while ``load_settings`` builds a model, a filter drops every
record of the ``pydantic_settings`` logger (in that call's thread only; the bot's own use of
pydantic-settings is untouched), and a ``SecretSettings`` model logs its sources' field names only.

This module imports only pydantic, pydantic-settings and pure pcc-env modules (and ``logging``,
which pydantic-settings imports anyway): bot start-up pays for nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import UnionType
from typing import Any, ClassVar, TypeVar, Union, cast, get_args, get_origin

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core.core_schema import ErrorType
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from pcc_env.errors import InvalidSecretsError, MissingSecretsError

S = TypeVar("S", bound=BaseSettings)

DEFAULT_ENV_FILE = ".env"
_MASK = "'**********'"


class _Default:
    def __repr__(self) -> str:
        return "<default>"


DEFAULT: Any = _Default()


class SecretSettings(BaseSettings):
    """Base class for a bot's settings. Use ``SecretStr`` for secrets.

    Defaults differ from ``BaseSettings`` where it matters for secrets: unknown env vars are
    ignored, inputs are hidden in errors, names are case-insensitive, a local ``.env`` is read
    when present, an empty value counts as unset (``LOG_LEVEL=`` of a copied template keeps the
    default; a required field set to "" is still missing), and ``repr()`` shows no string
    values at all. Name the secret set with
    ``class Settings(SecretSettings, secret_set="my-secrets")`` to get it in error messages.
    """

    model_config = SettingsConfigDict(
        extra="ignore",
        hide_input_in_errors=True,
        case_sensitive=False,
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
    )
    __pcc_secret_set__: ClassVar[str | None] = None

    def __init_subclass__(cls, secret_set: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if secret_set is not None:
            cls.__pcc_secret_set__ = secret_set

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            shown = value is None or isinstance(value, (bool, int, float))
            yield name, value if shown else _Masked()

    @classmethod
    def _settings_log_debug(cls, states: dict[str, dict[str, Any]]) -> None:
        """pydantic-settings' ``PYDANTIC_SETTINGS_DEBUG`` log, with the names each source set
        and never their values (pydantic-settings logs the values themselves)."""
        lines = [f"Resolving settings for {cls.__name__!r} (names only, highest priority first):"]
        for source, state in states.items():
            lines.append(f"  {source}: {sorted(map(str, state))!r}")  # repr: escaped
        _SETTINGS_LOG.debug("\n".join(lines), extra={_NAMES_ONLY: True})


class _Masked:
    def __repr__(self) -> str:
        return _MASK


# pydantic-settings' logger, quiet while ``load_settings`` builds a model ------------------------

_SETTINGS_LOG = logging.getLogger("pydantic_settings")
_NAMES_ONLY = "pcc_env_names_only"
_LOADING: ContextVar[bool] = ContextVar("pcc_env_loading_settings", default=False)


class _QuietWhileLoading(logging.Filter):
    """Drops a pydantic-settings record made inside ``load_settings`` (this context only),
    but for ``SecretSettings``' own names-only one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _LOADING.get() or getattr(record, _NAMES_ONLY, False) is True


def _quiet_settings_loggers() -> None:
    """The filter on ``pydantic_settings`` and any child logger it has by now (a logger's
    filters see only its own records). Idempotent; a scan of the loggers costs microseconds."""
    manager = logging.Logger.manager
    names = ["pydantic_settings"] + [
        n for n in list(manager.loggerDict) if n.startswith("pydantic_settings.")
    ]
    for name in names:
        logger = logging.getLogger(name)
        if not any(type(f).__name__ == _QuietWhileLoading.__name__ for f in logger.filters):
            logger.addFilter(_QuietWhileLoading())


# Field introspection ----------------------------------------------------------------------------


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _nested_model(field: FieldInfo) -> type[BaseModel] | None:
    annotation = _unwrap_optional(field.annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _is_secret(field: FieldInfo) -> bool:
    """Whether the field holds a ``SecretStr``/``SecretBytes`` anywhere: itself, an item of a
    ``list[SecretStr]``, a value of a ``dict[str, SecretStr]``, a field of a nested model. Its
    env value (JSON for a container) then is a secret: never shown as a default, masked by
    ``run``."""
    return _holds_secret(field.annotation, 0)


def _holds_secret(annotation: Any, depth: int) -> bool:
    if depth > 10:  # a self-referencing model: what was seen so far decides
        return False
    args = get_args(annotation)
    if isinstance(annotation, type) and not args:
        if issubclass(annotation, (SecretStr, SecretBytes)):
            return True
        if issubclass(annotation, BaseModel):
            return any(
                _holds_secret(f.annotation, depth + 1) for f in annotation.model_fields.values()
            )
        return False
    return any(_holds_secret(a, depth + 1) for a in args)


def _case(settings_cls: type[BaseSettings], name: str) -> str:
    return name if settings_cls.model_config.get("case_sensitive") else name.upper()


def _env_names(settings_cls: type[BaseSettings], field_name: str, field: FieldInfo) -> list[str]:
    """The env var names pydantic-settings reads for a top-level field, first one preferred."""
    source = EnvSettingsSource(settings_cls)
    return [_case(settings_cls, env) for _, env, _ in source._extract_field_info(field, field_name)]


def _nested_delimiter(settings_cls: type[BaseSettings]) -> str | None:
    return settings_cls.model_config.get("env_nested_delimiter") or None


def _nested_name(model: type[BaseModel], key: str) -> tuple[str, FieldInfo] | None:
    for name, field in model.model_fields.items():
        if key in (name, field.alias, field.validation_alias):
            return (field.alias or name), field
    return None


def _env_name_for_loc(settings_cls: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """Map a ValidationError location to the env var the user must set."""
    head = str(loc[0])
    top: tuple[str, FieldInfo] | None = None
    for name, field in settings_cls.model_fields.items():
        aliases = {name, field.alias}
        va = field.validation_alias
        if isinstance(va, str):
            aliases.add(va)
        elif va is not None:
            for choice in getattr(va, "choices", [va]):
                path = getattr(choice, "path", [choice])
                aliases.add(str(path[0]))
        if head in aliases:
            top = (name, field)
            break
    if top is None:
        return _case(settings_cls, head)
    name, field = top
    env = _env_names(settings_cls, name, field)[0]
    delimiter = _nested_delimiter(settings_cls)
    model = _nested_model(field)
    if delimiter is None or model is None or len(loc) == 1:
        return env
    parts = [env]
    for key in loc[1:]:
        # A key the model does not declare may come from a JSON value: never name it.
        found = _nested_name(model, str(key)) if model is not None else None
        if found is None:
            break
        parts.append(_case(settings_cls, found[0]))
        model = _nested_model(found[1])
    return delimiter.join(parts)


def _required_names(
    settings_cls: type[BaseSettings],
    model: type[BaseModel],
    prefix: str | None,
    delimiter: str | None,
) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        if not field.is_required():
            continue
        if prefix is None:
            env = _env_names(settings_cls, name, field)[0]
        else:
            env = prefix + (delimiter or "") + _case(settings_cls, field.alias or name)
        nested = _nested_model(field)
        if nested is not None and delimiter is not None:
            names.extend(_required_names(settings_cls, nested, env, delimiter))
        else:
            names.append(env)
    return names


def required_env_names(settings_cls: type[BaseSettings]) -> list[str]:
    """Env var names the model needs (prefix, alias and case applied), sorted."""
    delimiter = _nested_delimiter(settings_cls)
    return sorted(_required_names(settings_cls, settings_cls, None, delimiter))


def env_names_by_field(settings_cls: type[BaseSettings]) -> dict[str, list[str]]:
    """Field name -> every env var name that sets it (prefix, alias and case applied; with
    ``env_nested_delimiter``, a nested model's variables too): for comparing a model with the
    variables code reads (``pcc-env init``)."""
    out: dict[str, list[str]] = {}
    delimiter = _nested_delimiter(settings_cls)
    for name, field in settings_cls.model_fields.items():
        names = _env_names(settings_cls, name, field)
        nested = _nested_model(field)
        if nested is not None and delimiter is not None:
            names += [
                f"{names[0]}{delimiter}{_case(settings_cls, sub.alias or sub_name)}"
                for sub_name, sub in nested.model_fields.items()
            ]
        out[name] = names
    return out


@dataclass(frozen=True)
class FieldDescription:
    """One env var of a settings model, for templates and checks. Never a secret's default."""

    env_name: str
    required: bool
    secret: bool
    default: str | None
    description: str | None


def describe(settings_cls: type[BaseSettings]) -> list[FieldDescription]:
    """Every env var of the model, in field order: name, required, secret, default, description."""
    out = []
    delimiter = _nested_delimiter(settings_cls)
    for name, field in settings_cls.model_fields.items():
        env = _env_names(settings_cls, name, field)[0]
        nested = _nested_model(field)
        if nested is not None and delimiter is not None:
            for sub_name, sub in nested.model_fields.items():
                out.append(
                    _describe_one(
                        f"{env}{delimiter}{_case(settings_cls, sub.alias or sub_name)}",
                        sub,
                        field.is_required(),
                    )
                )
            continue
        out.append(_describe_one(env, field, True))
    return out


def _describe_one(env: str, field: FieldInfo, parent_required: bool) -> FieldDescription:
    secret = _is_secret(field)
    required = parent_required and field.is_required()
    default = None
    if not field.is_required() and not secret and field.default_factory is None:
        default = "" if field.default is None else str(field.default)
    return FieldDescription(env, required, secret, default, field.description)


# Loading ----------------------------------------------------------------------------------------


def _secret_set_name(settings_cls: type[BaseSettings], explicit: str | None) -> str | None:
    if explicit:
        return explicit
    declared = getattr(settings_cls, "__pcc_secret_set__", None)
    if declared:
        return str(declared)
    from pcc_env.deploy_config import secret_set_from_deploy_file

    return secret_set_from_deploy_file()


# What an invalid value is, per pydantic error type. Messages are fixed text: pydantic's ``msg``,
# ``input`` and ``ctx`` can all hold (part of) a value, a custom validator's text most of all.
_REASONS: dict[str, str] = {
    "int_parsing": "not a valid integer",
    "int_type": "not a valid integer",
    "int_from_float": "not a whole number",
    "int_parsing_size": "integer out of range",
    "float_parsing": "not a valid number",
    "float_type": "not a valid number",
    "decimal_parsing": "not a valid number",
    "finite_number": "not a finite number",
    "bool_parsing": "not a valid boolean (true/false, 1/0, yes/no, on/off)",
    "bool_type": "not a valid boolean",
    "greater_than": "too small",
    "greater_than_equal": "too small",
    "less_than": "too large",
    "less_than_equal": "too large",
    "multiple_of": "not an allowed multiple",
    "string_type": "not a string",
    "string_too_short": "too short",
    "string_too_long": "too long",
    "string_pattern_mismatch": "does not match the required pattern",
    "string_not_ascii": "not ASCII",
    "too_short": "too few items",
    "too_long": "too many items",
    "literal_error": "not one of the allowed values",
    "enum": "not one of the allowed values",
    "json_invalid": "not valid JSON",
    "json_type": "not valid JSON",
    "list_type": "not a list (a JSON array)",
    "tuple_type": "not a list (a JSON array)",
    "set_type": "not a list (a JSON array)",
    "dict_type": "not a mapping (a JSON object)",
    "model_type": "not a mapping (a JSON object)",
    "model_attributes_type": "not a mapping (a JSON object)",
    "extra_forbidden": "not allowed (extra field)",
    "url_parsing": "not a valid URL",
    "url_type": "not a valid URL",
    "url_scheme": "URL scheme not allowed",
    "url_syntax_violation": "not a valid URL",
    "url_too_long": "URL too long",
    "uuid_parsing": "not a valid UUID",
    "uuid_type": "not a valid UUID",
    "uuid_version": "wrong UUID version",
    "date_parsing": "not a valid date",
    "datetime_parsing": "not a valid date and time",
    "time_parsing": "not a valid time",
    "time_delta_parsing": "not a valid duration",
    "import_error": "not an importable Python path",
    "value_error": "rejected by a validator",
    "assertion_error": "rejected by a validator (assertion failed)",
}


_KNOWN_TYPES = frozenset(get_args(ErrorType)) | frozenset(_REASONS)


def _reason(error_type: str) -> str:
    """A fixed message for an error type. A custom type is not named: a validator may build it."""
    if error_type in _REASONS:
        return _REASONS[error_type]
    if error_type in _KNOWN_TYPES:
        return f"invalid value ({error_type})"
    return "rejected by a validator (custom error)"


def _safe_type(error_type: str) -> str:
    return error_type if error_type in _KNOWN_TYPES else "custom error"


def _translate(
    settings_cls: type[BaseSettings], exc: ValidationError, secret_set: str | None
) -> MissingSecretsError | InvalidSecretsError:
    """Only the error type and the location (field -> env var name) reach our error."""
    missing: set[str] = set()
    invalid: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        if not error["loc"]:
            invalid.setdefault(_MODEL_KEY, f"model validation failed ({_safe_type(error['type'])})")
            continue
        env = _env_name_for_loc(settings_cls, tuple(error["loc"]))
        if error["type"] == "missing":
            missing.add(env)
        else:
            invalid.setdefault(env, _reason(error["type"]))
    if missing:
        return _missing_error(settings_cls, sorted(missing), invalid, secret_set)
    return _invalid_error(invalid)


def _missing_error(
    settings_cls: type[BaseSettings],
    names: list[str],
    invalid: dict[str, str],
    secret_set: str | None,
) -> MissingSecretsError:
    count = f"{len(names)} required secret{'s are' if len(names) != 1 else ' is'} missing"
    set_name = _secret_set_name(settings_cls, secret_set)
    where = f"secret set '{set_name}'" if set_name else "the agent's secret set"
    message = (
        f"{count}: {', '.join(names)}. On Pipecat Cloud add them to {where} "
        f"(pcc-env push) and redeploy; locally add them to .env."
    )
    if invalid:
        message += " Also invalid: " + "; ".join(f"{k} ({v})" for k, v in sorted(invalid.items()))
    return MissingSecretsError(message, names)


def _invalid_error(invalid: dict[str, str]) -> InvalidSecretsError:
    details = "; ".join(f"{k}: {v}" for k, v in sorted(invalid.items()))
    count = len(invalid) - (_MODEL_KEY in invalid)
    if count == 0:
        head = "The settings are invalid"
    else:
        head = f"{count} {'secret has' if count == 1 else 'secrets have'} an invalid value"
    return InvalidSecretsError(f"{head}: {details}", invalid)


_MODEL_KEY = "(model)"
_PARSE_FAILURE = re.compile(r'error parsing value for field "(.+?)" from source')


def _translate_source_error(
    settings_cls: type[BaseSettings], exc: PydanticSettingsError
) -> InvalidSecretsError:
    """pydantic-settings fails before validation when a complex field's value is not JSON.

    Its message names the field; its cause (a ``JSONDecodeError``) holds the value in ``.doc``.
    Only a field name that the model declares is kept.
    """
    match = _PARSE_FAILURE.match(str(exc))
    field = match.group(1) if match else None
    if field is not None and field in settings_cls.model_fields:
        env = _env_names(settings_cls, field, settings_cls.model_fields[field])[0]
    else:
        env = "?"
    return _invalid_error({env: "not valid JSON"})


def _build(
    cls: type[S], kwargs: dict[str, Any], settings_cls: type[BaseSettings], secret_set: str | None
) -> S | MissingSecretsError | InvalidSecretsError:
    """Build the model, or our error for why not. The pydantic error and its input die with
    this frame: it is never in the traceback of what ``load_settings`` raises."""
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        return _translate(settings_cls, exc, secret_set)
    except PydanticSettingsError as exc:
        return _translate_source_error(settings_cls, exc)


def empty_is_unset(settings_cls: type[BaseSettings]) -> bool:
    """Whether the model reads an empty env var as unset (``env_ignore_empty``, on for every
    ``SecretSettings``): then an empty value of a field with a default leaves the default, and
    push, run and check treat ``KEY=`` the same way."""
    return bool(settings_cls.model_config.get("env_ignore_empty"))


def optional_env_names(settings_cls: type[BaseSettings]) -> set[str]:
    """Env var names of fields with a default whose empty value the model reads as unset
    (``empty_is_unset``): ``KEY=`` for them is no value to send and no value to refuse."""
    if not empty_is_unset(settings_cls):
        return set()
    return {d.env_name for d in describe(settings_cls) if not d.required}


def _with_environ(settings_cls: type[S], environ: Mapping[str, str]) -> type[S]:
    """A subclass whose env source reads ``environ`` instead of ``os.environ``."""
    case_sensitive = bool(settings_cls.model_config.get("case_sensitive"))
    ignore_empty = empty_is_unset(settings_cls)
    values = {
        (k if case_sensitive else k.lower()): v
        for k, v in environ.items()
        if v != "" or not ignore_empty
    }

    class MappingSource(EnvSettingsSource):
        def _load_env_vars(self) -> Mapping[str, str | None]:
            return values

    def customise(
        cls: type[BaseSettings],
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, MappingSource(settings_cls), dotenv_settings

    namespace = {
        "settings_customise_sources": classmethod(customise),
        "__module__": settings_cls.__module__,
    }
    return type(settings_cls.__name__, (settings_cls,), namespace)


# Reading a model without its values -------------------------------------------------------------

# Set while pcc-env imports a bot's module only to read its settings model: the names of the
# models ``load_settings`` returned without values meanwhile.
_READING_MODEL: ContextVar[list[str] | None] = ContextVar("pcc_env_reading_model", default=None)


@contextlib.contextmanager
def reading_model() -> Iterator[list[str]]:
    """Inside, ``load_settings`` returns an unvalidated instance instead of raising.

    ``export`` and ``check`` import the bot's module to read its model, and the module may call
    ``settings = load_settings(Settings)`` at import time: that must not need the very secrets
    the model describes (a new teammate or CI has no ``.env``). Yields the names of the models
    returned without values, so an import that fails later can say why.
    """
    placeholders: list[str] = []
    token = _READING_MODEL.set(placeholders)
    try:
        yield placeholders
    finally:
        _READING_MODEL.reset(token)


def load_settings(
    settings_cls: type[S],
    *,
    env_file: str | os.PathLike[str] | None = DEFAULT,
    secret_set: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> S:
    """Build ``settings_cls`` from the environment, a local ``.env`` and defaults.

    ``env_file``: the .env to read when it exists (default ``.env``; ``None`` reads none).
    ``secret_set``: named in the error message (default: the class's ``secret_set=``, then
    ``secret_set`` of ./pcc-deploy.toml). ``environ``: read this mapping instead of
    ``os.environ`` (tests).

    Raises ``MissingSecretsError`` or ``InvalidSecretsError``; never a ``ValidationError``.
    Inside ``reading_model()`` (pcc-env reading the model) it returns
    ``settings_cls.model_construct()`` instead: defaults set, required fields unset.
    """
    cls = _with_environ(settings_cls, environ) if environ is not None else settings_cls
    # No local of this frame may hold a value once it raises: error reporters record them.
    del environ
    kwargs: dict[str, Any] = {}
    if env_file is not DEFAULT:
        kwargs["_env_file"] = env_file
    elif settings_cls.model_config.get("env_file") is None:
        kwargs["_env_file"] = DEFAULT_ENV_FILE
    _quiet_settings_loggers()
    loading = _LOADING.set(True)
    try:
        result = _build(cls, kwargs, settings_cls, secret_set)
    finally:
        _LOADING.reset(loading)
    del cls  # a _with_environ class holds the values in a closure
    if isinstance(result, (MissingSecretsError, InvalidSecretsError)):
        placeholders = _READING_MODEL.get()
        if placeholders is not None:
            placeholders.append(settings_cls.__name__)
            return cast(S, settings_cls.model_construct())  # typed as the base class
        raise result from None
    return result


# The revision the process was started with ------------------------------------------------------


@dataclass(frozen=True)
class LoadedRevision:
    """The set's revision record as mounted into this process (``pcc_env.revision``): which
    write by pcc-env the agent's values come from, for the bot's own log line or health
    endpoint. Holds names and a time, never a value; pcc-env never logs it by itself.

    ``written_at`` is the writer's clock (UTC, to the second), None for a record of a format this
    pcc-env does not read; ``records`` above 1 means two writes raced (``values_match`` then
    cannot tell)."""

    marker: str
    written_at: datetime | None
    records: int
    covered: tuple[str, ...] | None  # the key names the record vouches for (None: unreadable)

    def values_match(self, environ: Mapping[str, str] | None = None) -> bool | None:
        """Whether the process's env vars hold exactly the values the record covers: True,
        False, or None when it cannot tell. Costs one scrypt (~15 ms, 4 MiB), paid only when
        asked: start-up pays nothing."""
        from pcc_env.revision import parse_marker, values_digest

        revision = parse_marker(self.marker)
        if revision is None or self.records != 1 or self.covered is None:
            return None
        env = os.environ if environ is None else environ
        if any(k not in env for k in self.covered):
            return False
        return revision.values_digest == values_digest(
            revision.salt, {k: env[k] for k in self.covered}
        )

    def to_json(self) -> dict[str, Any]:
        """For a health endpoint: the record's name and time (no value, no digest input)."""
        return {
            "marker": self.marker,
            "writtenAt": self.written_at.isoformat() if self.written_at else None,
            "records": self.records,
        }


def loaded_revision(environ: Mapping[str, str] | None = None) -> LoadedRevision | None:
    """The revision record of the secret set this process was started with, or None when the
    environment holds none (the set was never written by pcc-env, or a local run without it).
    Reads names only; ``LoadedRevision.values_match()`` checks the values, lazily."""
    from pcc_env.revision import covered_keys, is_marker, parse_marker

    env = os.environ if environ is None else environ
    markers = sorted(k for k in env if is_marker(k))
    if not markers:
        return None
    parsed = [(r.written_at, k) for k in markers if (r := parse_marker(k)) is not None]
    newest = max(parsed)[1] if parsed else markers[-1]
    revision = parse_marker(newest)
    return LoadedRevision(
        marker=newest,
        written_at=revision.written_at if revision is not None else None,
        records=len(markers),
        covered=(lambda c: tuple(c) if c is not None else None)(covered_keys(env[newest])),
    )
