"""Issue 20, items 5-7: values that look like secrets are treated as secrets.

5. ``init`` types credential-bearing variables (any case style, numbered, connection strings,
   webhooks, a default URL with user-info) as ``SecretStr`` and never writes or prints a
   default that is or holds a credential; ``run`` masks every secret-looking name, whatever
   the model types it.
6. ``run`` gives pcc-env's own ``PIPECAT_API_KEY`` to the command only when the model declares
   it, masked.
7. ``run`` masks every leaf secret (``list[SecretStr]``, ``dict[str, SecretStr]``), each line
   of a multi-line value, a value shown with ``\\r\\n`` by a terminal whose output processing
   the command turned back on, and a value split across stdout and stderr when they are one
   stream.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from pcc_env.run import MASK, child_environment, values_to_mask
from pcc_env.runtime import SecretSettings
from tests.cli_helpers import PCC_ENV, cli_env, run_cli
from tests.test_no_leaks import Canaries

PY = sys.executable
MASK_TEXT = MASK.decode()


def child(code: str) -> list[str]:
    return ["--", PY, "-c", textwrap.dedent(code)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "bot"
    root.mkdir()
    return root


# 5. The name rule ------------------------------------------------------------------------------

SECRET_NAMES = [
    "OPENAI_API_KEY",
    "openaiApiKey",  # camelCase
    "OpenAIApiKey",
    "openai-api-key",  # kebab-case
    "x-api-key",
    "OPENAIAPIKEY",  # fused words
    "DB_PASSWORD1",  # numbered
    "dbPassword2",
    "DB_PASSWD",
    "DB_PWD",
    "DAILY_TOKEN",
    "githubAccessToken",
    "ACCESSTOKEN",
    "STRIPE_SECRET",
    "CLIENTSECRET",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "AWS_CREDENTIAL",
    "AUTH_TOKEN",
    "BASIC_AUTH",
    "JWT_PRIVATE_KEY_PEM",
    "WEBHOOK_SIGNING_SECRET",
    "SIGNING_KEY",
    "TLS_CERT",
    "CLIENT_CERTIFICATE",
    "DATABASE_URL",  # connection strings
    "REDIS_URL",
    "REDIS_TLS_URL",
    "SQLALCHEMY_DATABASE_URI",
    "MONGO_URI",
    "MONGODB_URI",
    "databaseUrl",
    "POSTGRES_URL",
    "CELERY_BROKER_URL",
    "SENTRY_DSN",
    "DB_CONNECTION_STRING",
    "AZURE_STORAGE_CONNECTION_STRING",
    "SLACK_WEBHOOK_URL",  # webhooks
    "DISCORD_WEBHOOK",
    "slackWebhookUrl",
    "OTEL_EXPORTER_OTLP_HEADERS",  # "Authorization=Basic ..." (the Langfuse example)
    "TWILIO_AUTH_TOKEN",
    "PINLESS_HMAC_SECRET",
    "VONAGE_PRIVATE_KEY",
]

PLAIN_NAMES = [
    "LOG_LEVEL",
    "PORT",
    "OPENAI_MODEL",
    "DAILY_ROOM_URL",
    "DAILY_API_URL",
    "KEYBOARD_LAYOUT",  # words, not substrings
    "MONKEY_MODE",
    "HOTKEY",
    "TOKENIZER_NAME",
    "MAX_TOKENS",  # a quantity of tokens, not one
    "maxTokens",
    "KEY_SIZE",
    "CARTESIA_VOICE_ID",
    "AUTHOR_NAME",
    "PASSENGER_COUNT",
    "SSL_CERT_FILE",  # where the public CA bundle is
    "NODE_EXTRA_CA_CERTS",
    "PWD",  # the shell's working directory
    "WEBSITE_URL",
    "BOT_NAME",
    # Read by the real Pipecat bots of ../shared/realbots: all shown.
    "TWILIO_ACCOUNT_SID",
    "VONAGE_APPLICATION_ID",
    "VONAGE_SESSION_ID",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "DAILY_SAMPLE_ROOM_URL",
    "LOCAL_SERVER_URL",
    "ELEVENLABS_VOICE_ID",
    "WS_URI",
    "AWS_REGION",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_looking_names(name: str) -> None:
    from pcc_env.rules import looks_secret

    assert looks_secret(name), name


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_ordinary_names_stay_readable(name: str) -> None:
    from pcc_env.rules import looks_secret

    assert not looks_secret(name), name


@pytest.mark.parametrize(
    ("value", "credential"),
    [
        ("postgres://app:hunter2@db:5432/app", True),
        ("redis://:p4ssw0rd@cache:6379/0", True),
        ("amqp://guest:guest@localhost:5672//", True),
        ("https://ghp_abcdefabcdefabcdefabcdef@github.com/org/repo.git", True),  # a token user
        ("wss://api.example.com/v1/stream?api_key=abc123&lang=en", True),
        ("https://example.com/hook?token=abc", True),
        ("sk-proj-abcdefghijklmnop", True),
        ("xoxb-1234-5678-abcdefgh", True),
        ("AKIAABCDEFGHIJKLMNOP", True),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----", True),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefgh", True),
        ("https://api.openai.com/v1", False),
        ("http://localhost:8000/?page=2&lang=en", False),
        ("postgres://localhost/app", False),
        ("INFO", False),
        ("gpt-4o-mini", False),
        ("user@example.com", False),  # an e-mail address is no URL user-info
    ],
)
def test_values_that_hold_a_credential(value: str, credential: bool) -> None:
    from pcc_env.rules import holds_credential

    assert holds_credential(value) is credential


# 5. init -----------------------------------------------------------------------------------------


def test_init_types_credential_bearing_variables_as_secrets_and_writes_no_default(
    project: Path,
) -> None:
    canaries = Canaries()
    pw, redis_pw, hook, db_pw, key, broker = (canaries.new() for _ in range(6))
    (project / "bot.py").write_text(
        textwrap.dedent(
            f"""\
            import os
            db = os.getenv("DATABASE_URL", "postgres://app:{pw}@db:5432/app")
            cache = os.environ.get("REDIS_URL", "redis://:{redis_pw}@cache:6379/0")
            hook = os.getenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/{hook}")
            db_pw = os.getenv("DB_PASSWORD1", "{db_pw}")
            key = os.getenv("openaiApiKey", "sk-{key}")
            broker = os.getenv("BROKER", "amqp://guest:{broker}@localhost//")
            level = os.getenv("LOG_LEVEL", "INFO")
            layout = os.getenv("KEYBOARD_LAYOUT", "qwerty")
            tokens = int(os.getenv("MAX_TOKENS", "1024"))
            """
        )
    )
    env = {"PCC_ENV_LOG_LEVEL": "DEBUG"}
    plan = run_cli("init", "--dry-run", "--json", cwd=project, env=env)
    assert plan.code == 0, plan.output
    canaries.assert_absent(plan.output, "init --json plan")
    fields = {f["variable"].upper(): f for f in json.loads(plan.stdout)["fields"]}
    secret = ["DATABASE_URL", "REDIS_URL", "SLACK_WEBHOOK_URL", "DB_PASSWORD1", "OPENAIAPIKEY"]
    for name in [*secret, "BROKER"]:  # BROKER: its default is a URL with user-info
        assert fields[name]["type"] == "SecretStr", name
        assert fields[name]["required"], name
        assert "credential" in fields[name]["summary"], name
    assert fields["LOG_LEVEL"]["type"] == "str" and "INFO" in fields["LOG_LEVEL"]["summary"]
    assert fields["KEYBOARD_LAYOUT"]["type"] == "str"
    assert fields["MAX_TOKENS"]["type"] == "int" and "1024" in fields["MAX_TOKENS"]["summary"]

    shown = run_cli("init", "--dry-run", cwd=project, env=env)
    assert shown.code == 0, shown.output
    canaries.assert_absent(shown.output, "init plan")

    done = run_cli("init", "--yes", cwd=project, env=env)
    assert done.code == 0, done.output
    canaries.assert_absent(done.output, "init output")
    settings = (project / "settings.py").read_text()
    template = (project / ".env.example").read_text()
    canaries.assert_absent(settings, "settings.py")
    canaries.assert_absent(template, ".env.example")
    assert "database_url: SecretStr = Field(" in settings
    assert "openaiapikey: SecretStr = Field(" in settings
    assert "# Required: the code's default is (or holds) a credential" in settings
    assert 'log_level: str = Field("INFO"' in settings
    assert "postgres://" not in settings and "hooks.slack.com" not in settings


def test_run_masks_a_secret_looking_name_even_when_the_model_types_it_str(project: Path) -> None:
    """The same DSN was concealed before ``init`` and shown once a model named it ``str``."""
    canaries = Canaries()
    password = canaries.new()
    dsn = f"postgres://app:{password}@db:5432/app"
    (project / ".env").write_text(f"DATABASE_URL={dsn}\nopenaiApiKey=sk-{canaries.new()}\n")
    (project / "plain.py").write_text(
        "from pcc_env import SecretSettings\n\n\n"
        "class Settings(SecretSettings):\n"
        "    database_url: str\n"
        "    openaiapikey: str\n"
    )
    code = """
        import os
        from urllib.parse import urlsplit
        print(os.environ["DATABASE_URL"], os.environ["openaiApiKey"])
        print("password:", urlsplit(os.environ["DATABASE_URL"]).password)
    """
    for settings in ([], ["--settings", "plain:Settings"]):
        r = run_cli("run", *settings, *child(code), cwd=project)
        assert r.code == 0, r.output
        canaries.assert_absent(r.output, f"run {settings}")
        assert r.stdout == f"{MASK_TEXT} {MASK_TEXT}\npassword: {MASK_TEXT}\n"


def test_run_masks_secret_looking_names_and_credential_urls_of_its_own_environment(
    project: Path,
) -> None:
    """Not in the .env, not in a model: a token the shell exported, a proxy URL's password."""
    canaries = Canaries()
    token, password = f"ghp_{canaries.new()}", canaries.new()
    (project / ".env").write_text("LOG_LEVEL=DEBUG\n")
    env = {"GITHUB_TOKEN": token, "HTTPS_PROXY": f"http://me:{password}@proxy:3128"}
    code = """
        import os
        from urllib.parse import urlsplit
        print(os.environ["GITHUB_TOKEN"])
        print(os.environ["HTTPS_PROXY"])
        print(urlsplit(os.environ["HTTPS_PROXY"]).password, os.environ["LOG_LEVEL"])
    """
    r = run_cli("run", *child(code), cwd=project, env=env)
    assert r.code == 0, r.output
    canaries.assert_absent(r.output, "run output")
    assert r.stdout == f"{MASK_TEXT}\n{MASK_TEXT}\n{MASK_TEXT} DEBUG\n"


