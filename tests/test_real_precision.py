"""Issue 21's figures on real projects: precision (no field the agent does not need), no required
field the code tolerates missing, one placeholder recogniser. Fixtures written here, one per
pattern, shaped like what the benchmark (``benchmarks/realbots.py``) found in real bots.

- A template key that no code reads stays in the template and is no field; one a library reads
  (``rules.library_reading``) is an optional field marked as such.
- A project with no ``bot.py`` is taken as the Pipecat runner takes it: each module defining
  ``bot()`` or running a Pipecat pipeline as a program is an entry point; with none, no code is
  the agent's ("no entry point found"), and a dry run says so without refusing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcc_env.project_init import UNREAD_TEMPLATE_KEY, plan_fields, plan_init
from pcc_env.reach import NO_ENTRY, split_scan
from pcc_env.scan import scan_project, scan_source
from tests.cli_helpers import Result, run_cli


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def init(root: Path, *args: str) -> Result:
    return run_cli("init", *args, cwd=root, env={"PCC_ENV_DATA_DIR": str(root / ".state")})


BOT = """import os
from pipecat.services.openai.llm import OpenAILLMService

async def bot(runner_args):
    llm = OpenAILLMService(api_key=os.getenv("OPENAI_API_KEY"))
"""
# A template copied from another example: WHATSAPP_TOKEN is read by nothing.
TEMPLATE = """# OpenAI. Create a key here: https://platform.openai.com/api-keys
OPENAI_API_KEY=your_openai_api_key
# Read by the Pipecat runner
DAILY_API_KEY=your_daily_api_key
# Left over from the WhatsApp example
WHATSAPP_TOKEN=your_whatsapp_token
"""


def plan(root: Path):  # type: ignore[no-untyped-def]
    split = split_scan(root, scan_project(root))
    return split, plan_init(root, split.agent, [], all_files=split.agent.files)


# Template keys ----------------------------------------------------------------------------------


def test_a_template_key_nothing_reads_stays_in_the_template_and_is_no_field(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "p", {"bot.py": BOT, "env.example": TEMPLATE})
    _, p = plan(root)
    names = [f.env_name for f in p.fields]
    assert names == ["OPENAI_API_KEY", "DAILY_API_KEY"]
    assert [(o.name, o.reason) for o in p.left_out] == [("WHATSAPP_TOKEN", UNREAD_TEMPLATE_KEY)]
    template = next(c for c in p.changes if c.path.name == "env.example")
    # updated in place (or left as it is): the line stays, with its comment
    assert template.action in ("update", "unchanged")
    kept = template.text if template.text is not None else TEMPLATE
    assert "# Left over from the WhatsApp example\nWHATSAPP_TOKEN=your_whatsapp_token" in kept


def test_a_template_key_a_library_reads_is_an_optional_field_marked_as_such(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "p", {"bot.py": BOT, "env.example": TEMPLATE})
    _, p = plan(root)
    daily = next(f for f in p.fields if f.env_name == "DAILY_API_KEY")
    assert not daily.required and daily.library == "the Pipecat runner"
    assert daily.summary == "optional (read by a library: the Pipecat runner)"


@pytest.mark.parametrize(
    ("key", "library"),
    [
        ("DAILY_SAMPLE_ROOM_URL", "the Pipecat runner"),
        ("TWILIO_ACCOUNT_SID", "the Pipecat runner (Twilio serializer)"),
        ("TWILIO_AUTH_TOKEN", "the Pipecat runner (Twilio serializer)"),
        ("PLIVO_AUTH_TOKEN", "the Pipecat runner (Plivo serializer)"),
    ],
)
def test_the_pipecat_runners_own_keys_in_a_template_stay_fields(
    tmp_path: Path, key: str, library: str
) -> None:
    """The runner's create_transport builds the telephony serializer from TWILIO_* (hang-up),
    and its Daily helper reads DAILY_SAMPLE_ROOM_URL: no project code reads them."""
    root = write(tmp_path / "p", {"bot.py": BOT, "env.example": f"{key}=your_value_here\n"})
    _, p = plan(root)
    found = next(f for f in p.fields if f.env_name == key)
    assert not found.required and found.library == library
    assert not [o for o in p.left_out if o.name == key]


def test_a_template_key_may_be_a_name_computed_in_the_code_undecided(tmp_path: Path) -> None:
    computed = BOT + '    voice = os.getenv(f"{runner_args.provider}_TOKEN")\n'
    root = write(tmp_path / "p", {"bot.py": computed, "env.example": TEMPLATE})
    _, p = plan(root)
    token = next(f for f in p.fields if f.env_name == "WHATSAPP_TOKEN")
    assert not token.required and token.need == "unknown"
    assert "bot.py:6" in token.why and token.summary.startswith("optional (undecided:")


def test_init_json_lists_an_unread_template_key_as_left_out(tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"bot.py": BOT, "env.example": TEMPLATE})
    r = init(root, "--dry-run", "--json")
    assert r.code == 0, r.output
    doc = json.loads(r.stdout)
    assert [f["variable"] for f in doc["fields"]] == ["OPENAI_API_KEY", "DAILY_API_KEY"]
    assert {
        "variable": "WHATSAPP_TOKEN",
        "reason": UNREAD_TEMPLATE_KEY,
        "readIn": ["env.example"],
    } in doc["leftOut"]


# Entry points -----------------------------------------------------------------------------------

FLOW = """import os
from pipecat.runner.types import RunnerArguments

