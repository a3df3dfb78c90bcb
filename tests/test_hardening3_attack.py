"""Issue 20, third pass, attacked: the README's Security promises tried as a hostile user would,
after items 1-7, 9-11 and 13 were fixed. Each test is one attack that broke a promise, fixed
since (or one that held, kept as a guard).

Every key below is a canary: it must appear in no output, not even after its first 4 characters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcc_env.credentials import api_host_origin, resolve_api_host
from pcc_env.emulator.server import EmulatorServer
from pcc_env.errors import ConfigError
from pcc_env.testing import run_emulator
from tests.cli_helpers import ROOT, Result, run_cli

# Deepgram's shape: also a valid set name and region code.
HEX_KEY = "a3f9c2e71b4d8f06a3f9c2e71b4d8f06a3f9c2e7"
OPENAI_KEY = "sk-proj-CANARYq8Zr4kT2vX9mN3bP7wL1"


def absent(r: Result, *values: str) -> None:
    for value in values:
        assert value not in r.output, r.output
        assert value[4:] not in r.output, r.output
    assert "Traceback" not in r.output, r.output


@pytest.fixture(scope="module")
def live() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0, deploy_delay=0) as server:
        yield server


def cli(live: EmulatorServer, cwd: Path, *args: str, **env: str) -> Result:
    base = {**live.env(), "PCC_ENV_DATA_DIR": str(cwd / ".state"), **env}
    return run_cli(*args, env=base, cwd=cwd, timeout=30)


# The API host -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        f"https://{OPENAI_KEY}",  # the key pasted after the scheme
        f"HTTPS://{HEX_KEY}",
        f"https://{HEX_KEY}:8443",
        f"https://{OPENAI_KEY}.example.com",
    ],
)
def test_a_key_pasted_as_the_api_hostname_is_not_shown_by_version(host: str) -> None:
    r = run_cli("--version", env={"PIPECAT_API_HOST": host})
    assert r.code == 0, r.output
    absent(r, OPENAI_KEY, HEX_KEY)
    assert "API host: https://" in r.stdout


@pytest.mark.parametrize(
    "netloc",
    [
        f"api.example.com%2F{OPENAI_KEY}",  # a % escape in the host
        f"api.example.com%3F{OPENAI_KEY}",
        f"api.example.com;{OPENAI_KEY}",
        f"api.example.com\\{OPENAI_KEY}",
        f"[v1.{OPENAI_KEY}]",  # an IPvFuture literal
        f"[::1%25{OPENAI_KEY}]",  # an IPv6 zone id
        f"[::1%25{OPENAI_KEY}]:8080",
    ],
)
def test_a_host_that_is_no_host_is_refused_and_not_shown(netloc: str, tmp_path: Path) -> None:
    host = f"https://{netloc}"
    with pytest.raises(ConfigError) as info:
        resolve_api_host(host)
    assert OPENAI_KEY[4:] not in str(info.value)
    r = run_cli("--version", env={"PIPECAT_API_HOST": host})
    absent(r, OPENAI_KEY)
    assert "PIPECAT_API_HOST is not usable" in r.stdout
    r = run_cli(
        "secrets",
        "list",
        "--api-host",
        host,
        "--json",
        env={"PIPECAT_API_KEY": "k" * 20, "PCC_ENV_DATA_DIR": str(tmp_path)},
    )
    assert r.code == 2, r.output
    absent(r, OPENAI_KEY)
    assert "--api-host" in json.loads(r.stdout)["error"]["message"]


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("HTTPS://API.Example.com", "https://API.Example.com"),
        ("https://api.pipecat.daily.co", "https://api.pipecat.daily.co"),
        ("https://proxy.example:8443/t/", "https://proxy.example:8443 (path not shown)"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("https://eu-central-1.api.example.com.", "https://eu-central-1.api.example.com."),
    ],
)
def test_ordinary_hosts_still_resolve_and_show(host: str, shown: str) -> None:
    assert api_host_origin(resolve_api_host(host)) == shown


def test_a_connection_error_does_not_show_a_key_pasted_as_the_hostname() -> None:
    import httpx

    from pcc_env.client import NO_RETRIES, SecretsClient
    from pcc_env.errors import ApiConnectionError

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    host = f"https://{HEX_KEY}:8443/"
    transport = httpx.MockTransport(refuse)
    with SecretsClient("k" * 20, host, transport=transport, retry=NO_RETRIES) as c:
        with pytest.raises(ApiConnectionError) as info:
            c.list_sets()
    assert HEX_KEY[4:] not in str(info.value)
    assert f"https://{HEX_KEY[:4]}…:8443" in str(info.value)


# Names the API does not know ----------------------------------------------------------------


@pytest.mark.parametrize("key", [HEX_KEY, "0b1f" + HEX_KEY[4:]])
def test_status_of_an_unknown_set_that_looks_like_a_key(
    live: EmulatorServer, tmp_path: Path, key: str
) -> None:
    r = cli(live, tmp_path, "status", "--set", key)
    assert r.code == 1, r.output
    absent(r, key)
    assert f"{key[:4]}…" in r.output and "does not exist" in r.output
    r = cli(live, tmp_path, "status", "--set", key, "--json")
    assert r.code == 1, r.output
    absent(r, key)
    assert json.loads(r.stdout)["sets"][0]["name"] == key[:4] + "…"


@pytest.mark.parametrize(
    "argv",
    [
        ["redeploy", "--set", HEX_KEY],
        ["redeploy", "--set", HEX_KEY, "--json"],
        ["check", "--set", HEX_KEY],
        ["check", "--set", HEX_KEY, "--json"],
        ["check", "--set", HEX_KEY, "--wait", "--timeout", "1"],
    ],
)
def test_redeploy_and_check_of_an_unknown_set_that_looks_like_a_key(
    live: EmulatorServer, tmp_path: Path, argv: list[str]
) -> None:
    r = cli(live, tmp_path, *argv)
    assert r.code in (0, 1), r.output
    absent(r, HEX_KEY)
    assert f"{HEX_KEY[:4]}…" in r.output or f"{HEX_KEY[:4]}\\u2026" in r.output


def test_status_of_an_unknown_ordinary_set_still_names_it(
    live: EmulatorServer, tmp_path: Path
) -> None:
    r = cli(live, tmp_path, "status", "--set", "my-agent-prod")
    assert r.code == 1
    assert "Secret set 'my-agent-prod' does not exist" in r.stdout


@pytest.mark.parametrize("extra", [[], ["--json"], ["--check"]])
def test_export_of_an_unknown_set_that_looks_like_a_key(
    live: EmulatorServer, tmp_path: Path, extra: list[str]
) -> None:
    r = cli(live, tmp_path, "export", "--set", HEX_KEY, *extra)
    assert r.code == 1, r.output
    absent(r, HEX_KEY)


# Regions: a key has the shape of a region code ----------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["push", "--set", "attack-region", "--region", HEX_KEY, "--yes"],
        ["push", "--set", "attack-region", "--region", "sk-proj-q8zr4kt2vx9mn3bp7wl1", "--yes"],
        ["secrets", "list", "attack-region", "--region", HEX_KEY],
        ["check", "--set", "attack-region", "--region", HEX_KEY],
        ["check", "--set", "attack-region", "--region", HEX_KEY, "--json"],
        ["secrets", "set", "attack-region2", "A_KEY=zzzzzzzz", "--region", HEX_KEY, "--no-wait"],
    ],
)
def test_a_region_shaped_key_is_refused_before_any_request(
    live: EmulatorServer, tmp_path: Path, argv: list[str]
) -> None:
    (tmp_path / ".env").write_text("A_KEY=zzzzzzzz\n")
    r = cli(live, tmp_path, "secrets", "set", "attack-region", "A_KEY=zzzzzzzz", "--no-wait")
    assert r.code == 0, r.output
    live.reset_stats()
    r = cli(live, tmp_path, *argv)
    assert r.code == 2, r.output
    absent(r, HEX_KEY, "sk-proj-q8zr4kt2vx9mn3bp7wl1")
    assert "looks like a credential" in r.output
    assert live.stats()["total"] == 0


def test_a_region_shaped_key_in_a_target_is_refused(live: EmulatorServer, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.pcc-env.targets.prod]\nset = "bot-prod"\nregion = "{HEX_KEY}"\n'
    )
    (tmp_path / ".env").write_text("A_KEY=zzzzzzzz\n")
    live.reset_stats()
    for argv in (["targets"], ["push", "--target", "prod", "--yes", "--dry-run"]):
        r = cli(live, tmp_path, *argv)
        assert r.code == 2, r.output
        absent(r, HEX_KEY)
    assert live.stats()["total"] == 0


@pytest.mark.parametrize("region", ["us-west", "eu-central", "ap-southeast-1", "us-gov-west-1"])
def test_real_region_codes_stay_valid(region: str) -> None:
    from pcc_env.rules import region_problems

    assert region_problems(region) == []


# File arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["push", OPENAI_KEY, "--set", "attack-set"],
        ["push", "--deploy-file", OPENAI_KEY, "--set", "attack-set"],
        ["run", "--env-file", OPENAI_KEY, "--", "true"],
        ["check-files", OPENAI_KEY],
        ["check-files", OPENAI_KEY, "--json"],
        ["init", "--env-file", OPENAI_KEY, "--dry-run"],
    ],
)
def test_a_key_typed_where_a_file_belongs_is_not_printed(
    live: EmulatorServer, tmp_path: Path, argv: list[str]
) -> None:
    r = cli(live, tmp_path, *argv)
    assert r.code == 2, r.output
    absent(r, OPENAI_KEY)


# run: masking edge cases (held) -------------------------------------------------------------

SETTINGS = """
from pydantic import SecretStr
from pcc_env import SecretSettings