def test_values_to_mask_takes_secret_looking_names_over_the_model() -> None:
    class Plain(SecretSettings):
        database_url: str
        slack_webhook_url: str
        log_level: str

    values = {
        "DATABASE_URL": "postgres://u:pw-123456@h/db",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
        "LOG_LEVEL": "WARNING",
    }
    got = values_to_mask(values, child_environment({}, values), Plain)
    assert set(got) == {
        "postgres://u:pw-123456@h/db",
        "pw-123456",  # the URL's password alone
        "https://hooks.slack.com/services/T/B/x",
    }


# 6. pcc-env's own API key ----------------------------------------------------------------------


PROBE = """
    import os
    key = os.environ.get("PIPECAT_API_KEY")
    print("has key:", key is not None)
    if key is not None:
        print("key:", key)
"""


def test_run_does_not_pass_pcc_envs_own_api_key(project: Path) -> None:
    canaries = Canaries()
    api_key = f"pk_{canaries.new()}"
    (project / ".env").write_text("OPENAI_API_KEY=sk-test-123456\n")
    env = {"PIPECAT_API_KEY": api_key}
    r = run_cli("run", *child(PROBE), cwd=project, env=env)
    assert (r.code, r.stdout) == (0, "has key: False\n"), r.output
    canaries.assert_absent(r.output, "run without a model")
    # A model that does not declare it: still left out.
    (project / "bot.py").write_text(
        "from pydantic import SecretStr\nfrom pcc_env import SecretSettings\n\n\n"
        "class Settings(SecretSettings):\n    openai_api_key: SecretStr\n\n\n"
        "class Declares(SecretSettings):\n    openai_api_key: SecretStr\n"
        "    pipecat_api_key: str\n"
    )
    r = run_cli("run", "--settings", "bot:Settings", *child(PROBE), cwd=project, env=env)
    assert (r.code, r.stdout) == (0, "has key: False\n"), r.output
    # Declared (even as str): the command gets it, and its output never shows it.
    r = run_cli("run", "--settings", "bot:Declares", *child(PROBE), cwd=project, env=env)
    assert r.code == 0, r.output
    assert r.stdout == f"has key: True\nkey: {MASK_TEXT}\n"
    canaries.assert_absent(r.output, "run with a model declaring it")