async def bot(runner_args: RunnerArguments):
    key = os.environ["{key}"]

if __name__ == "__main__":
    from pipecat.runner.run import main

    main()
"""
PROGRAM = """import asyncio
import os
from pipecat.pipeline.runner import PipelineRunner

async def main():
    key = os.environ["DAILY_API_KEY"]
    await PipelineRunner().run(None)

if __name__ == "__main__":
    asyncio.run(main())
"""
WEBHOOK = """import os
from fastapi import FastAPI

app = FastAPI()
API_KEY = os.environ["PIPECAT_CLOUD_API_KEY"]
AGENT = os.getenv("AGENT_NAME", "my-agent")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app)
"""


SCRIPT = "import os\n\nif __name__ == '__main__':\n    os.environ['PLAYER_TOKEN']\n"


def test_without_bot_py_each_module_defining_bot_is_an_entry_point(tmp_path: Path) -> None:
    root = write(
        tmp_path / "flows",
        {
            "hello.py": FLOW.replace("{key}", "OPENAI_API_KEY"),
            "quote.py": FLOW.replace("{key}", "DEEPGRAM_API_KEY"),
            "player.py": SCRIPT,
        },
    )
    split = split_scan(root, scan_project(root))
    assert split.entries == ["hello.py", "quote.py"] and split.entry == "hello.py"
    assert "bot()" in split.reason
    assert [r.name for r in split.agent.reads] == ["OPENAI_API_KEY", "DEEPGRAM_API_KEY"]
    assert [o.path for o in split.outside] == ["player.py"]  # no pipecat, no bot(): a script


def test_without_bot_py_a_pipecat_program_run_as_a_script_is_an_entry_point(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "p", {"warm_transfer.py": PROGRAM, "server.py": WEBHOOK})
    split = split_scan(root, scan_project(root))
    assert split.entries == ["warm_transfer.py"]
    assert [r.name for r in split.agent.reads] == ["DAILY_API_KEY"]
    assert [o.path for o in split.outside] == ["server.py"]


def test_a_webhook_server_alone_is_no_agent(tmp_path: Path) -> None:
    root = write(tmp_path / "p", {"server.py": WEBHOOK})
    split = split_scan(root, scan_project(root))
    assert split.entry is None and split.entries == [] and split.reason == NO_ENTRY
    assert split.agent.reads == []
    assert [o.variables for o in split.outside] == [["PIPECAT_CLOUD_API_KEY", "AGENT_NAME"]]


def test_with_no_entry_point_a_dry_run_says_so_and_a_real_run_writes_nothing(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "p", {"server.py": WEBHOOK, "env.example": "AGENT_NAME=my-agent\n"})
    r = init(root, "--dry-run", "--json")
    assert r.code == 0, r.output  # a dry run is not refused: it shows that nothing is written
    doc = json.loads(r.stdout)
    assert doc["fields"] == [] and doc["agent"]["entryPoint"] is None
    assert "no entry point found" in doc["nothingToWrite"]
    assert doc["changes"] == [
        {"path": "env.example", "action": "unchanged", "summary": "init writes nothing"}
    ]
    assert doc["outsideAgent"][0]["variables"] == ["PIPECAT_CLOUD_API_KEY", "AGENT_NAME"]
    r = init(root, "--dry-run")
    assert r.code == 0 and "no entry point found" in r.output and "writes nothing" in r.output
    r = init(root, "--yes")
    assert r.code == 1 and "no entry point found" in r.stderr
    assert sorted(p.name for p in root.iterdir()) == ["env.example", "server.py"]


# Presence checks the code writes in real bots (required-but-tolerated -> 0) ---------------------


def needs(source: str) -> dict[str, tuple[bool, str]]:
    """Variable -> (required, why) of the fields init plans for ``source`` as bot.py."""
    fields, _ = plan_fields(scan_source(source, "bot.py"), [])
    return {f.env_name: (f.required, f.why) for f in fields}


def test_a_presence_check_through_all_of_a_list_tolerates_a_missing_value() -> None:
    # the sms-verification example: if not all([account_sid, auth_token]) or not (...): return
    got = needs(
        "import os\n"
        "def send(to):\n"
        '    sid = os.getenv("TWILIO_ACCOUNT_SID")\n'
        '    token = os.getenv("TWILIO_AUTH_TOKEN")\n'
        "    if not all([sid, token]):\n"
        "        return False\n"
        "    return Client(sid, token).send(to)\n"
    )
    assert got["TWILIO_AUTH_TOKEN"][0] is False and "all(...)" in got["TWILIO_AUTH_TOKEN"][1]
    assert got["TWILIO_ACCOUNT_SID"][0] is False


def test_a_presence_check_through_any_of_a_tuple_tolerates_a_missing_value() -> None:
    got = needs(
        "import os\n"
        'if any((os.getenv("ELEVENLABS_API_KEY"), os.getenv("CARTESIA_API_KEY"))):\n'
        "    tts = True\n"
    )
    assert got == {
        "ELEVENLABS_API_KEY": (False, "checked for presence (any(...)) at bot.py:2"),
        "CARTESIA_API_KEY": (False, "checked for presence (any(...)) at bot.py:2"),
    }


def test_a_read_after_if_not_a_and_b_return_is_tolerated() -> None:
    source = (
        "import os\n"
        "def lookup(call):\n"
        '    if not (os.getenv("TWILIO_ACCOUNT_SID") and os.getenv("TWILIO_AUTH_TOKEN")):\n'
        "        return None\n"
        '    return fetch(call, auth=(os.getenv("TWILIO_ACCOUNT_SID"), '
        'os.getenv("TWILIO_AUTH_TOKEN")))\n'
    )
    assert needs(source)["TWILIO_AUTH_TOKEN"][0] is False
    later = [r for r in scan_source(source, "bot.py").reads if r.line == 5]
    assert [(r.name, r.need, r.why) for r in later] == [
        (n, "optional", "checked for presence at bot.py:3 (returns when unset)")
        for n in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    ]


def test_names_of_a_module_list_checked_in_a_loop_are_tolerated_after_it() -> None:
    got = needs(
        "import os\n"
        'TWILIO_KEYS = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]\n'
        "def client():\n"
        "    for k in TWILIO_KEYS:\n"
        "        if not os.getenv(k):\n"
        "            return None\n"
        '    return Client(os.getenv("TWILIO_ACCOUNT_SID"), os.getenv("TWILIO_AUTH_TOKEN"))\n'
    )
    assert {k: v[0] for k, v in got.items()} == {
        "TWILIO_ACCOUNT_SID": False,
        "TWILIO_AUTH_TOKEN": False,
    }


def test_names_a_comprehension_finds_missing_are_tolerated_after_it() -> None:
    got = needs(
        "import os\n"
        'KEYS = ("SENDGRID_API_KEY",)\n'
        "def mailer():\n"
        "    missing = [k for k in KEYS if not os.environ.get(k)]\n"
        "    if missing:\n"
        "        return None\n"
        '    return Mailer(os.environ.get("SENDGRID_API_KEY"))\n'
    )
    assert got["SENDGRID_API_KEY"][0] is False


def test_a_check_that_raises_does_not_tolerate_a_missing_value() -> None:
    """The code cannot run without it: the later use stays required (load_settings fails
    first, as the code would)."""
    got = needs(
        "import os\n"
        'KEYS = ("SENDGRID_API_KEY",)\n'
        "def mailer():\n"
        "    missing = [k for k in KEYS if not os.environ.get(k)]\n"
        "    if missing:\n"
        "        raise RuntimeError(missing)\n"
        '    return Mailer(os.environ.get("SENDGRID_API_KEY"))\n'
    )
    assert got["SENDGRID_API_KEY"][0] is True


def test_a_check_on_another_path_does_not_cover_the_read() -> None:
    got = needs(
        "import os\n"
        "def llm(local):\n"
        "    if local:\n"
        '        if not os.getenv("OPENAI_API_KEY"):\n'
        "            return None\n"
        "    else:\n"
        '        return OpenAI(os.getenv("OPENAI_API_KEY"))\n'
    )
    assert got["OPENAI_API_KEY"][0] is True


# One placeholder recogniser (rules), for init/export/push and check-files ------------------------

# A real-looking key written after a placeholder word, or before one: the old recogniser of
# init/export/push swallowed the whole token, so push refused it as a placeholder.
BEHIND_A_MARKER = [
    "my-Xk29fJ3kLmQ8pR7sT4vW",
    "Xk29fJ3kLmQ8pR7sT4vWz_here",
    "/path/to/sk-proj-Xk29fJ3kLmQ8pR7sT4vW",
]
PLACEHOLDERS = [
    "your-key-here",
    "your_openai_api_key",
    "paste_your_key_here",
    "<your-key>",
    "sk-...",
    "XXXX",
    "changeme",
    "my-agent-name",
    "/path/to/key/file",
]


def test_check_files_uses_the_recogniser_of_rules() -> None:
    from pcc_env import rules, value_shapes

    assert not hasattr(value_shapes, "_PLACEHOLDER_RE")
    assert not hasattr(value_shapes, "is_placeholder")
    assert value_shapes.has_placeholder is rules.has_placeholder


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_both_callers_take_a_placeholder_for_one(value: str) -> None:
    from pcc_env import rules, value_shapes

    assert rules.is_placeholder(value)
    assert value_shapes.is_hint(value)
    assert value_shapes.value_is_harmless("OPENAI_API_KEY", value)


@pytest.mark.parametrize("value", BEHIND_A_MARKER)
def test_a_real_key_behind_a_placeholder_word_is_a_value_for_both(value: str) -> None:
    from pcc_env import rules, value_shapes

    assert not rules.is_placeholder(value)
    assert not rules.is_template_value("OPENAI_API_KEY", value)
    assert not value_shapes.value_is_harmless("OPENAI_API_KEY", value)


def test_push_sends_a_real_key_written_after_my(tmp_path: Path) -> None:
    """``push`` refuses a secret holding a template's placeholder; a key that merely starts with
    ``my-`` is no placeholder (the .env check push runs before any request)."""
    from pcc_env.dotenv_file import read_env_file, secrets_to_send
    from pcc_env.errors import DotenvError

    env = tmp_path / ".env"
    env.write_text("OPENAI_API_KEY=my-Xk29fJ3kLmQ8pR7sT4vW\n")
    values, _ = secrets_to_send(read_env_file(env))
    assert values == {"OPENAI_API_KEY": "my-Xk29fJ3kLmQ8pR7sT4vW"}
    env.write_text("OPENAI_API_KEY=my-Xk29fJ3kLmQ8pR7sT4vW\nDAILY_API_KEY=your_daily_api_key\n")
    with pytest.raises(DotenvError) as refused:
        secrets_to_send(read_env_file(env))
    assert "'DAILY_API_KEY'" in str(refused.value) and "OPENAI_API_KEY" not in str(refused.value)