class Settings(SecretSettings):
    openai_api_key: SecretStr
    other_api_key: SecretStr
"""
INNER = "sk-CANARYinner77"
OUTER = "XX" + INNER + "YY"  # one secret inside another


def test_run_masks_nested_values_grandchildren_and_split_writes(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text(SETTINGS)
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={INNER}\nOTHER_API_KEY={OUTER}\n")
    script = textwrap.dedent(
        """
        import os, subprocess, sys, time
        inner, outer = os.environ["OPENAI_API_KEY"], os.environ["OTHER_API_KEY"]
        print("A:" + inner); print("B:" + outer); sys.stdout.flush()
        with open("f.txt", "w") as f:
            f.write(outer + "\\n")
        subprocess.run(["cat", "f.txt"])
        sys.stdout.write(outer[:7]); sys.stdout.flush(); time.sleep(0.2)
        sys.stdout.write(outer[7:] + "\\n"); sys.stdout.flush()
        code = "import os,sys,time; time.sleep(0.3); print('G:' + os.environ['OTHER_API_KEY'])"
        subprocess.Popen([sys.executable, "-c", code])  # outlives its parent
        """
    )
    r = run_cli("run", "--", sys.executable, "-c", script, cwd=tmp_path)
    assert r.code == 0, r.output
    for value in (INNER, OUTER, INNER[:10], "XXsk-", "77YY"):
        assert value not in r.output, r.output
    assert r.stdout.count("<concealed by pcc-env>") == 5, r.stdout
    assert "G:<concealed by pcc-env>" in r.stdout
    assert OUTER in (tmp_path / "f.txt").read_text()  # files are the command's: not masked


# The runtime: the bot's own DEBUG logging and PYDANTIC_SETTINGS_DEBUG (held) ----------------

BOT = """
import logging, sys, threading
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, force=True)
for name in list(logging.Logger.manager.loggerDict):
    logging.getLogger(name).setLevel(logging.DEBUG)
