"""Issue 21, items 1 and 5, on fixtures shaped like the real Pipecat bots (one per pattern).

Item 1: a read is a required field only when the code uses the value with no default, no
presence check and no fallback (the Krisp scaffold's ``os.environ.get("ENV") != "local"`` made
every scaffolded bot crash with MissingSecretsError: ENV); a mode or provider switch is shown as
such; what the scan cannot decide is said so, never guessed required.

Item 5: the model is the agent's (``bot.py`` or the file the Dockerfile copies in as ``bot.py``,
and the project modules it imports); a telephony ``server.py`` or a script beside it is reported
apart, with its variables, and left out of the model (and of ``check --code``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pcc_env.emulator.server import EmulatorServer
from pcc_env.project_init import FieldPlan, plan_fields, settings_source
from pcc_env.scan import scan_source
from tests.cli_helpers import Result, cli_env, run_cli

CANARY = "sk-CANARY-required-7f3a9c"


def fields_of(source: str) -> dict[str, FieldPlan]:
    fields, _ = plan_fields(scan_source(source, "bot.py"), [])
    return {f.env_name: f for f in fields}


def init(root: Path, *args: str) -> Result:
    return run_cli("init", *args, cwd=root, env={"PCC_ENV_DATA_DIR": str(root / ".state")})


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# Item 1: required only when the code needs it -------------------------------------------------


def test_presence_checks_comparisons_fallbacks_and_keywords_are_optional() -> None:
    f = fields_of(
        "import os\n"
        "if os.environ.get('ENV') != 'local':\n"  # the Krisp scaffold
        "    krisp = True\n"
        "if not os.getenv('SENTRY_DSN'):\n"
        "    pass\n"
        "if os.getenv('VERBOSE'):\n"
        "    pass\n"
        "TRACING = bool(os.getenv('ENABLE_TRACING'))\n"
        "missing = os.getenv('WEBHOOK_URL') is None\n"
        "debug = os.getenv('DEBUG') == 'true'\n"
        "'FEATURE_X' in os.environ\n"
        "url = args.url or os.getenv('DAILY_ROOM_URL')\n"
        "voice = os.getenv('VOICE_ID') if args.voice else 'default'\n"
        "llm = GoogleLLMService.Settings(model=os.getenv('GOOGLE_MODEL'))\n"
        "def call_info():\n"
        "    sid = os.getenv('TWILIO_ACCOUNT_SID')\n"
        "    token = os.getenv('TWILIO_AUTH_TOKEN')\n"
        "    if not sid or not token:\n"
        "        raise ValueError('Twilio credentials missing')\n"
        "    return Client(sid, token)\n"
    )
    tolerated = [
        "ENV", "SENTRY_DSN", "VERBOSE", "ENABLE_TRACING", "WEBHOOK_URL", "DEBUG", "FEATURE_X",
        "DAILY_ROOM_URL", "VOICE_ID", "GOOGLE_MODEL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
    ]  # fmt: skip
    assert sorted(f) == sorted(tolerated)
    for name in tolerated:
        assert not f[name].required, name
        assert f[name].annotation.endswith("| None"), name  # default None: the code's own
    assert "compared with 'local'" in f["ENV"].summary
    assert "checked for presence" in f["TWILIO_ACCOUNT_SID"].summary
    assert "fallback" in f["DAILY_ROOM_URL"].summary
    assert "passed on as model=" in f["GOOGLE_MODEL"].summary


def test_a_value_the_code_uses_as_it_is_stays_required() -> None:
    f = fields_of(
        "import os\n"
        "key = os.environ['OPENAI_API_KEY']\n"
        "workers = int(os.getenv('WORKERS'))\n"
        "region = os.getenv('AWS_REGION').lower()\n"
        "base = os.getenv('API_BASE') + '/v1'\n"
        "stt = DeepgramSTTService(api_key=os.getenv('DEEPGRAM_API_KEY'))\n"
    )
    for name in ("OPENAI_API_KEY", "WORKERS", "AWS_REGION", "API_BASE", "DEEPGRAM_API_KEY"):
        assert f[name].required, name
        assert f[name].summary == "required"


def test_mode_and_provider_keys_are_shown_as_such_and_optional() -> None:
    f = fields_of(
        "import os\n"
        "tts_name = os.getenv('TTS', 'cartesia')\n"
        "if tts_name == 'cartesia':\n"
        "    tts = CartesiaTTSService(api_key=os.getenv('CARTESIA_API_KEY'))\n"
        "else:\n"
        "    tts = ElevenLabsTTSService(api_key=os.environ['ELEVENLABS_API_KEY'])\n"
        "if os.getenv('LLM') == 'anthropic':\n"
        "    llm = AnthropicLLMService(api_key=os.getenv('ANTHROPIC_API_KEY'))\n"
    )
    assert (f["TTS"].required, f["TTS"].default) == (False, "cartesia")
    for name in ("CARTESIA_API_KEY", "ELEVENLABS_API_KEY", "ANTHROPIC_API_KEY"):
        assert not f[name].required and f[name].need == "conditional", name
    assert f["CARTESIA_API_KEY"].summary == "optional (used when TTS == 'cartesia' at bot.py:4)"
    assert "used unless TTS == 'cartesia'" in f["ELEVENLABS_API_KEY"].summary
    assert "used when LLM == 'anthropic'" in f["ANTHROPIC_API_KEY"].summary
    source = settings_source(list(f.values()))
    assert "    # Optional: used when TTS == 'cartesia' at bot.py:4.\n" in source


def test_what_the_scan_cannot_decide_is_said_so_not_guessed_required() -> None:
    f = fields_of("import os\nlogger.info(os.getenv('BANNER'))\n")
    assert not f["BANNER"].required and f["BANNER"].need == "unknown"
    assert f["BANNER"].summary.startswith("optional (undecided: passed to logger.info()")
    source = settings_source(list(f.values()))
    assert "# Undecided: 'pcc-env init' cannot tell whether the code needs it" in source
    compile(source, "settings.py", "exec")  # the comment is a comment: the module still runs


KRISP_BOT = """\
import os

