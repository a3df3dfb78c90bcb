"""The runtime library: load_settings, required-key checks, leak-safety, start-up imports."""

from __future__ import annotations

import secrets
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ImportString,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pcc_env import (
    InvalidSecretsError,
    MissingSecretsError,
    SecretSettings,
    SettingsError,
    describe,
    load_settings,
    required_env_names,
)
from pcc_env.testing import settings_from_env

ROOT = Path(__file__).resolve().parent.parent


class Settings(SecretSettings, secret_set="my-secrets"):
    openai_api_key: SecretStr = Field(description="OpenAI key for the LLM service")
    daily_api_key: SecretStr
    log_level: str = "INFO"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OPENAI_API_KEY", "DAILY_API_KEY", "LOG_LEVEL", "BOT_PORT", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env or pcc-deploy.toml


def test_loads_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-1")
    monkeypatch.setenv("daily_api_key", "d-1")  # case-insensitive
    s = load_settings(Settings)
    assert s.openai_api_key.get_secret_value() == "sk-1"
    assert s.daily_api_key.get_secret_value() == "d-1"
    assert s.log_level == "INFO"


def test_all_missing_names_at_once() -> None:
    with pytest.raises(MissingSecretsError) as info:
        load_settings(Settings)
    assert info.value.missing == ["DAILY_API_KEY", "OPENAI_API_KEY"]
    assert str(info.value) == (
        "2 required secrets are missing: DAILY_API_KEY, OPENAI_API_KEY. On Pipecat Cloud add "
        "them to secret set 'my-secrets' (pcc-env push) and redeploy; locally add them to .env."
    )
    assert isinstance(info.value, SettingsError)