from pydantic import SecretStr
from pydantic_settings import BaseSettings
from pcc_env import SecretSettings, load_settings


class Settings(SecretSettings):
    openai_api_key: SecretStr
    private_key: SecretStr | None = None
    model_config = {"extra": "allow"}


class Plain(BaseSettings):
    openai_api_key: str
    model_config = {"extra": "allow", "env_file": ".env"}


def show(obj):  # a plain model's repr is its values: that one is the bot's to print
    return obj if isinstance(obj, Settings) else type(obj).__name__


for cls in (Settings, Plain):
    print("loaded", show(load_settings(cls)))
    t = threading.Thread(target=lambda: print("thread", show(load_settings(cls))))
    t.start(); t.join()
"""


def test_runtime_with_settings_debug_and_a_root_handler_at_debug(tmp_path: Path) -> None:
    (tmp_path / "bot.py").write_text(BOT)
    (tmp_path / ".env").write_text(
        "OPENAI_API_KEY=sk-CANARYdotenv1234567\n"
        'PRIVATE_KEY="-----BEGIN KEY-----\nMIICANARYpemline0123456789abcdef\n-----END KEY-----"\n'
        "EXTRA_TOKEN=CANARYextra998877\n"
        "sk-CANARYbareline99887766\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "PYDANTIC_SETTINGS_DEBUG": "1",
        "PCC_ENV_LOG_LEVEL": "DEBUG",
        "OPENAI_API_KEY_FROM_ENV": "CANARYenviron112233",
    }
    proc = subprocess.run(
        [sys.executable, "bot.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert out.count("loaded") == 2 and out.count("thread") == 2, out
    for canary in ("CANARYdotenv", "CANARYpemline", "CANARYextra", "CANARYbareline", "CANARYenv"):
        assert canary not in out, out


# Secret-looking names in any case style -----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "databaseurl",  # flatcase connection strings
        "DATABASEURL",
        "redisurl",
        "mongodburi",
        "PG_CONNSTRING",
        "gcpServiceAccountJson",  # a Google service account's key file, inline
        "GOOGLE_SERVICE_ACCOUNT_INFO",
    ],
)
def test_fused_connection_strings_and_service_accounts_look_secret(name: str) -> None:
    from pcc_env.rules import looks_secret

    assert looks_secret(name)


@pytest.mark.parametrize(
    "name", ["BASE_URL", "CURL", "SERVICE_URL", "SERVICE_ACCOUNT_EMAIL", "LOG_JSON", "DB_HOST"]
)
def test_ordinary_urls_and_accounts_still_do_not(name: str) -> None:
    from pcc_env.rules import looks_secret

    assert not looks_secret(name)


CAMEL_SECRETS = [
    "elevenLabsKey",
    "dbPass",
    "sentryDsn",
    "slackWebhookUrl",
    "otelExporterOtlpHeaders",
    "tlsCert",
    "dbPwd",
]


@pytest.mark.parametrize("name", CAMEL_SECRETS)
def test_init_types_camel_case_secret_names_as_secretstr(tmp_path: Path, name: str) -> None:
    from pcc_env.rules import looks_secret

    assert looks_secret(name)  # the rule itself knows them
    (tmp_path / "bot.py").write_text(f'import os\nvalue = os.getenv("{name}")\n')
    r = run_cli("init", "--dry-run", "--json", cwd=tmp_path)
    assert r.code == 0, r.output
    (field,) = json.loads(r.stdout)["fields"]
    assert field["type"] == "SecretStr", field
