"""Issue 20, items 3, 4 and 9: nothing typed where a host or a name belongs is printed when it
could be a credential, and the completion cache is checked on read as names are on fetch.

Every key below has a real provider's shape and is a canary: it must appear in no output.
"""

from __future__ import annotations

import json
import os
import random
import string
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcc_env import rules
from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import Result, run_cli

_rng = random.Random(20)


def _token(alphabet: str, length: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(length))


HEX = "0123456789abcdef"
B62 = string.ascii_letters + string.digits
# Real shapes: Deepgram (40 and 32 hex), Daily (64 hex), ElevenLabs (sk_ + 48 hex), OpenAI
# (sk-proj-...), Anthropic, AWS access key ids, Cartesia (UUID, and sk_car_...), Groq, GitHub,
# Hugging Face, Slack, a base62 token with no prefix.
KEYS = {
    "deepgram-32": _token(HEX, 32),
    "deepgram-40": _token(HEX, 40),
    "daily-64": _token(HEX, 64),
    "elevenlabs": "sk_" + _token(HEX, 48),
    "openai": "sk-proj-" + _token(B62 + "-_", 48),
    "anthropic": "sk-ant-api03-" + _token(B62 + "-_", 40),
    "aws": "AKIA" + _token(string.ascii_uppercase + string.digits, 16),
    "cartesia-uuid": str(uuid.UUID(int=_rng.getrandbits(128))),
    "cartesia": "sk_car_" + _token(B62, 22),
    "groq": "gsk_" + _token(B62, 52),
    "github": "ghp_" + _token(B62, 36),
    "huggingface": "hf_" + _token(B62, 34),
    "slack": "xoxb-" + _token(string.digits, 12) + "-" + _token(B62, 24),
    "base62-32": _token(B62, 32),
}
ORDINARY = [
    "acme-bot-secrets",
    "my-agent-prod",
    "bot-us-west",
    "bot-us-west-2",
    "staging",
    "pipecat-quickstart-secrets",
    "voice_agent_v2.prod",
    "agent-2024-12-01",
    "release-2026.01.15",
    "gpt4o-mini-voice-agent",
    "llama3-70b-groq-bot",
    "s3-backup-eu-central-1",
    "my-bot-v10",
    "bot123",
    "MyAgentProdUsWest",
    "OpenAIRealtimeAgentV2Prod",
    "sk-bot",
    "internationalization-bot",
]


def absent(r: Result, *values: str) -> None:
    for value in values:
        assert value not in r.output, r.output
    assert "Traceback" not in r.output, r.output


@pytest.fixture(scope="module")
def live() -> Iterator[EmulatorServer]:
    with run_emulator(provision_delay=0, deploy_delay=0) as server:
        yield server


def cli(live: EmulatorServer, cwd: Path, *args: str, **env: str) -> Result:
    base = {**live.env(), "PCC_ENV_DATA_DIR": str(cwd / ".state"), **env}
    return run_cli(*args, env=base, cwd=cwd, timeout=30)


# Item 4: the rule ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_real_key_shapes_look_like_credentials(kind: str) -> None:
    key = KEYS[kind]
    assert rules.looks_like_credential(key), kind
    shown = rules.display_name(key)
    assert key not in shown and key[4:] not in shown
    assert shown == f"'{key[:4]}…' (looks like a credential; not shown)"
    assert rules.redact_name(key) == key[:4] + "…"


