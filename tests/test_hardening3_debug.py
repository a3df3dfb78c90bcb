"""Issue 20, item 13: upstream switches that log values, all turned on at once.

Every switch the audit of the installed dependencies found (see the README's Security section):
``PYDANTIC_SETTINGS_DEBUG`` (pydantic-settings logs every source's values), ``SSLKEYLOGFILE``
(the TLS keys that decrypt the key and values), ``WATCHFILES_DEBUG``, a partial
``PYDANTIC_DISABLE_PLUGINS`` with a pydantic plugin that prints every input it validates,
FastAPI's telemetry auto-configuration, asyncio debug mode, and every logger at DEBUG (a
``sitecustomize`` that configures logging before anything runs and pins every logger's level
to DEBUG, whatever the code asks). No canary, no bearer token, may appear.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pcc_env.emulator.server import EmulatorServer
from tests.cli_helpers import PCC_ENV, ROOT, Result, cli_env, run_cli

CANARY = "sk-CANARY-debug-9f3b7c1e5a"
DOTENV_CANARY = "sk-CANARY-dotenv-4d2a8e6b0c"

SITECUSTOMIZE = """\
import logging
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
_set_level = logging.Logger.setLevel
# Every logger at DEBUG, whatever the code asks for (uvicorn's log_level, pcc-env's own).
logging.Logger.setLevel = lambda self, level: _set_level(self, logging.DEBUG)
logging.getLogger().setLevel(logging.DEBUG)
"""

# A pydantic plugin that prints every input validated through a model (as logfire can record).
LEAKY_PLUGIN = """\
import sys

class _Handler:
    def on_enter(self, *args, **kwargs):
        print("LEAKY-PLUGIN", repr(args), file=sys.stderr)

class _Plugin:
    def new_schema_validator(self, *args, **kwargs):
        return _Handler(), _Handler(), _Handler()

plugin = _Plugin()
"""


@pytest.fixture
def switches(tmp_path: Path) -> dict[str, str]:
    """Every switch on: the environment for a child process (sitecustomize on PYTHONPATH)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (site / "leaky_plugin.py").write_text(LEAKY_PLUGIN)
    dist = site / "leaky_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: leaky-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nleaky = leaky_plugin:plugin\n")
    return {
        "PYTHONPATH": f"{site}{os.pathsep}{ROOT}",
        "PYDANTIC_SETTINGS_DEBUG": "1",
        "PYDANTIC_DISABLE_PLUGINS": "some-other-plugin",
        "SSLKEYLOGFILE": str(tmp_path / "tls-keys.log"),
        "WATCHFILES_DEBUG": "1",
        "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
        "PYTHONASYNCIODEBUG": "1",
        "PCC_ENV_LOG_LEVEL": "DEBUG",
    }


def assert_clean(text: str, *secrets: str) -> None:
    for secret in (CANARY, DOTENV_CANARY, *secrets):
        assert secret not in text, f"{secret[:12]}... in the output:\n{text[-3000:]}"
    assert not re.search(r"(?i)bearer\s+\S", text), text[-3000:]
    assert "LEAKY-PLUGIN" not in text, text[-3000:]


# The runtime ------------------------------------------------------------------------------------

BOT = f"""\
import sys
from pydantic import SecretStr
from pydantic_settings import BaseSettings
from pcc_env import SecretSettings, load_settings
from pcc_env.testing import settings_from_env

class Settings(SecretSettings):
    openai_api_key: SecretStr
    daily_api_key: SecretStr
    log_level: str = "INFO"

load_settings(Settings)
settings_from_env(Settings, {{"OPENAI_API_KEY": "{CANARY}", "DAILY_API_KEY": "x" * 20}})
Settings()  # SecretSettings built directly: pydantic-settings' log names fields only

class Plain(BaseSettings):  # the bot's own use of pydantic-settings is left as it is
    public_flag: str = "unchanged"

Plain()
heavy = ("httpx", "keyring", "watchfiles", "typer", "rich", "stamina", "fastapi", "uvicorn")
print("HEAVY", [m for m in heavy if m in sys.modules])
print("OK")
"""


