"""pcc_env.scan: environment reads found in the syntax tree, never by pattern."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pcc_env.scan import EnvRead, left_out, looks_secret, scan_project, scan_source

DATA = Path(__file__).parent / "data" / "pipecat_bot"


def reads(source: str) -> list[tuple[str, int, str, str, object, object]]:
    result = scan_source(source, "m.py")
    assert not result.unparsable
    return [(r.name, r.line, r.how, r.default_kind, r.default, r.cast) for r in result.reads]


def test_every_form_of_read() -> None:
    source = """\
import os
a = os.getenv("A")
b = os.getenv("B", "dflt")
c = os.environ["C"]
d = os.environ.get("D", 3)
e = os.environ.setdefault("E", "x")
if "F" in os.environ:
    pass
g = os.getenv(key="G", default=None)
"""
    assert reads(source) == [
        ("A", 2, "getenv", "none", None, None),
        ("B", 3, "getenv", "literal", "dflt", None),
        ("C", 4, "environ[]", "none", None, None),
        ("D", 5, "environ.get", "literal", 3, None),
        ("E", 6, "environ.setdefault", "literal", "x", None),
        ("F", 7, "in environ", "none", None, None),
        ("G", 9, "getenv", "literal", None, None),
    ]


def test_from_imports_and_aliases() -> None:
    source = """\
from os import environ as env, getenv as ge
import os as operating_system
x = env["X"]
y = ge("Y")
z = operating_system.environ.get("Z")
"""
    assert [r[0] for r in reads(source)] == ["X", "Y", "Z"]


def test_reads_through_a_variable_holding_os_environ() -> None:
    source = """\
import os
env = os.environ
alias = env
copy = dict(os.environ)
snapshot = os.environ.copy()

def f():
    return env["A"], alias.get("B"), copy["C"], snapshot.get("D", "d"), "E" in env
"""
    assert [r[0] for r in reads(source)] == ["A", "B", "C", "D", "E"]


def test_reads_in_functions_methods_and_lambdas_with_lines() -> None:
    source = """\
import os

class Bot:
    def run(self):
        return os.getenv(
            "SPLIT_OVER_LINES"
        )

handler = lambda: os.environ["IN_LAMBDA"]
"""
    assert [(r[0], r[1]) for r in reads(source)] == [("SPLIT_OVER_LINES", 5), ("IN_LAMBDA", 9)]


def test_defaults_written_with_or_and_types_from_int_and_float() -> None:
    source = """\
import os
port = int(os.getenv("PORT_X", "7860"))
rate = float(os.environ.get("RATE") or "0.5")
level = os.getenv("LEVEL") or "INFO"
computed = os.getenv("COMPUTED", some_function())
negative = os.getenv("NEG", -1)
"""
    assert reads(source) == [
        ("PORT_X", 2, "getenv", "literal", "7860", "int"),
        ("RATE", 3, "environ.get", "literal", "0.5", "float"),
        ("LEVEL", 4, "getenv", "literal", "INFO", None),
        ("COMPUTED", 5, "getenv", "computed", None, None),
        ("NEG", 6, "getenv", "literal", -1, None),
    ]


def test_module_constants_name_variables_and_computed_names_are_placed() -> None:
    source = """\
import os
NAME = "FROM_CONSTANT"
TWICE = "A"
TWICE = "B"
x = os.getenv(NAME)
y = os.getenv(TWICE)
z = os.getenv(f"{x}_KEY")
"""
    result = scan_source(source, "m.py")
    assert [r.name for r in result.reads] == ["FROM_CONSTANT"]
    assert [p.where for p in result.dynamic] == ["m.py:6", "m.py:7"]


def test_what_is_not_a_read() -> None:
    source = """\
