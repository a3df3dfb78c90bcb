"""A Tab answered without importing the app (issue 24 item 5): cli/fast_completion.py.

The fast path answers from pcc_env/cli/completion_table.json. These tests keep the table equal
to what the Typer app completes (so it cannot drift), compare the fast answer with the app's
for every command and option in bash, zsh and fish, and check in a child process that the fast
path loads neither Typer, rich nor httpx.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pcc_env.cli import fast_completion
from pcc_env.cli.completion_gen import TABLE_PATH, completion_table
from tests.cli_helpers import PCC_ENV, cli_env

HOST = "http://127.0.0.1:9"  # nobody listens: only the cache can answer
CACHED = [["alpha-set", "secret"], ["beta-set", "secret"], ["pull-creds", "imagePullSecret"]]
TABLE: dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))["commands"]


def write_cache(cache: Path, host: str = HOST, at: float | None = None) -> None:
    path = cache / "pcc-env" / "set-names.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = {"at": time.time() if at is None else at, "sets": CACHED}
    path.write_text(json.dumps({"version": 1, "hosts": {host: entry}}))
    os.chmod(path, 0o600)


def test_the_table_is_what_the_app_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert completion_table() == json.loads(TABLE_PATH.read_text(encoding="utf-8")), (
        "pcc_env/cli/completion_table.json is out of date: run "
        "python -c 'from pcc_env.cli.completion_gen import write_table; write_table()'"
    )


def lines() -> Iterator[str]:
    """Command lines ending in the word being completed: every command, option and argument."""
    for path, node in TABLE.items():
        prefix = f"pcc-env {path} ".replace("  ", " ")
        words = ["", "-", "--", "x", "-x"]
        for option in node["options"]:
            for name in (n["value"] for n in option["names"]):
                words += [name, name[:2], name[:4]]
                if option["plain"] and not option["value"]:
                    yield f"{prefix}{name} -"  # a flag given is not offered again
                    yield f"{prefix}{name} --{name[2:4]}"
            if option["plain"] and option["value"]:
                name = option["opts"][0]
                yield f"{prefix}{name} "  # its value
                yield f"{prefix}{name} a"
                yield f"{prefix}{name} value --"  # given once: gone from the list
                if name.startswith("--"):
                    yield f"{prefix}{name}=a"
        for command in node.get("commands", []):
            words += [command["value"][:1], command["value"]]
        for count in range(len(node["arguments"]) + 2):
            if node["interspersed"] or not count:
                yield prefix + "word " * count
                yield prefix + "word " * count + "a"
        yield from (prefix + w for w in words)


def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("COMP_WORDS", "COMP_CWORD", "_TYPER_COMPLETE_ARGS", "_TYPER_COMPLETE_FISH_ACTION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def shell_env(shell: str, line: str) -> dict[str, str]:
    if shell == "bash":
        words = line.split(" ")
        return {
            "_PCC_ENV_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        }
    shell, _, action = shell.partition(":")
    env = {"_PCC_ENV_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": line}
    if action:
        env["_TYPER_COMPLETE_FISH_ACTION"] = action
    return env


@pytest.fixture(scope="module")
def app_command() -> Any:
    import typer.main
    from typer._completion_classes import completion_init

    from pcc_env.cli.app import build_app

    completion_init()
    root = typer.main.get_command(build_app())

    def declared_help_order(command: Any, ctx: Any) -> None:
        """Click makes the help option's names from a set, so their order changes from one
        process to the next (-h --help, or --help -h); the table keeps the declared one."""
        help_option = command.get_help_option(ctx)
        if help_option is not None:
            help_option.opts.sort(key=ctx.help_option_names.index)
        for name in getattr(command, "commands", {}):
            sub = command.get_command(ctx, name)
            with sub.make_context(name, [], parent=ctx, resilient_parsing=True) as sub_ctx:
                declared_help_order(sub, sub_ctx)

    with root.make_context("pcc-env", [], resilient_parsing=True) as ctx:
        declared_help_order(root, ctx)
    return root


def app_answer(command: Any, capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    """The app's answer, as PccEnvGroup.main gives it (Typer's shell_complete)."""
    from typer.completion import shell_complete

    capsys.readouterr()
    try:
        code = shell_complete(
            command, {}, "pcc-env", "_PCC_ENV_COMPLETE", os.environ["_PCC_ENV_COMPLETE"]
        )
    except SystemExit as exc:  # fish's is-args exits
        code = int(exc.code or 0)
    return capsys.readouterr().out, code


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish:get-args", "fish:is-args"])
def test_every_command_and_option_completes_as_the_app_does(
    shell: str,
    app_command: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    write_cache(tmp_path)
    base = {"XDG_CACHE_HOME": str(tmp_path), "PIPECAT_API_HOST": HOST, "COLUMNS": "250"}
    checked = 0
    for line in sorted(set(lines())):
        _set_env(monkeypatch, {**base, **shell_env(shell, line)})
        fast = fast_completion.answer(os.environ)
        assert fast is not None, f"the app answered {line!r}"
        assert fast == app_answer(app_command, capsys), line
        checked += 1
    assert checked > 1000
    # Set names came from the cache, each argument its kind.
    _set_env(monkeypatch, {**base, **shell_env("bash", "pcc-env secrets image-pull-secret ")})
    assert fast_completion.answer(os.environ) == ("pull-creds\n", 0)


def test_what_the_fast_path_leaves_to_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No fresh cache (the app asks the API, within its second), `--`, an unknown word,
    `run`'s child command, --version given (its callback prints), an install script, and a
    help text that rich would wrap at this width."""
    write_cache(tmp_path, at=time.time() - 61)
    base = {"XDG_CACHE_HOME": str(tmp_path), "PIPECAT_API_HOST": HOST, "COLUMNS": "250"}
    for line in (
        "pcc-env secrets list ",
        "pcc-env push --set ",
        "pcc-env push -- ",
        "pcc-env nosuch ",
        "pcc-env push --nosuch -",
        "pcc-env run python -u -",
        "pcc-env --version ",
        "pcc-env secrets list -qz ",
    ):
        _set_env(monkeypatch, {**base, **shell_env("bash", line)})
        assert fast_completion.answer(os.environ) is None, line
    write_cache(tmp_path)
    _set_env(monkeypatch, {**base, **shell_env("bash", "pcc-env push --set ")})
    assert fast_completion.answer(os.environ) == ("alpha-set\nbeta-set\n", 0)
    monkeypatch.setenv("PIPECAT_API_HOST", "http://127.0.0.1:10")  # another host: not cached
    assert fast_completion.answer(os.environ) is None
    _set_env(monkeypatch, {**base, "_PCC_ENV_COMPLETE": "source_bash"})
    assert fast_completion.answer(os.environ) is None
    _set_env(monkeypatch, {**base, "COLUMNS": "40", **shell_env("zsh", "pcc-env push --")})
    assert fast_completion.answer(os.environ) is None
    monkeypatch.setenv("COLUMNS", "250")
    answered = fast_completion.answer(os.environ)
    assert answered is not None and answered[0].startswith('_arguments \'*: :(("--set":')