def test_random_keys_of_every_common_shape_are_caught() -> None:
    """Not one sample: a thousand of each shape whose rule is exact (hex runs, UUIDs, prefixes),
    and base62 tokens of 32 characters or more at a rate of at least 99%."""
    rng = random.Random(4)

    def tok(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    exact = [
        lambda: tok(HEX, 32),
        lambda: tok(HEX, 40),
        lambda: tok(HEX, 64),
        lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        lambda: "sk_" + tok(HEX, 48),
        lambda: "sk-proj-" + tok(B62, 40),
        lambda: "AKIA" + tok(string.ascii_uppercase + string.digits, 16),
    ]
    for make in exact:
        assert all(rules.looks_like_credential(make()) for _ in range(1000))
    caught = sum(rules.looks_like_credential(tok(B62, 32)) for _ in range(1000))
    assert caught >= 990


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_stay_readable(name: str) -> None:
    assert not rules.looks_like_credential(name)
    assert rules.display_name(name) == repr(name)
    assert rules.redact_name(name) == name


def test_names_that_are_not_name_shaped_are_described_by_length() -> None:
    assert rules.display_name("has space") == "<a name of 9 characters, not shown>"
    assert rules.display_name("a+b/c=") == "<a name of 6 characters, not shown>"


# Item 4: through the CLI --------------------------------------------------------------------

DG = KEYS["deepgram-32"]  # also a valid set name: it reaches the API


@pytest.mark.parametrize(
    "argv",
    [
        ["secrets", "list", DG],
        ["secrets", "list", DG, "--json"],
        ["secrets", "delete", DG, "--yes"],
        ["secrets", "delete", DG, "--json", "--yes"],
        ["secrets", "delete", DG],  # the confirmation question names it
        ["secrets", "wait", DG, "--timeout", "1"],
        ["secrets", "list", KEYS["elevenlabs"]],  # not a valid set name: refused locally
        ["secrets", "wait", KEYS["cartesia-uuid"]],
    ],
)
def test_a_key_given_as_a_set_name_is_never_printed(
    live: EmulatorServer, tmp_path: Path, argv: list[str]
) -> None:
    r = cli(live, tmp_path, *argv)
    assert r.code in (1, 2), r.output
    absent(r, argv[2], argv[2][4:])
    shown = json.loads(r.stdout)["error"]["message"] if "--json" in argv else r.output
    assert f"{argv[2][:4]}…" in shown


def test_an_unknown_ordinary_set_name_is_still_shown_whole(
    live: EmulatorServer, tmp_path: Path
) -> None:
    r = cli(live, tmp_path, "secrets", "list", "my-agent-prod")
    assert r.code == 1
    assert "GET /secrets/my-agent-prod: Set not found" in r.stderr


@pytest.mark.parametrize("kind", ["elevenlabs", "deepgram-32", "aws", "cartesia-uuid"])
def test_unset_refuses_a_value_where_a_key_name_belongs(
    live: EmulatorServer, tmp_path: Path, kind: str
) -> None:
    r = cli(live, tmp_path, "secrets", "set", "unset-target", "OPENAI_API_KEY=x", "--no-wait")
    assert r.code == 0, r.output
    live.reset_stats()
    for extra in ([], ["--json"]):
        r = cli(live, tmp_path, "secrets", "unset", "unset-target", KEYS[kind], "--yes", *extra)
        assert r.code == 2, r.output
        absent(r, KEYS[kind], KEYS[kind][4:])
        assert "looks like a credential" in r.output
    assert live.stats()["total"] == 0  # no request: the value never went into a URL
    r = cli(live, tmp_path, "secrets", "unset", "unset-target", "OPENAI_API_KEY", "--yes")
    assert r.code == 0, r.output  # a key name is removed as before


def test_agent_target_and_settings_never_print_a_key(live: EmulatorServer, tmp_path: Path) -> None:
    key = KEYS["daily-64"]
    runs = [
        cli(live, tmp_path, "redeploy", "--set", "some-set", "--agent", key),
        cli(live, tmp_path, "push", "--target", key),
        cli(live, tmp_path, "status", "--json", PCC_ENV_TARGET=key),
        cli(live, tmp_path, "check", "--set", "some-set", "--settings", key),
        cli(live, tmp_path, "check", "--set", "some-set", "--settings", f"bot:{key}"),
        cli(live, tmp_path, "check", "--set", "some-set", "--settings", f"{key}.py:Settings"),
        cli(live, tmp_path, "check", "--set", "some-set", "--settings", f"{key}:Settings"),
    ]
    for r in runs:
        assert r.code == 2, r.output
        absent(r, key, key[4:])
        assert "looks like a credential; not shown" in r.output


# Item 3: the API host -----------------------------------------------------------------------


@pytest.mark.parametrize("where", ["env", "flag"])
def test_a_key_given_as_the_api_host_is_named_by_its_source(tmp_path: Path, where: str) -> None:
    key = KEYS["elevenlabs"]
    env = {"PIPECAT_API_KEY": "k" * 20, "PCC_ENV_DATA_DIR": str(tmp_path)}
    flag: list[str] = []
    if where == "env":
        env["PIPECAT_API_HOST"] = key
        source = "PIPECAT_API_HOST"
    else:
        flag = ["--api-host", key]
        source = "--api-host"
    for extra in ([], ["--json"]):
        r = run_cli("secrets", "list", *flag, *extra, env=env)
        assert r.code == 2, r.output
        absent(r, key, key[4:])
        assert f"{source} is not an http(s) URL" in r.output
        if extra:
            assert json.loads(r.stdout)["error"]["exitCode"] == 2
    if where == "env":
        r = run_cli("--version", env=env)
        assert r.code == 0
        absent(r, key, key[4:])
        assert "PIPECAT_API_HOST is not an http(s) URL" in r.stdout


@pytest.mark.parametrize(
    "url",
    [
        "{host}/?token={c}",
        "{host}?api_key={c}",
        "{host}/#{c}",
        "{host}/secrets?x=1#{c}",
        "http://user:{c}@127.0.0.1:9",
        "{host}/\n{c}",
        "{host}/ {c}",
    ],
)
def test_a_host_with_a_query_fragment_or_user_info_is_refused(
    live: EmulatorServer, tmp_path: Path, url: str
) -> None:
    canary = "sk-CANARY-" + _token(B62, 24)
    url = url.format(host=live.api_host, c=canary)
    live.reset_stats()
    for run in (
        cli(live, tmp_path, "secrets", "list", "--api-host", url),
        cli(live, tmp_path, "secrets", "list", "--json", PIPECAT_API_HOST=url),
        cli(live, tmp_path, "whoami", PIPECAT_API_HOST=url),
    ):
        assert run.code == 2, run.output
        absent(run, canary, "CANARY")
    version = cli(live, tmp_path, "--version", PIPECAT_API_HOST=url)
    assert version.code == 0
    absent(version, canary, "CANARY")
    assert "API host: PIPECAT_API_HOST is not usable" in version.stdout
    assert live.stats()["total"] == 0


def test_version_shows_the_host_as_scheme_host_and_port_only() -> None:
    canary = "CANARY" + _token(B62, 20)
    r = run_cli("--version", env={"PIPECAT_API_HOST": f"https://proxy.example:8443/t/{canary}/"})
    assert r.code == 0
    assert "API host: https://proxy.example:8443 (path not shown) (from PIPECAT_API_HOST)" in (
        r.stdout
    )
    absent(r, canary)


def test_plain_http_refusal_names_the_source_not_the_host() -> None:
    host = KEYS["base62-32"].lower()
    r = run_cli(
        "secrets", "list", "--api-host", f"http://{host}", env={"PIPECAT_API_KEY": "k" * 20}
    )
    assert r.code == 2
    assert "refusing to send the API key over plain HTTP (--api-host)" in r.stderr
    absent(r, host)


# Item 9: the completion cache ---------------------------------------------------------------

HOSTILE_NAMES = [
    "\x1b[31mred\x1b[0m",
    "line\nbreak",
    "$(touch pwned)",
    "`id`",
    "a;rm -rf x",
    "UPPER-case",
    "x" * 200,
]


def _complete(live: EmulatorServer, cache: Path, cwd: Path) -> Result:
    line = "pcc-env secrets list "
    return run_cli(
        env={
            **live.env(),
            "_PCC_ENV_COMPLETE": "complete_bash",
            "XDG_CACHE_HOME": str(cache),
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(line.split(" ")) - 1),
        },
        cwd=cwd,
        timeout=30,
    )


