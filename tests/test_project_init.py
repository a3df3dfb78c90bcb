"""pcc_env.project_init: fields from reads, the generated module, and edits that keep files."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from pydantic import SecretStr

from pcc_env.errors import ConfigError, InputError
from pcc_env.project_init import (
    FieldPlan,
    drift,
    env_is_ignored,
    gitignore_change,
    model_from_source,
    plan_fields,
    pyproject_change,
    settings_source,
    template_change,
)
from pcc_env.runtime import describe, load_settings
from pcc_env.scan import scan_source

PY = Path("pyproject.toml")


def fields_of(source: str, env_keys: tuple[str, ...] = ()) -> dict[str, FieldPlan]:
    fields, _ = plan_fields(scan_source(source, "bot.py"), list(env_keys))
    return {f.env_name: f for f in fields}


def test_required_defaults_types_and_secrets() -> None:
    f = fields_of(
        "import os\n"
        'a = os.getenv("OPENAI_API_KEY")\n'
        'b = os.getenv("LOG_LEVEL", "INFO")\n'
        'c = int(os.getenv("WORKERS", "4"))\n'
        'd = os.environ.get("OPTIONAL_URL", None)\n'
        'e = os.getenv("FROM_CODE", compute())\n'
        'g = os.getenv("HARDCODED_TOKEN", "tok-123")\n'
        'h = os.getenv("EMPTY_SECRET", "")\n'
        'i = "FLAG" in os.environ\n'
        'j = os.getenv("RATIO", 0.5)\n'
    )
    assert (f["OPENAI_API_KEY"].annotation, f["OPENAI_API_KEY"].required) == ("SecretStr", True)
    assert (f["LOG_LEVEL"].annotation, f["LOG_LEVEL"].default) == ("str", "INFO")
    assert (f["WORKERS"].annotation, f["WORKERS"].default) == ("int", 4)
    assert f["OPTIONAL_URL"].annotation == "str | None" and not f["OPTIONAL_URL"].required
    assert f["FROM_CODE"].annotation == "str | None"
    assert "computed in code" in f["FROM_CODE"].description
    # A secret's default in code is never copied into the model (only an empty one is): the
    # field becomes required (issue 20, item 5).
    assert f["HARDCODED_TOKEN"].annotation == "SecretStr" and f["HARDCODED_TOKEN"].required
    assert f["HARDCODED_TOKEN"].default is None
    assert "not copied" in f["HARDCODED_TOKEN"].description
    assert (f["EMPTY_SECRET"].annotation, f["EMPTY_SECRET"].default) == ("SecretStr", "")
    assert f["FLAG"].annotation == "str | None"
    assert (f["RATIO"].annotation, f["RATIO"].default) == ("float", 0.5)
    assert f["OPENAI_API_KEY"].description == "read in bot.py:2"


def test_env_keys_join_after_the_code_and_names_are_left_out_with_a_reason() -> None:
    fields, left = plan_fields(
        scan_source(
            'import os\nos.getenv("A_KEY")\nos.getenv("HOME")\nos.getenv("PORT")\n', "b.py"
        ),
        ["a_key", "DAILY_SAMPLE_ROOM_URL", "bad.key"],
    )
    assert [(f.env_name, f.places) for f in fields] == [
        ("A_KEY", ("b.py:2",)),
        ("DAILY_SAMPLE_ROOM_URL", ()),
    ]
    assert [(x.name, x.reason) for x in left] == [
        ("HOME", "set by the system"),
        ("PORT", "set by Pipecat Cloud inside the agent"),
        ("bad.key", "not a valid secret key"),
    ]


def test_many_places_are_summarised() -> None:
    source = "import os\n" + "".join(f'os.getenv("X_KEY")  # {i}\n' for i in range(5))
    assert fields_of(source)["X_KEY"].description == (
        "read in bot.py:2, bot.py:3, bot.py:4 and 2 more places"
    )


def test_the_generated_module_loads_the_values(tmp_path: Path) -> None:
    source = settings_source(
        list(
            fields_of(
                "import os\n"
                'os.getenv("OPENAI_API_KEY")\n'
                'int(os.getenv("PORT_NUMBER", "7860"))\n'
                'os.getenv("LOG_LEVEL", "INFO")\n'
                'os.getenv("MY-DASHED-NAME")\n'  # not an identifier: an alias
                'os.getenv("CLASS")\n'  # a keyword
                'os.getenv("JSON")\n'  # a BaseModel attribute
                'os.getenv("_INTERNAL")\n',  # pydantic ignores _names
                ("ONLY_IN_ENV",),
            ).values()
        )
    )
    compile(source, "settings.py", "exec")
    model = model_from_source(source)
    env = {
        "OPENAI_API_KEY": "sk-x",
        "MY-DASHED-NAME": "dash",
        "CLASS": "c",
        "JSON": "j",
        "_INTERNAL": "p",
    }
    settings = load_settings(model, env_file=None, environ=env)
    assert isinstance(settings.openai_api_key, SecretStr)  # type: ignore[attr-defined]
    assert settings.port_number == 7860 and settings.log_level == "INFO"  # type: ignore[attr-defined]
    dumped = settings.model_dump()
    aliased = {k: dumped[k] for k in ("my_dashed_name", "class_", "json_", "internal")}
    assert aliased == {"my_dashed_name": "dash", "class_": "c", "json_": "j", "internal": "p"}
    names = [d.env_name for d in describe(model)]
    assert names == [
        "OPENAI_API_KEY",
        "PORT_NUMBER",
        "LOG_LEVEL",
        "MY-DASHED-NAME",
        "CLASS",
        "JSON",
        "_INTERNAL",
        "ONLY_IN_ENV",
    ]
    assert model.__pcc_read_elsewhere__ == ("ONLY_IN_ENV",)  # type: ignore[attr-defined]
    assert 'Field("INFO", description="read in bot.py:4")' in source


def test_descriptions_and_defaults_from_hostile_code_stay_inside_their_strings() -> None:
    source = settings_source(
        list(
            fields_of(
                'import os\nos.getenv("EVIL", "x\\")\\nimport os; os.system(\\"boom\\")#")\n'
            ).values()
        )
    )
    model = model_from_source(source)  # it compiles: the default is one string literal
    assert load_settings(model, env_file=None, environ={}).evil == (  # type: ignore[attr-defined]
        'x")\nimport os; os.system("boom")#'
    )


def test_template_is_created_or_merged_and_refused_when_it_holds_values(tmp_path: Path) -> None:
    model = model_from_source(
        settings_source(
            list(fields_of('import os\nos.getenv("A_KEY")\nos.getenv("B", "b")\n').values())
        )
    )
    path = tmp_path / ".env.example"
    created = template_change(path, None, model, force=False)
    assert created.action == "create" and created.text is not None
    # B has a default: optional, commented out with it (issue 21 item 7)
    assert "A_KEY=\n" in created.text and "# B=b\n" in created.text
    merged = template_change(path, "# mine\nOTHER=\n", model, force=False)
    assert merged.action == "update" and merged.text is not None
    lines = merged.text.splitlines()
    # A_KEY is read with no check (optional, undecided): commented out too (issue 21 item 7)
    assert (
        lines[1:3] == ["# mine", "OTHER="] and "OTHER=" in lines and "# A_KEY=" in lines
    )  # yours kept
    assert template_change(path, created.text, model, force=False).action == "unchanged"
    with pytest.raises(InputError, match="line 2"):
        template_change(path, "# x\nA_KEY=sk-live\n", model, force=True)


@pytest.mark.parametrize(
    ("text", "ignored"),
    [
        (".env\n", True),
        ("/.env\n", True),
        ("**/.env\n", True),
        (".env*\n", True),
        ("*.env\n", True),
        (".env.*\n", False),
        (".env/\n", False),
        ("# .env\n", False),
        (".env\n!.env\n", False),
        ("*.env\n!.env\n.env\n", True),
        ("", False),
    ],
)
def test_gitignore_semantics(text: str, ignored: bool) -> None:
    assert env_is_ignored(text) is ignored


def test_gitignore_is_appended_to_only_when_needed() -> None:
    p = Path(".gitignore")
    assert gitignore_change(p, ".venv/\n.env\n.env.*\n!.env.example\n").action == "unchanged"
    appended = gitignore_change(p, "__pycache__/")
    assert appended.action == "append" and appended.text is not None
    assert appended.text.startswith("__pycache__/\n\n#")
    assert appended.text.endswith("\n.env\n.env.*\n!.env.example\n")
    assert gitignore_change(p, None).action == "create"


PYPROJECT = """\
[project]
name = "bot"  # a comment that must stay
dependencies = [
  "pipecat-ai",
]