def test_one_missing_singular(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    with pytest.raises(MissingSecretsError) as info:
        load_settings(Settings)
    assert str(info.value).startswith("1 required secret is missing: DAILY_API_KEY.")


def test_secret_set_from_deploy_file(tmp_path: Path) -> None:
    class Unnamed(SecretSettings):
        token: SecretStr

    (tmp_path / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "from-toml"\n')
    with pytest.raises(MissingSecretsError) as info:
        load_settings(Unnamed)
    assert "secret set 'from-toml'" in str(info.value)
    (tmp_path / "pcc-deploy.toml").unlink()
    with pytest.raises(MissingSecretsError) as info:
        load_settings(Unnamed)
    assert "the agent's secret set" in str(info.value)


def test_env_prefix_alias_and_choices() -> None:
    class Prefixed(SecretSettings):
        model_config = SettingsConfigDict(env_prefix="BOT_")
        token: SecretStr
        port: int
        plain: str = Field(validation_alias="LEGACY_PLAIN")
        either: str = Field(validation_alias=AliasChoices("FIRST_NAME", "SECOND_NAME"))

    assert required_env_names(Prefixed) == ["BOT_PORT", "BOT_TOKEN", "FIRST_NAME", "LEGACY_PLAIN"]
    with pytest.raises(MissingSecretsError) as info:
        settings_from_env(Prefixed, {"BOT_TOKEN": "t", "SECOND_NAME": "ok"})
    assert info.value.missing == ["BOT_PORT", "LEGACY_PLAIN"]
    s = settings_from_env(
        Prefixed, {"BOT_TOKEN": "t", "BOT_PORT": "80", "LEGACY_PLAIN": "p", "SECOND_NAME": "s"}
    )
    assert (s.port, s.plain, s.either) == (80, "p", "s")


def test_nested_delimiter() -> None:
    class Db(BaseModel):
        host: str
        password: SecretStr
        port: int = 5432

    class Nested(SecretSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")
        db: Db
        name: str

    assert required_env_names(Nested) == ["DB__HOST", "DB__PASSWORD", "NAME"]
    with pytest.raises(MissingSecretsError) as info:
        settings_from_env(Nested, {"DB__HOST": "h", "NAME": "n"})
    assert info.value.missing == ["DB__PASSWORD"]
    s = settings_from_env(Nested, {"DB__HOST": "h", "DB__PASSWORD": "p", "NAME": "n"})
    assert s.db.port == 5432
    names = [d.env_name for d in describe(Nested)]
    assert names == ["DB__HOST", "DB__PASSWORD", "DB__PORT", "NAME"]


def test_case_sensitive_names_keep_their_case() -> None:
    class Exact(SecretSettings):
        model_config = SettingsConfigDict(case_sensitive=True)
        mixedCase: str

    assert required_env_names(Exact) == ["mixedCase"]


def test_env_file_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_KEY=from-file\nDAILY_API_KEY=from-file\n")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    s = load_settings(Settings)
    assert s.openai_api_key.get_secret_value() == "from-env"  # environment wins
    assert s.daily_api_key.get_secret_value() == "from-file"
    with pytest.raises(MissingSecretsError) as info:
        load_settings(Settings, env_file=None)
    assert info.value.missing == ["DAILY_API_KEY"]
    other = tmp_path / "prod.env"
    other.write_text("DAILY_API_KEY=from-prod\n")
    assert load_settings(Settings, env_file=other).daily_api_key.get_secret_value() == "from-prod"


def test_dotenv_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """python-dotenv (as pydantic-settings calls it) expands ${VAR} in every .env value, quoted
    or not, from the environment or earlier lines; an unknown variable becomes "". Pipecat Cloud
    mounts values literally, so pcc-env push refuses values that interpolation changes unless
    --no-interpolate says to send them as written."""
    monkeypatch.setenv("REGION_FROM_ENV", "eu")
    (tmp_path / ".env").write_text(
        "BASE=abc\nOPENAI_API_KEY=${BASE}-123\nDAILY_API_KEY='${BASE}-literal'\n"
        "LOG_LEVEL=${REGION_FROM_ENV}-${MISSING_VAR}\n"
    )
    s = load_settings(Settings)
    assert s.openai_api_key.get_secret_value() == "abc-123"
    assert s.daily_api_key.get_secret_value() == "abc-literal"  # single quotes do not stop it
    assert s.log_level == "eu-"


def test_invalid_value_names_var_without_value() -> None:
    class Typed(SecretSettings):
        port: int
        ratio: float = 1.0

    canary = "canary-4f1e-invalid"
    with pytest.raises(InvalidSecretsError) as info:
        settings_from_env(Typed, {"PORT": canary, "RATIO": canary})
    assert set(info.value.invalid) == {"PORT", "RATIO"}
    assert "valid integer" in info.value.invalid["PORT"]
    assert canary not in str(info.value)


def test_custom_validator_message_is_never_used() -> None:
    class Validated(SecretSettings):
        token: SecretStr

        @field_validator("token", mode="before")
        @classmethod
        def check(cls, v: str) -> str:
            raise ValueError(f"token {v} has the wrong prefix")

    canary = "canary-validator-9b2d"
    with pytest.raises(InvalidSecretsError) as info:
        settings_from_env(Validated, {"TOKEN": canary})
    assert canary not in str(info.value)
    assert "wrong prefix" not in str(info.value)  # a validator's text may hold any value
    assert info.value.invalid == {"TOKEN": "rejected by a validator"}


def test_missing_and_invalid_together() -> None:
    class Both(SecretSettings):
        port: int
        token: SecretStr

    with pytest.raises(MissingSecretsError) as info:
        settings_from_env(Both, {"PORT": "x"})
    assert info.value.missing == ["TOKEN"] and "PORT" in str(info.value)


def test_canary_never_reachable_from_error_or_settings() -> None:
    class Leaky(SecretSettings):
        port: int
        token: SecretStr
        note: str
        missing_one: SecretStr

    canaries = {"PORT": "canary-port-0a1", "TOKEN": "canary-token-0a2", "NOTE": "canary-note-0a3"}
    with pytest.raises(MissingSecretsError) as info:
        settings_from_env(Leaky, canaries)
    exc = info.value
    assert exc.__cause__ is None and exc.__context__ is None
    assert not hasattr(exc, "errors")
    text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    for canary in canaries.values():
        assert canary not in text

    class Fine(SecretSettings):
        token: SecretStr
        note: str
        count: int = 3

    s = settings_from_env(Fine, {"TOKEN": "canary-token-0b1", "NOTE": "canary-note-0b2"})
    assert "canary" not in repr(s) and "canary" not in str(s)
    assert "count=3" in repr(s)


def test_plain_base_settings_works(tmp_path: Path) -> None:
    class Plain(BaseSettings):
        api_key: str

    (tmp_path / ".env").write_text("API_KEY=from-dotenv\n")
    assert load_settings(Plain).api_key == "from-dotenv"
    (tmp_path / ".env").unlink()
    with pytest.raises(MissingSecretsError) as info:
        load_settings(Plain)
    assert info.value.missing == ["API_KEY"]
    assert info.value.__context__ is None


def test_settings_from_env_does_not_touch_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "from-os")
    s = settings_from_env(Settings, {"OPENAI_API_KEY": "from-dict", "DAILY_API_KEY": "d"})
    assert s.openai_api_key.get_secret_value() == "from-dict"
    import os

    assert os.environ["OPENAI_API_KEY"] == "from-os" and "DAILY_API_KEY" not in os.environ


def test_describe() -> None:
    rows = {d.env_name: d for d in describe(Settings)}
    assert rows["OPENAI_API_KEY"].required and rows["OPENAI_API_KEY"].secret
    assert rows["OPENAI_API_KEY"].description == "OpenAI key for the LLM service"
    assert rows["LOG_LEVEL"].default == "INFO" and not rows["LOG_LEVEL"].required
    assert rows["DAILY_API_KEY"].default is None


def test_runtime_imports_no_tooling() -> None:
    code = (
        "import sys, pcc_env\n"
        "from pcc_env import SecretSettings, load_settings, MissingSecretsError\n"
        "class S(SecretSettings):\n    a: str = 'x'\n"
        "load_settings(S)\n"
        "import pcc_env.runtime, pcc_env.testing\n"
        "heavy = ['httpx', 'keyring', 'watchfiles', 'typer', 'rich', 'stamina', 'fastapi',"
        " 'uvicorn', 'starlette', 'click', 'platformdirs', 'pcc_env.client', 'pcc_env.cli']\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


def test_import_pcc_env_alone_imports_nothing_heavy() -> None:
    code = (
        "import sys, pcc_env; "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'dotenv', 'pcc_env.'))))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("env_present", [True, False])