def test_child_environment_leaves_out_the_api_key_unless_declared() -> None:
    class Declares(SecretSettings):
        pipecat_api_key: SecretStr

    base = {"PIPECAT_API_KEY": "pk-own", "PATH": "/bin"}
    assert child_environment(base, {}) == {"PATH": "/bin"}
    assert child_environment(base, {}, Declares)["PIPECAT_API_KEY"] == "pk-own"
    # One in the .env is a value of the set, as push would send it (and it is masked).
    values = {"PIPECAT_API_KEY": "pk-in-the-set"}
    env = child_environment(base, values)
    assert env["PIPECAT_API_KEY"] == "pk-in-the-set"
    assert "pk-in-the-set" in values_to_mask(values, env)


# 7. Every leaf secret --------------------------------------------------------------------------


class Leaves(SecretSettings):
    api_keys: list[SecretStr]
    voices: dict[str, SecretStr]
    names: list[str] = Field(default_factory=list)


def test_values_to_mask_has_every_item_of_list_and_dict_secret_fields() -> None:
    values = {
        "API_KEYS": json.dumps(["sk-first-1", "sk-second-2"]),
        "VOICES": json.dumps({"en": "voice-secret-en", "fr": "voice-secret-fr"}),
        "NAMES": json.dumps(["alice"]),
    }
    environ = child_environment({}, values)
    from pcc_env.runtime import load_settings

    loaded = load_settings(Leaves, env_file=None, environ=environ)
    for settings in (None, loaded):
        got = set(values_to_mask(values, environ, Leaves, settings))
        assert {"sk-first-1", "sk-second-2", "voice-secret-en", "voice-secret-fr"} <= got
        assert values["API_KEYS"] in got and values["VOICES"] in got
        assert "en" not in got and "alice" not in got