[tool.ruff]
line-length = 100
"""


def test_pyproject_gets_a_new_table_and_keeps_every_other_byte() -> None:
    change = pyproject_change(PY, PYPROJECT)
    assert change.action == "update" and change.text is not None
    assert change.text.startswith(PYPROJECT)
    assert change.text.endswith('\n[tool.pcc-env]\nsettings = "settings:Settings"\n')
    assert tomllib.loads(change.text)["tool"]["pcc-env"] == {"settings": "settings:Settings"}


def test_pyproject_with_the_table_gets_the_key_inside_it() -> None:
    text = PYPROJECT + '\n[tool.pcc-env]  # ours\nenv_file = ".env.local"\n\n[tool.other]\nx = 1\n'
    change = pyproject_change(PY, text)
    assert change.text is not None
    assert '[tool.pcc-env]  # ours\nsettings = "settings:Settings"\nenv_file' in change.text
    assert change.text.replace('settings = "settings:Settings"\n', "") == text


def test_pyproject_with_only_subtables_gets_the_table_appended() -> None:
    text = '[tool.pcc-env.targets.prod]\nset = "bot-prod"\n'
    change = pyproject_change(PY, text)
    assert change.text is not None
    data = tomllib.loads(change.text)["tool"]["pcc-env"]
    assert data == {"settings": "settings:Settings", "targets": {"prod": {"set": "bot-prod"}}}


def test_pyproject_cases_that_are_left_alone_or_refused() -> None:
    assert pyproject_change(PY, None).action == "create"
    same = '[tool.pcc-env]\nsettings = "settings:Settings"\n'
    assert pyproject_change(PY, same).action == "unchanged"
    with pytest.raises(ConfigError, match="already names settings 'bot:BotSettings'"):
        pyproject_change(PY, '[tool.pcc-env]\nsettings = "bot:BotSettings"\n')
    with pytest.raises(ConfigError, match="without rewriting the file"):
        pyproject_change(PY, 'tool = { "pcc-env" = { env_file = ".env" } }\n')
    with pytest.raises(ConfigError, match="without rewriting the file"):
        pyproject_change(PY, '[tool]\npcc-env.env_file = ".env"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        pyproject_change(PY, "[project\n")


def test_drift_between_a_model_and_the_code() -> None:
    model = model_from_source(
        settings_source(
            list(
                fields_of(
                    'import os\nos.getenv("A_KEY")\nos.getenv("GONE")\n', ("LIB_KEY",)
                ).values()
            )
        )
    )
    same = scan_source('import os\nos.getenv("A_KEY")\nos.getenv("GONE")\n', "bot.py")
    assert drift(model, same).ok
    changed = scan_source(
        'import os\nos.getenv("A_KEY")\nos.environ["NEW_ONE"]\nos.getenv("HOME")\n', "bot.py"
    )
    found = drift(model, changed)
    assert found.not_in_model == [("NEW_ONE", ("bot.py:3",))]
    assert found.unread == ["GONE"]  # LIB_KEY is listed in __pcc_read_elsewhere__
    # A bot that now reads the field through the settings object reads it.
    migrated = scan_source("def f(settings):\n    return settings.a_key, settings.gone\n", "b.py")
    assert drift(model, migrated).ok