def _write_cache(cache: Path, host: str, sets: list[list[object]], mode: int = 0o600) -> Path:
    path = cache / "pcc-env" / "set-names.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps({"version": 1, "hosts": {host: {"at": time.time(), "sets": sets}}}))
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("bad", HOSTILE_NAMES)
def test_a_forged_cache_entry_is_not_completed(
    live: EmulatorServer, tmp_path: Path, bad: str
) -> None:
    r = cli(live, tmp_path, "secrets", "set", "real-set", "K=v", "--no-wait")
    assert r.code == 0, r.output
    cache = tmp_path / "cache"
    _write_cache(cache, live.api_host, [["forged-set", "secret"], [bad, "secret"]])
    r = _complete(live, cache, tmp_path)
    assert r.code == 0 and r.stderr == "", r.output
    shown = r.stdout.split()
    assert "real-set" in shown  # the entry was discarded and fetched again
    assert "forged-set" not in shown
    assert bad not in r.stdout and "\x1b" not in r.stdout and "$(" not in r.stdout
    assert not (tmp_path / "pwned").exists()
    # The file now holds what the API answered.
    entry = json.loads((cache / "pcc-env" / "set-names.json").read_text())["hosts"]
    assert all(name != bad for name, _ in entry[live.api_host]["sets"])


@pytest.mark.parametrize(
    "sets",
    [
        [["ok-set", "secret"], ["other-set", "madeUpType"]],
        [["ok-set", "secret"], ["other-set"]],
        [["ok-set", "secret"], [7, "secret"]],
        [["ok-set", "secret"], "other-set"],
    ],
)
def test_a_cache_entry_of_the_wrong_shape_is_discarded(
    live: EmulatorServer, tmp_path: Path, sets: list[list[object]]
) -> None:
    cache = tmp_path / "cache"
    _write_cache(cache, live.api_host, sets)
    live.reset_stats()
    shown = _complete(live, cache, tmp_path).stdout.split()
    assert "ok-set" not in shown
    assert live.stats()["requests"].get("GET /v1/secrets", 0) == 1  # asked the API instead


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_a_cache_file_others_can_write_is_ignored(live: EmulatorServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _write_cache(cache, live.api_host, [["planted-set", "secret"]], mode=0o666)
    shown = _complete(live, cache, tmp_path).stdout.split()
    assert "planted-set" not in shown