CHILD = """
import atexit, json, sys
def report():
    loaded = sorted({m.split(".")[0] for m in sys.modules} & {"typer", "click", "rich", "httpx"})
    sys.stderr.write("LOADED " + json.dumps(loaded))
atexit.register(report)
sys.argv = ["pcc-env"]
from pcc_env.cli import main
main()
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pcc-env sec", ["secrets"]),
        ("pcc-env secrets ", ["set", "list", "unset", "delete", "wait", "image-pull-secret"]),
        ("pcc-env push --se", ["--set", "--settings"]),
        ("pcc-env push --set ", ["alpha-set", "beta-set"]),
        ("pcc-env secrets list ", ["alpha-set", "beta-set", "pull-creds"]),
    ],
)
def test_the_fast_path_loads_no_typer_rich_or_httpx(
    line: str, expected: list[str], tmp_path: Path
) -> None:
    write_cache(tmp_path)
    env = cli_env({"XDG_CACHE_HOME": str(tmp_path), "PIPECAT_API_HOST": HOST})
    env.update(shell_env("bash", line))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == expected
    assert proc.stderr == "LOADED []"
    # The real entry point answers the same.
    real = subprocess.run([PCC_ENV], env=env, capture_output=True, text=True, timeout=30)
    assert (real.returncode, real.stdout, real.stderr) == (0, proc.stdout, "")


@pytest.mark.parametrize(
    ("raw", "taken"),
    [
        ("https://api.pipecat.daily.co", True),
        ("https://api.pipecat.daily.co/", True),
        ("https://Example-1.test:8443", True),
        ("http://127.0.0.1:8765", True),
        ("http://localhost:1/", True),
        ("http://127.0.0.1:65536", False),
        ("http://127.0.0.2:80", False),
        ("http://example.com", False),
        ("https://user:pw@example.com", False),
        ("https://example.com/path", False),
        ("https://example.com?k=v", False),
        ("https://example.com//", False),
        ("https://exa mple.com", False),
        ("ftp://example.com", False),
        ("https://[::1]:8", False),
        ("sk-CANARY-not-a-url", False),
    ],
)
def test_a_host_taken_without_the_app_rules_is_one_they_take_as_it_is(
    raw: str, taken: bool
) -> None:
    """set_name_cache.simple_host takes a subset of what resolve_api_host accepts, and gives
    the same host; the rest goes through resolve_api_host itself."""
    from pcc_env.cli.set_name_cache import simple_host
    from pcc_env.credentials import DEFAULT_API_HOST, resolve_api_host

    assert fast_completion._DEFAULT_API_HOST == DEFAULT_API_HOST
    simple = simple_host(raw)
    assert (simple is not None) == taken
    if simple is not None:
        assert resolve_api_host(raw) == simple


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rule is Linux's")
@pytest.mark.parametrize("xdg", [None, "", "  ", "/tmp/xdg-cache"])
def test_the_cache_file_is_where_platformdirs_puts_it(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import platformdirs

    from pcc_env.cli.set_name_cache import cache_file

    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    expected = os.path.join(platformdirs.user_cache_dir("pcc-env"), "set-names.json")
    assert cache_file() == expected


def test_a_hostile_cache_file_gives_no_cache_not_a_traceback(tmp_path: Path) -> None:
    from pcc_env.cli import set_name_cache

    path = tmp_path / "set-names.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    path.chmod(0o600)
    assert set_name_cache.read_cache(path) == {}
