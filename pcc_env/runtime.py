"""What a bot imports: typed settings from the secrets Pipecat Cloud mounts as env vars.

``load_settings`` builds a pydantic-settings model (process environment, then a local ``.env``,
then defaults) and turns a ``ValidationError`` into one of ours: ``MissingSecretsError`` naming
every missing env var as the user must set it, or ``InvalidSecretsError`` naming each invalid
one. Neither carries the ``ValidationError`` (which holds ``input_value``): it is not chained,
not in ``__context__``, and no value appears in the message.

This module imports only pydantic, pydantic-settings and pure pcc-env modules: bot start-up
pays for nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

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
    when present, and ``repr()`` shows no string values at all. Name the secret set with
    ``class Settings(SecretSettings, secret_set="my-secrets")`` to get it in error messages.
    """

    model_config = SettingsConfigDict(
        extra="ignore",
        hide_input_in_errors=True,
        case_sensitive=False,
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
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


class _Masked:
    def __repr__(self) -> str:
        return _MASK


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
    annotation = _unwrap_optional(field.annotation)
    return isinstance(annotation, type) and issubclass(annotation, (SecretStr, SecretBytes))


def _case(settings_cls: type[BaseSettings], name: str) -> str:
    return name if settings_cls.model_config.get("case_sensitive") else name.upper()


def _env_names(settings_cls: type[BaseSettings], field_name: str, field: FieldInfo) -> list[str]:
    """The env var names pydantic-settings reads for a top-level field, first one preferred."""
    source = EnvSettingsSource(settings_cls)
    return [_case(settings_cls, env) for _, env, _ in source._extract_field_info(field, field_name)]


def _nested_delimiter(settings_cls: type[BaseSettings]) -> str | None:
    return settings_cls.model_config.get("env_nested_delimiter") or None


def _nested_name(model: type[BaseModel], key: str) -> tuple[str, FieldInfo | None]:
    for name, field in model.model_fields.items():
        if key in (name, field.alias, field.validation_alias):
            return (field.alias or name), field
    return key, None


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
        if model is None:
            break
        sub_name, sub_field = _nested_name(model, str(key))
        parts.append(_case(settings_cls, sub_name))
        model = _nested_model(sub_field) if sub_field is not None else None
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


def _scrub(message: str, value: Any) -> str:
    """Drop an input that a custom validator may have put in its message."""
    if isinstance(value, str) and len(value) >= 3 and value in message:
        return message.replace(value, "***")
    return message


def _translate(
    settings_cls: type[BaseSettings], exc: ValidationError, secret_set: str | None
) -> MissingSecretsError | InvalidSecretsError:
    missing: set[str] = set()
    invalid: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_context=False):
        env = _env_name_for_loc(settings_cls, tuple(error["loc"])) if error["loc"] else "?"
        if error["type"] == "missing":
            missing.add(env)
        else:
            invalid.setdefault(env, _scrub(error["msg"], error.get("input")))
    if missing:
        names = sorted(missing)
        count = f"{len(names)} required secret{'s are' if len(names) != 1 else ' is'} missing"
        set_name = _secret_set_name(settings_cls, secret_set)
        where = f"secret set '{set_name}'" if set_name else "the agent's secret set"
        message = (
            f"{count}: {', '.join(names)}. On Pipecat Cloud add them to {where} "
            f"(pcc-env push) and redeploy; locally add them to .env."
        )
        if invalid:
            message += " Also invalid: " + "; ".join(
                f"{k} ({v})" for k, v in sorted(invalid.items())
            )
        return MissingSecretsError(message, names)
    details = "; ".join(f"{k}: {v}" for k, v in sorted(invalid.items()))
    noun = "secret has" if len(invalid) == 1 else "secrets have"
    return InvalidSecretsError(f"{len(invalid)} {noun} an invalid value: {details}", invalid)


def _with_environ(settings_cls: type[S], environ: Mapping[str, str]) -> type[S]:
    """A subclass whose env source reads ``environ`` instead of ``os.environ``."""
    case_sensitive = bool(settings_cls.model_config.get("case_sensitive"))
    values = {(k if case_sensitive else k.lower()): v for k, v in environ.items()}

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
    """
    cls = _with_environ(settings_cls, environ) if environ is not None else settings_cls
    kwargs: dict[str, Any] = {}
    if env_file is not DEFAULT:
        kwargs["_env_file"] = env_file
    elif settings_cls.model_config.get("env_file") is None:
        kwargs["_env_file"] = DEFAULT_ENV_FILE
    error: MissingSecretsError | InvalidSecretsError | None = None
    try:
        return cls(**kwargs)
    except ValidationError as exc:
        error = _translate(settings_cls, exc, secret_set)
    # Raised outside the except block: no __context__ points at the ValidationError.
    raise error