def test_example_bot(env_present: bool, tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    if env_present:
        for line in (ROOT / "examples" / ".env.sample").read_text().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key] = value
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "bot.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    if env_present:
        assert r.returncode == 0, r.stderr
        assert "Bot configured: log level DEBUG" in r.stdout
    else:
        assert r.returncode == 78
        assert (
            "3 required secrets are missing: CARTESIA_API_KEY, DAILY_API_KEY, OPENAI_API_KEY"
            in r.stderr
        )
        assert "'demo-bot-secrets'" in r.stderr and "Traceback" not in r.stderr


# Leaky models: each one makes pydantic put (part of) a value where a naive translation copies it.


class _ComparesFields(SecretSettings):
    password: SecretStr
    confirm: SecretStr

    @model_validator(mode="after")
    def same(self) -> _ComparesFields:
        a, b = self.password.get_secret_value(), self.confirm.get_secret_value()
        if a != b:
            raise ValueError(f"{a!r} does not match {b!r}")
        return self


class _EchoesPrefix(SecretSettings):
    token: str

    @field_validator("token")
    @classmethod
    def prefix(cls, v: str) -> str:
        raise ValueError(f"a token starting {v[:8]!r} is not a live key")


class _StripsWhitespace(SecretSettings):
    model_config = SettingsConfigDict(str_strip_whitespace=True)
    token: str

    @field_validator("token")
    @classmethod
    def check(cls, v: str) -> str:
        raise ValueError(f"bad token {v}")


class _TransformsBefore(SecretSettings):
    token: str

    @field_validator("token", mode="before")
    @classmethod
    def shout(cls, v: str) -> str:
        return "<" + v.upper() + ">"

    @field_validator("token")
    @classmethod
    def check(cls, v: str) -> str:
        raise ValueError(f"bad token {v}")


class _WholeDictBefore(SecretSettings):
    token: str

    @model_validator(mode="before")
    @classmethod
    def look(cls, data: Any) -> Any:
        raise ValueError(f"refused {data}")


class _CustomErrorType(SecretSettings):
    token: str

    @field_validator("token")
    @classmethod
    def check(cls, v: str) -> str:
        raise PydanticCustomError(f"bad_{v[:10]}", "bad {value}", {"value": v})


class _Asserts(SecretSettings):
    token: str

    @field_validator("token")
    @classmethod
    def check(cls, v: str) -> str:
        assert v.startswith("sk-"), v
        return v


class _Imports(SecretSettings):
    handler: ImportString[Any]


class _Sub(BaseModel):
    host: str


class _JsonList(SecretSettings):
    hosts: list[str]


class _JsonDict(SecretSettings):
    limits: dict[str, int]


class _JsonNested(SecretSettings):
    db: _Sub


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "localhost"