def test_run_masks_items_of_list_and_dict_secret_fields(project: Path) -> None:
    canaries = Canaries()
    keys, voices = [canaries.new(), canaries.new()], {"en": canaries.new()}
    (project / ".env").write_text(f"API_KEYS='{json.dumps(keys)}'\nVOICES='{json.dumps(voices)}'\n")
    (project / "bot.py").write_text(
        "from pydantic import SecretStr\nfrom pcc_env import SecretSettings\n\n\n"
        "class Settings(SecretSettings):\n"
        "    api_keys: list[SecretStr]\n"
        "    voices: dict[str, SecretStr]\n"
    )
    code = """
        import json, os
        for key in json.loads(os.environ["API_KEYS"]):
            print("key", key)
        for lang, voice in json.loads(os.environ["VOICES"]).items():
            print(lang, voice)
    """
    r = run_cli("run", "--settings", "bot:Settings", *child(code), cwd=project)
    assert r.code == 0, r.output
    canaries.assert_absent(r.output, "run output")
    assert r.stdout == f"key {MASK_TEXT}\nkey {MASK_TEXT}\nen {MASK_TEXT}\n"


PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAoIB\n"
    "-----END PRIVATE KEY-----"
)


def test_run_masks_each_line_of_a_multi_line_value(project: Path) -> None:
    (project / ".env").write_text(f'PRIVATE_KEY="{PEM}"\n')
    code = """
        import os
        lines = os.environ["PRIVATE_KEY"].splitlines()
        print("second line:", lines[1])
        print("crlf:", "\\r\\n".join(lines))
        print("whole:", os.environ["PRIVATE_KEY"])
    """
    r = run_cli("run", *child(code), cwd=project)
    assert r.code == 0, r.output
    for secret_line in PEM.splitlines()[1:3]:
        assert secret_line not in r.output
    assert r.stdout.splitlines()[0] == f"second line: {MASK_TEXT}"
    assert r.stdout == f"second line: {MASK_TEXT}\ncrlf: {MASK_TEXT}\nwhole: {MASK_TEXT}\n"