def test_load_settings_with_every_switch_on_logs_no_value(
    tmp_path: Path, switches: dict[str, str]
) -> None:
    bot = tmp_path / "bot"
    bot.mkdir()
    (bot / "bot.py").write_text(BOT)
    (bot / ".env").write_text(f"DAILY_API_KEY={DOTENV_CANARY}\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))},
        **switches,
        "OPENAI_API_KEY": CANARY,
        "PUBLIC_FLAG": "plain-value-shown",
        # The bot's own process: its plugins are its choice (not pcc-env's to switch off).
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
    r = subprocess.run(
        [sys.executable, "bot.py"], cwd=bot, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines()[-2:] == ["HEAVY []", "OK"], r.stdout
    assert "DEBUG" in r.stderr  # logging really was on
    assert_clean(r.stdout + r.stderr)
    assert "Resolving settings for 'Settings' (names only" in r.stderr
    assert "'openai_api_key'" in r.stderr  # the names are there to debug with
    # Outside load_settings, a plain BaseSettings logs as pydantic-settings always did.
    assert "plain-value-shown" in r.stderr


def test_the_filter_holds_only_inside_load_settings_and_its_thread() -> None:
    """A thread that builds its own settings while another is inside load_settings keeps its
    pydantic-settings records: the filter reads a context variable, not a global flag."""
    import logging

    from pcc_env import runtime

    record = logging.LogRecord("pydantic_settings", logging.DEBUG, __file__, 1, "m", None, None)
    runtime._quiet_settings_loggers()
    runtime._quiet_settings_loggers()  # idempotent
    logger = logging.getLogger("pydantic_settings")
    assert sum(type(f).__name__ == "_QuietWhileLoading" for f in logger.filters) == 1
    assert logger.filter(record)
    seen: list[bool] = []
    token = runtime._LOADING.set(True)
    try:
        assert not logger.filter(record)
        worker = threading.Thread(target=lambda: seen.append(bool(logger.filter(record))))
        worker.start()
        worker.join()
    finally:
        runtime._LOADING.reset(token)
    assert seen == [True]
    assert logger.filter(record)


# The commands -----------------------------------------------------------------------------------

SETTINGS = """\
from pydantic import SecretStr
from pcc_env import SecretSettings

class Settings(SecretSettings):
    openai_api_key: SecretStr
    daily_api_key: SecretStr
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "settings.py").write_text(SETTINGS)
    (root / "pyproject.toml").write_text('[tool.pcc-env]\nsettings = "settings:Settings"\n')
    (root / "pcc-deploy.toml").write_text(
        'agent_name = "debug-bot"\nsecret_set = "debug-set"\nregion = "us-west"\n'
    )
    (root / ".env").write_text(f"OPENAI_API_KEY={CANARY}\nDAILY_API_KEY={DOTENV_CANARY}\n")
    return root


def test_commands_with_every_switch_on_print_no_value(
    pcc_emulator: EmulatorServer, project: Path, switches: dict[str, str]
) -> None:
    env = {
        **switches,
        "PIPECAT_API_HOST": pcc_emulator.api_host,
        "PIPECAT_API_KEY": pcc_emulator.token,
        "PCC_ENV_DATA_DIR": str(project / ".state"),
    }
    results: list[Result] = []

    def cli(*args: str) -> Result:
        r = run_cli(*args, env=env, cwd=project)
        results.append(r)
        return r

    assert cli("push").code == 0, results[-1].output[-3000:]
    assert pcc_emulator.check_value("debug-set", "OPENAI_API_KEY", CANARY)
    assert cli("push", "--json").code == 0
    assert cli("status").code in (0, 1)
    assert cli("check", "--env-file", ".env").code == 0, results[-1].output[-3000:]
    assert cli("export", "--output", ".env.example").code == 0
    assert cli("targets").code in (0, 1, 2)
    printer = "import os; print(len(os.environ['OPENAI_API_KEY']))"
    r = cli("run", "--", sys.executable, "-c", printer)
    assert r.code == 0 and r.stdout.strip() == str(len(CANARY)), r.output[-3000:]
    # Failing paths: a wrong key (401), a server that is not there.
    assert cli("secrets", "list").code == 0
    env["PIPECAT_API_KEY"] = "pcc-wrong-key-" + "w" * 20
    assert cli("push").code == 1
    for r in results:
        assert_clean(r.stdout + r.stderr, pcc_emulator.token, "pcc-wrong-key-")
    assert any("DEBUG pydantic_settings" in r.stderr for r in results)  # logging was on
    assert any("DEBUG httpcore" in r.stderr for r in results)


def test_a_bot_module_that_builds_settings_itself_logs_no_value_in_pcc_env(
    pcc_emulator: EmulatorServer, project: Path
) -> None:
    """``check`` and ``export`` import the bot's module: one that turns logging on and builds
    a plain ``BaseSettings`` at import time would log its values in pcc-env's process."""
    (project / "settings.py").write_text(
        SETTINGS
        + "import logging\n"
        + "logging.basicConfig(level=logging.DEBUG)\n"
        + "from pydantic_settings import BaseSettings\n"
        + "class Plain(BaseSettings):\n    plain_secret: str = ''\n"
        + "Plain()\n"
    )
    env = {
        "PYDANTIC_SETTINGS_DEBUG": "1",
        "PLAIN_SECRET": CANARY,
        "PIPECAT_API_HOST": pcc_emulator.api_host,
        "PIPECAT_API_KEY": pcc_emulator.token,
        "PCC_ENV_DATA_DIR": str(project / ".state"),
    }
    for args in (("check", "--env-file", ".env"), ("export", "--output", ".env.example")):
        r = run_cli(*args, env=env, cwd=project)
        assert r.code in (0, 1), r.output[-3000:]  # check: the set is not pushed yet
        assert "DEBUG" in r.stderr  # the module's own logging was on
        assert_clean(r.output, pcc_emulator.token)


def test_watch_start_up_with_every_switch_on_prints_no_value(
    pcc_emulator: EmulatorServer, project: Path, switches: dict[str, str]
) -> None:
    env = cli_env(
        {
            **switches,
            "PIPECAT_API_HOST": pcc_emulator.api_host,
            "PIPECAT_API_KEY": pcc_emulator.token,
            "PCC_ENV_DATA_DIR": str(project / ".state"),
        }
    )
    proc = subprocess.Popen(
        [PCC_ENV, "watch"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not pcc_emulator.check_value("debug-set", "OPENAI_API_KEY", CANARY):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(1.0)  # the watcher runs (and logs, with WATCHFILES_DEBUG) after the sync
        (project / "touched.txt").write_text("an event for the watcher\n")
        (project / ".env").write_text(
            f"OPENAI_API_KEY={CANARY}\nDAILY_API_KEY={DOTENV_CANARY}\n# saved again\n"
        )
        time.sleep(2.5)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err[-3000:]
    assert "DEBUG" in err
    assert_clean(out + err, pcc_emulator.token)
    # WATCHFILES_DEBUG prints every raw event, its path unescaped, and the watcher itself.
    assert "raw-event=" not in err and "watcher: " not in err, err[-3000:]


def test_emulator_command_with_every_switch_on_prints_no_value(
    project: Path, switches: dict[str, str]
) -> None:
    token = "pcc-emu-token-" + "t" * 24
    env = cli_env({**switches, "PCC_ENV_EMULATOR_TOKEN": token})
    proc = subprocess.Popen(
        [PCC_ENV, "emulator", "--port", "0", "--db", ":memory:", "--provision-delay", "0"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    banner: list[str] = []
    try:
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        host = re.search(r"listening on (http://127\.0\.0\.1:\d+)", "".join(banner))
        assert host, "".join(banner)
        client = {
            **switches,
            "PIPECAT_API_HOST": host.group(1),
            "PIPECAT_API_KEY": token,
            "PCC_ENV_DATA_DIR": str(project / ".state"),
        }
        pushed = run_cli("push", env=client, cwd=project)
        assert pushed.code == 0, pushed.output[-3000:]
        assert_clean(pushed.output, token)
        bad = run_cli("push", env={**client, "PIPECAT_API_KEY": "x" * 30}, cwd=project)
        assert bad.code == 1
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-3000:]
    # The banner prints the token on purpose (lines to export); nothing after it may.
    assert_clean(out + err, token, "x" * 30)


# The emulator's FastAPI telemetry -----------------------------------------------------------------

TELEMETRY_CHILD = """\
import json, sys
import httpx
from opentelemetry import _logs, trace

CANARY = sys.argv[1]
seen = []

class Tracer(trace.NoOpTracer):
    def start_span(self, name, *args, **kwargs):
        seen.append(f"span {name} {kwargs.get('attributes')!r}")
        return super().start_span(name, *args, **kwargs)

    def start_as_current_span(self, name, *args, **kwargs):
        seen.append(f"span {name} {kwargs.get('attributes')!r}")
        return super().start_as_current_span(name, *args, **kwargs)

class TracerProvider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return Tracer()

class Logger(_logs.NoOpLogger):
    def emit(self, *args, **kwargs):
        seen.append(f"log {args!r} {kwargs!r}")

class LoggerProvider(_logs.LoggerProvider):
    def get_logger(self, *args, **kwargs):
        return Logger("recorder")

# What a bot's test session with OpenTelemetry (or logfire) configured has.
trace.set_tracer_provider(TracerProvider())
_logs.set_logger_provider(LoggerProvider())

from pcc_env.testing import run_emulator

with run_emulator(provision_delay=0) as emu:
    auth = {"Authorization": f"Bearer {emu.token}"}
    body = {"secrets": [{"secretKey": "K", "secretValue": CANARY}]}
    httpx.put(f"{emu.api_host}/v1/secrets/tel-set", json=body, headers=auth)
    httpx.get(f"{emu.api_host}/v1/secrets/tel-set?region={CANARY}", headers=auth)
    broken = b'{"secrets": [{"secretKey": "K", "secretValue": "' + CANARY.encode()
    httpx.put(f"{emu.api_host}/v1/secrets/tel-set", content=broken, headers=auth)
print("SEEN " + json.dumps(seen))
"""


def test_the_emulator_records_nothing_for_a_telemetry_provider(tmp_path: Path) -> None:
    """FastAPI's native telemetry records every request for the process's OpenTelemetry
    providers (the query string, where a pasted value can land, included), and hands request
    bodies and validation errors to log processors. The emulator turns it off."""
    pytest.importorskip("fastapi.telemetry")
    script = tmp_path / "telemetry_child.py"
    script.write_text(TELEMETRY_CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FASTAPI_OTEL_AUTO_CONFIGURE": "true"}
    r = subprocess.run(
        [sys.executable, str(script), CANARY],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (line,) = [ln for ln in r.stdout.splitlines() if ln.startswith("SEEN ")]
    assert json.loads(line[5:]) == []
    assert_clean(r.stdout + r.stderr)


# TLS keys ---------------------------------------------------------------------------------------


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A loopback HTTPS server answering ``GET /v1/secrets``: its URL, its certificate (to
    trust through ``SSL_CERT_FILE``) and the Authorization headers it received."""
    import datetime
    import ipaddress
    import ssl

    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps({"sets": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert_file, seen
    finally:
        server.shutdown()
        server.server_close()


def test_sslkeylogfile_gets_no_tls_key(
    tls_api: tuple[str, Path, list[str]], tmp_path: Path, switches: dict[str, str]
) -> None:
    """With ``SSLKEYLOGFILE`` set, Python's default TLS context appends every session's keys
    to it: with them, a capture of the traffic shows the API key and every value."""
    url, cert, seen = tls_api
    keys = Path(switches["SSLKEYLOGFILE"])
    key = "pcc-tls-key-" + "k" * 24
    r = run_cli(
        "secrets",
        "list",
        env={
            **switches,
            "PIPECAT_API_HOST": url,
            "PIPECAT_API_KEY": key,
            "SSL_CERT_FILE": str(cert),
            "PCC_ENV_DATA_DIR": str(tmp_path / ".state"),
        },
        cwd=tmp_path,
    )
    assert r.code == 0, r.output[-3000:]
    assert seen == [f"Bearer {key}"]  # the request went through, over TLS
    assert_clean(r.output, key)
    logged = keys.read_text() if keys.exists() else ""
    assert [ln for ln in logged.splitlines() if ln and not ln.startswith("#")] == []


def test_run_gives_the_child_the_users_plugin_setting(tmp_path: Path) -> None:
    """pcc-env switches every pydantic plugin off for itself, whatever the user's value; the
    command that ``run`` starts gets the user's value back."""
    (tmp_path / ".env").write_text("SOME_KEY=some-value-1\n")
    code = "import os; print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'))"
    r = run_cli(
        "run", "--", sys.executable, "-c", code, cwd=tmp_path,
        env={"PYDANTIC_DISABLE_PLUGINS": "some-other-plugin"},
    )  # fmt: skip
    assert (r.code, r.stdout) == (0, "some-other-plugin\n"), r.output