import os
from other import environ, getenv
os.environ["WRITTEN"] = "v"
del os.environ["DELETED"]
text = "os.getenv('IN_A_STRING')"
# os.getenv("IN_A_COMMENT")
environ["NOT_OS"]
getenv("NOT_OS_EITHER")
obj.environ["SOME_ATTRIBUTE"]
"""
    assert reads(source) == []


def test_a_module_that_does_not_parse_is_named_with_its_line_not_its_text() -> None:
    result = scan_source('import os\nprint "sk-secret-looking"\n', "old.py")
    assert [(p.path, p.line) for p in result.unparsable] == [("old.py", 2)]
    assert result.reads == []
    assert "sk-secret" not in repr(result)
    nul = scan_source(b"x = 1\0\n", "nul.py")
    assert [p.path for p in nul.unparsable] == ["nul.py"]


def test_the_fixture_bot(tmp_path: Path) -> None:
    result = scan_project(DATA)
    found = {name: [r.where for r in rs] for name, rs in result.by_name().items()}
    assert found == {
        "LOG_LEVEL": ["bot.py:27"],
        "CARTESIA_VOICE_ID": ["bot.py:31"],
        "DEEPGRAM_API_KEY": ["bot.py:37"],
        "CARTESIA_API_KEY": ["bot.py:40"],
        "OPENAI_API_KEY": ["bot.py:45"],
        "OPENAI_MODEL": ["bot.py:46"],
        "DAILY_API_KEY": ["server.py:8"],
        "DAILY_API_URL": ["server.py:9"],
        "DAILY_ROOM_EXPIRY": ["server.py:16"],
        "DAILY_RECORDING": ["server.py:17"],
        "HOME": ["server.py:24"],
        "BOT_PORT": ["server.py:25"],
        "OTEL_EXPORTER_OTLP_ENDPOINT": ["utils/tracing.py:9"],
    }
    assert [p.where for p in result.dynamic] == ["utils/tracing.py:10"]
    assert "run_bot" not in result.attributes and "room_url" in result.attributes


def test_skipped_directories_and_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text('import os\nos.getenv("KEPT")\n')
    for skipped in (
        ".venv/lib",
        "venv/lib/site-packages",
        "node_modules/x",
        ".git",
        "build/__pycache__",
    ):
        d = tmp_path / skipped
        d.mkdir(parents=True)
        (d / "dep.py").write_text('import os\nos.getenv("SKIPPED")\n')
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "myenv").mkdir()
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "myenv" / "x.py").write_text('import os\nos.getenv("SKIPPED")\n')
    for name in ("test_bot.py", "bot_test.py", "conftest.py"):
        (tmp_path / name).write_text('import os\nos.getenv("SKIPPED")\n')
    (tmp_path / "broken.py").write_text("def (:\n")
    os.mkfifo(tmp_path / "fifo.py")
    result = scan_project(tmp_path)
    assert [r.name for r in result.reads] == ["KEPT"]
    assert result.files == ["bot.py"]
    assert sorted(p.where for p in result.unparsable) == ["broken.py:1", "fifo.py"]


def test_by_name_folds_case_as_the_runtime_reads() -> None:
    result = scan_source('import os\nos.getenv("api_key")\nos.environ["API_KEY"]\n', "m.py")
    assert list(result.by_name()) == ["API_KEY"]
    assert len(result.by_name()["API_KEY"]) == 2


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("OPENAI_API_KEY", True),
        ("DAILY_TOKEN", True),
        ("DB_PASSWORD", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("STRIPE_SECRET", True),
        ("SENTRY_DSN", True),
        ("JWT_PRIVATE_KEY_PEM", True),
        ("AUTH_TOKEN", True),
        ("OPENAI_APIKEY", True),
        ("LOG_LEVEL", False),
        ("CARTESIA_VOICE_ID", False),
        ("DAILY_ROOM_URL", False),
        ("MONKEY_BUSINESS", False),  # words, not substrings
        ("KEYBOARD_LAYOUT", False),
    ],
)
def test_secret_looking_names(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_names_left_out() -> None:
    assert left_out("HOME") == "set by the system"
    assert left_out("PORT") == "set by Pipecat Cloud inside the agent"
    assert left_out("ESP32_MODE") == "set by Pipecat Cloud inside the agent"
    assert left_out("my.var") == "not a valid secret key"
    assert left_out("OPENAI_API_KEY") is None


def test_a_read_knows_where_it_is() -> None:
    assert EnvRead("X", "a/b.py", 3, "getenv").where == "a/b.py:3"