def read_all(fd: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> bytes:
    """Everything written to a pseudo-terminal until its last writer is gone."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: every writer has closed it
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


def run_on_a_terminal(project: Path, code: str, *, stderr_too: bool) -> tuple[int, bytes, bytes]:
    """``pcc-env run`` with its stdout (and stderr, with ``stderr_too``) on a terminal."""
    import pty

    main, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [PCC_ENV, "run", *child(code)],
            cwd=project,
            env=cli_env(),
            stdout=secondary,
            stderr=secondary if stderr_too else subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        os.close(secondary)
        shown = read_all(main, proc)
        err = b"" if stderr_too else proc.communicate(timeout=30)[1]
        proc.wait(timeout=30)
    finally:
        os.close(main)
    return proc.returncode, shown, err


def test_a_multi_line_value_is_masked_when_the_command_turns_onlcr_back_on(
    project: Path,
) -> None:
    """A TUI restoring saved terminal settings (or ``stty onlcr`` on its stdout) makes the
    terminal write every "\\n" as "\\r\\n": the value as written no longer matches."""
    (project / ".env").write_text(f'PRIVATE_KEY="{PEM}"\n')
    code = """
        import os, sys, termios
        attrs = termios.tcgetattr(1)
        attrs[1] |= termios.OPOST | termios.ONLCR
        termios.tcsetattr(1, termios.TCSANOW, attrs)
        value = os.environ["PRIVATE_KEY"]
        sys.stdout.write("whole: " + value + "\\n")
        sys.stdout.write("line: " + value.splitlines()[2] + "\\n")
        sys.stdout.flush()
    """
    code_, shown, err = run_on_a_terminal(project, code, stderr_too=False)
    assert code_ == 0, err
    for secret_line in PEM.splitlines()[1:3]:
        assert secret_line.encode() not in shown
    # "\r\r\n": the command's terminal adds one "\r", the test's terminal another.
    assert re.sub(rb"\r+\n", b"\n", shown) == b"whole: " + MASK + b"\nline: " + MASK + b"\n"


SPLIT = """
    import os, sys, time
    value = os.environ["OPENAI_API_KEY"]
    sys.stdout.write("before " + value[:7])
    sys.stdout.flush()
    time.sleep(0.2)
    sys.stderr.write(value[7:] + " after\\n")
    sys.stderr.flush()
"""


def test_a_value_split_across_stdout_and_stderr_is_masked_when_they_are_merged(
    project: Path,
) -> None:
    canaries = Canaries()
    (project / ".env").write_text(f"OPENAI_API_KEY=sk-{canaries.new()}\n")
    # `pcc-env run ... 2>&1 | tee log`: one pipe for both.
    proc = subprocess.run(
        [PCC_ENV, "run", *child(SPLIT)],
        cwd=project,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert proc.returncode == 0
    canaries.assert_absent(proc.stdout.decode(), "merged output")
    assert proc.stdout == b"before " + MASK + b" after\n"
    # A terminal showing both.
    code, shown, _ = run_on_a_terminal(project, SPLIT, stderr_too=True)
    assert code == 0
    canaries.assert_absent(shown.decode(), "terminal")
    assert shown.replace(b"\r\n", b"\n") == b"before " + MASK + b" after\n"


def test_separate_destinations_still_get_their_own_streams(project: Path) -> None:
    """Not merged: stdout and stderr stay apart, each masked (each part shows alone)."""
    (project / ".env").write_text("OPENAI_API_KEY=sk-test-123456\n")
    code = """
        import os, sys
        print("out", os.environ["OPENAI_API_KEY"])
        print("err", os.environ["OPENAI_API_KEY"], file=sys.stderr)
    """
    r = run_cli("run", *child(code), cwd=project)
    assert (r.code, r.stdout, r.stderr) == (0, f"out {MASK_TEXT}\n", f"err {MASK_TEXT}\n")