from pipecat.services.openai.llm import OpenAILLMService


async def bot(runner_args):
    if os.environ.get("ENV") != "local":
        from pipecat.audio.filters.krisp_viva_filter import KrispVivaFilter
    llm = OpenAILLMService(api_key=os.getenv("OPENAI_API_KEY"))
    banner = str(os.getenv("BANNER"))
"""


def test_a_krisp_scaffold_loads_its_settings_without_env_after_init(tmp_path: Path) -> None:
    """The crash of the issue: after init, load_settings no longer needs ENV (nor any value the
    code tolerates missing); the plan says so in text and --json; no value leaks."""
    bot = write(tmp_path / "bot", {"bot.py": KRISP_BOT, ".env": f"OPENAI_API_KEY={CANARY}\n"})
    r = init(bot, "--dry-run", "--json")
    assert r.code == 0, r.output
    data = json.loads(r.stdout)
    by_name = {f["variable"]: f for f in data["fields"]}
    assert by_name["ENV"]["required"] is False and by_name["ENV"]["need"] == "optional"
    assert "compared with 'local'" in by_name["ENV"]["why"]
    assert by_name["OPENAI_API_KEY"]["required"] is True
    assert [u["variable"] for u in data["undecided"]] == ["BANNER"]
    assert "str()" in data["undecided"][0]["why"]
    text = init(bot, "--dry-run")
    assert "ENV\tstr | None" not in text.stdout  # type column shows str, required/default optional
    assert "ENV\tstr\toptional (compared with 'local' at bot.py:7)\tbot.py:7" in text.stdout
    assert "Undecided (optional for now" in text.stderr and "'BANNER'" in text.stderr
    r = init(bot, "--yes")
    assert r.code == 0, r.output
    for out in (r.output, text.output):
        assert CANARY not in out
    assert CANARY not in (bot / "settings.py").read_text()
    assert CANARY not in (bot / ".env.example").read_text()
    load = (
        "import os\n"
        "os.environ.pop('ENV', None)\n"
        "from pcc_env import load_settings\n"
        "from settings import Settings\n"
        "s = load_settings(Settings)\n"
        "assert s.env is None and s.banner is None\n"
        "print('loaded')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", load], cwd=bot, env=cli_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "loaded\n" and CANARY not in done.stdout + done.stderr


# Item 5: the agent is bot.py --------------------------------------------------------------------

TELEPHONY = {
    "bot.py": (
        "import os\n"
        "from helpers import CallRequest, make_llm\n"
        "import tools\n"
        "async def bot(args):\n"
        "    llm = make_llm()\n"
        "    stt = DeepgramSTTService(api_key=os.getenv('DEEPGRAM_API_KEY'))\n"
    ),
    "helpers.py": (
        "import os\n"
        "from pydantic import BaseModel\n"
        "class CallRequest(BaseModel):\n"
        "    to: str\n"
        "def _model():\n"
        "    return os.getenv('LLM_MODEL', 'gpt-4.1')\n"
        "def make_llm():\n"
        "    return OpenAILLMService(api_key=os.getenv('OPENAI_API_KEY'), model=_model())\n"
        "async def start_bot_production(request):\n"  # used by server.py only
        "    key = os.getenv('PIPECAT_API_KEY')\n"
        "    agent = os.getenv('PIPECAT_AGENT_NAME')\n"
        "    if not key or not agent:\n"
        "        raise RuntimeError('missing')\n"
    ),
    "tools/__init__.py": "import os\nWEATHER_KEY = os.environ['WEATHER_API_KEY']\n",
    "server.py": (
        "import os\n"
        "from helpers import start_bot_production\n"
        "PORT = int(os.getenv('SERVER_PORT', '7860'))\n"
        "TWILIO = os.environ['TWILIO_AUTH_TOKEN']\n"
    ),
    "scripts/make_room.py": "import os\nprint(os.environ['DAILY_ADMIN_TOKEN'])\n",
}


def test_server_py_and_scripts_are_reported_apart_not_modelled(tmp_path: Path) -> None:
    bot = write(tmp_path / "bot", TELEPHONY)
    r = init(bot, "--dry-run", "--json")
    assert r.code == 0, r.output
    data = json.loads(r.stdout)
    assert data["agent"]["entryPoint"] == "bot.py"
    assert data["agent"]["files"] == ["bot.py", "helpers.py", "tools/__init__.py"]
    assert [f["variable"] for f in data["fields"]] == [
        "DEEPGRAM_API_KEY", "LLM_MODEL", "OPENAI_API_KEY", "WEATHER_API_KEY",
    ]  # fmt: skip
    outside = {o["path"]: o for o in data["outsideAgent"]}
    assert outside["server.py"]["variables"] == ["SERVER_PORT", "TWILIO_AUTH_TOKEN"]
    assert outside["server.py"]["partly"] is False
    assert outside["scripts/make_room.py"]["variables"] == ["DAILY_ADMIN_TOKEN"]
    # helpers.py is the agent's, but start_bot_production is server.py's: reported apart.
    assert outside["helpers.py"]["variables"] == ["PIPECAT_API_KEY", "PIPECAT_AGENT_NAME"]
    assert outside["helpers.py"]["partly"] is True
    assert outside["helpers.py"]["readIn"] == ["helpers.py:10", "helpers.py:11"]

    text = init(bot, "--dry-run")
    assert text.code == 0, text.output
    assert "Agent: bot.py (the file Pipecat Cloud runs), with the 2 project module(s)" in (
        text.stderr
    )
    assert (
        "Outside the agent (not imported; not modelled): server.py reads 'SERVER_PORT', "
        "'TWILIO_AUTH_TOKEN'" in text.stderr
    )
    assert "helpers.py reads 'PIPECAT_API_KEY', 'PIPECAT_AGENT_NAME'" in text.stderr
    table = text.stdout.split("Plan:")[0]
    for name in ("PIPECAT_API_KEY", "TWILIO_AUTH_TOKEN", "SERVER_PORT", "DAILY_ADMIN_TOKEN"):
        assert name not in table, name


def test_the_dockerfile_names_the_entry_point(tmp_path: Path) -> None:
    bot = write(
        tmp_path / "bot",
        {
            "bot-openai.py": "import os\nOpenAILLMService(api_key=os.getenv('OPENAI_API_KEY'))\n",
            "bot-gemini.py": "import os\nGeminiLive(api_key=os.getenv('GOOGLE_API_KEY'))\n",
            "Dockerfile": "FROM dailyco/pipecat-base:latest\nCOPY ./bot-openai.py bot.py\n",
        },
    )
    data = json.loads(init(bot, "--dry-run", "--json").stdout)
    assert data["agent"]["entryPoint"] == "bot-openai.py"
    assert data["agent"]["why"] == "Dockerfile:2 copies it into the image as bot.py"
    assert [f["variable"] for f in data["fields"]] == ["OPENAI_API_KEY"]
    assert [(o["path"], o["variables"]) for o in data["outsideAgent"]] == [
        ("bot-gemini.py", ["GOOGLE_API_KEY"])
    ]


def test_with_no_entry_point_no_file_is_the_agent(tmp_path: Path) -> None:
    """No bot.py, no bot(), no Pipecat program: no code is the agent's (changed by the
    precision work, tests/test_real_precision.py); the reads are listed apart."""
    bot = write(
        tmp_path / "bot",
        {"a.py": "import os\nos.environ['A_KEY']\n", "b.py": "import os\nos.environ['B_KEY']\n"},
    )
    data = json.loads(init(bot, "--dry-run", "--json").stdout)
    assert data["agent"]["entryPoint"] is None and "no entry point found" in data["agent"]["why"]
    assert data["fields"] == []
    assert [o["variables"] for o in data["outsideAgent"]] == [["A_KEY"], ["B_KEY"]]


def test_check_code_and_drift_follow_the_agent(tmp_path: Path, emulator: EmulatorServer) -> None:
    """After init, neither 'init --check' nor 'check --code' asks for server.py's variables."""
    bot = write(tmp_path / "bot", TELEPHONY)
    (bot / ".env").write_text(
        f"DEEPGRAM_API_KEY={CANARY}-dg\nOPENAI_API_KEY={CANARY}-oa\nWEATHER_API_KEY={CANARY}-w\n"
    )
    (bot / "pcc-deploy.toml").write_text('agent_name = "bot"\nsecret_set = "bot-secrets"\n')
    assert init(bot, "--yes").code == 0
    r = init(bot, "--check")
    assert r.code == 0, r.output
    env = {
        "PIPECAT_API_HOST": emulator.api_host,
        "PIPECAT_API_KEY": emulator.token,
        "PCC_ENV_DATA_DIR": str(bot / ".state"),
    }
    pushed = run_cli("push", cwd=bot, env=env)
    assert pushed.code == 0, pushed.output
    r = run_cli("check", "--code", cwd=bot, env=env)
    assert r.code == 0, r.output
    assert "TWILIO_AUTH_TOKEN" not in r.output and "PIPECAT_AGENT_NAME" not in r.output
    for out in (r.output, pushed.output):
        assert CANARY not in out