class _DictKeyFromValue(SecretSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__")
    db: _Strict
    limits: dict[str, int]


def _value() -> str:
    return "zq" + secrets.token_hex(12) + "-Vq"


# model -> (env var -> value maker), every value a fresh canary
LEAKY: dict[str, tuple[type[BaseSettings], dict[str, Any]]] = {
    "model validator comparing fields": (
        _ComparesFields,
        {"PASSWORD": _value, "CONFIRM": _value},
    ),
    "validator echoing a prefix": (_EchoesPrefix, {"TOKEN": _value}),
    "str_strip_whitespace": (_StripsWhitespace, {"TOKEN": lambda: "   " + _value() + "  "}),
    "mode=before transforming": (_TransformsBefore, {"TOKEN": _value}),
    "model validator mode=before": (_WholeDictBefore, {"TOKEN": _value}),
    "custom error type from the value": (_CustomErrorType, {"TOKEN": _value}),
    "assert echoing the value": (_Asserts, {"TOKEN": _value}),
    "ImportString": (_Imports, {"HANDLER": lambda: _value().replace("-", "_") + ".mod"}),
    "list not JSON": (_JsonList, {"HOSTS": _value}),
    "dict not JSON": (_JsonDict, {"LIMITS": lambda: "{" + _value()}),
    "nested model not JSON": (_JsonNested, {"DB": _value}),
    "dict key from a JSON value": (
        _DictKeyFromValue,
        {"DB": lambda: f'{{"{_value()}": 1}}', "LIMITS": lambda: f'{{"{_value()}": "x"}}'},
    ),
}


def _windows(value: str) -> set[str]:
    return {value[i : i + 6].lower() for i in range(len(value) - 5)}


def _exception_texts(exc: BaseException) -> list[tuple[str, str]]:
    """Every text an error reporter may record: str, repr, args, attributes, the formatted
    traceback, and the repr of every local of every frame of every traceback in the chain."""
    out = [
        ("str", str(exc)),
        ("repr", repr(exc)),
        ("args", repr(exc.args)),
        ("__dict__", repr(vars(exc))),
        ("traceback", "".join(traceback.format_exception(exc))),
    ]
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(("chained", f"{cur!s} {cur!r} {vars(cur)!r}"))
        tb = cur.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, local in frame.f_locals.items():
                out.append((f"local {name} of {frame.f_code.co_name}", _deep_repr(local)))
            tb = tb.tb_next
        cur = cur.__cause__ or cur.__context__
    return out


def _deep_repr(value: Any, depth: int = 0) -> str:
    """Like an error reporter's serializer: containers walked, everything else repr()'d."""
    if depth > 5:
        return ""
    if isinstance(value, dict):
        return " ".join(
            f"{_deep_repr(k, depth + 1)}:{_deep_repr(v, depth + 1)}" for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set, frozenset)):
        return " ".join(_deep_repr(v, depth + 1) for v in value)
    return repr(value)


def _load_from(cls: type[BaseSettings], env_file: Path | None) -> BaseException:
    """Catch in a frame that holds no value, as a bot's start-up code would."""
    try:
        load_settings(cls, env_file=env_file)
    except SettingsError as exc:
        return exc
    raise AssertionError("expected a SettingsError")


@pytest.mark.parametrize("source", ["environment", "dotenv"])
@pytest.mark.parametrize("case", sorted(LEAKY))
def test_no_six_char_window_of_a_value_reaches_the_error(
    case: str, source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cls, makers = LEAKY[case]
    values = {name: make() for name, make in makers.items()}
    if source == "environment":
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        env_file = None
    else:
        env_file = tmp_path / "bot.env"
        env_file.write_text("".join(f"{n}='{v}'\n" for n, v in values.items()))
    exc = _load_from(cls, env_file)
    assert isinstance(exc, InvalidSecretsError), repr(exc)
    assert exc.__cause__ is None and exc.__context__ is None and exc.__suppress_context__
    assert exc.invalid  # names what is wrong ...
    assert set(exc.invalid) <= {*makers, "(model)"}
    windows = set().union(*(_windows(v) for v in values.values()))
    texts = _exception_texts(exc)
    assert any(name == "local result of load_settings" for name, _ in texts)  # frames were walked
    for where, text in texts:
        lowered = text.lower()
        leaked = [w for w in windows if w in lowered]
        assert not leaked, f"{case}: a piece of a value is in {where}"
    del values


def test_not_json_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", "a,b")
    with pytest.raises(InvalidSecretsError) as info:
        load_settings(_JsonList, env_file=None)
    assert info.value.invalid == {"HOSTS": "not valid JSON"}
    assert str(info.value) == "1 secret has an invalid value: HOSTS: not valid JSON"


def test_model_level_error_says_model_validation_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSWORD", "one-value")
    monkeypatch.setenv("CONFIRM", "other-value")
    with pytest.raises(InvalidSecretsError) as info:
        load_settings(_ComparesFields, env_file=None)
    assert info.value.invalid == {"(model)": "model validation failed (value_error)"}
    assert (
        str(info.value)
        == "The settings are invalid: (model): model validation failed (value_error)"
    )


def test_environ_argument_is_not_kept_in_load_settings_frame() -> None:
    def attempt() -> BaseException:
        try:
            load_settings(_EchoesPrefix, env_file=None, environ={"TOKEN": "zq-environ-7c41e9"})
        except SettingsError as exc:
            return exc
        raise AssertionError

    exc = attempt()
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    inner = [f for f in frames if f.f_code.co_name == "load_settings"]
    assert inner and "environ" not in inner[0].f_locals
    for frame in frames:
        assert "environ-7c41e9" not in _deep_repr(dict(frame.f_locals))
