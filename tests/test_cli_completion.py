"""Shell completion through the real entry point (issue 11 item 6).

Completions run ``pcc-env`` with the variables the completion scripts set
(``_PCC_ENV_COMPLETE=complete_bash COMP_WORDS=... COMP_CWORD=...``; zsh and fish pass
``_TYPER_COMPLETE_ARGS``), against the emulator, with the cache in a temporary
``XDG_CACHE_HOME``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from pcc_env.emulator.server import EmulatorServer
from pcc_env.testing import run_emulator
from tests.cli_helpers import PCC_ENV, Result, cli_env, run_cli
from tests.test_no_leaks import Canaries

LIST = "GET /v1/secrets"


def complete(line: str, cache: Path, emulator: EmulatorServer | None = None, **env: str) -> Result:
    """Complete the last word of ``line`` as bash would ('' after a trailing space)."""
    words = line.split(" ")
    base = {"_PCC_ENV_COMPLETE": "complete_bash", "XDG_CACHE_HOME": str(cache)}
    base.update({"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    if emulator is not None:
        base.update({"PIPECAT_API_HOST": emulator.api_host, "PIPECAT_API_KEY": emulator.token})
    return run_cli(env={**base, **env}, timeout=30)


def candidates(r: Result) -> list[str]:
    assert r.code == 0 and r.stderr == "", r.output
    return r.stdout.split()


def lists(emulator: EmulatorServer) -> int:
    return int(emulator.stats()["requests"].get(LIST, 0))


@pytest.fixture
def sets(emulator: EmulatorServer, tmp_path: Path) -> Canaries:
    """Two secret sets and an image pull secret; the values are canaries."""
    canaries = Canaries()
    env = {**emulator.env(), "PCC_ENV_DATA_DIR": str(tmp_path / ".state")}
    for name in ("alpha-set", "beta-set"):
        r = run_cli("secrets", "set", name, f"KEY={canaries.new()}", "--no-wait", env=env)
        assert r.code == 0, r.output
    r = run_cli(
        "secrets",
        "image-pull-secret",
        "pull-creds",
        "https://ghcr.io",
        "--no-wait",
        env=env,
        stdin=f"user:{canaries.new()}\n",
    )
    assert r.code == 0, r.output
    emulator.reset_stats()
    return canaries


def test_set_names_complete_from_the_api(
    emulator: EmulatorServer, sets: Canaries, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert candidates(complete("pcc-env secrets list ", cache, emulator)) == [
        "alpha-set",
        "beta-set",
        "pull-creds",
    ]
    # Each argument completes the kind of set it takes.
    assert candidates(complete("pcc-env secrets set ", cache, emulator)) == [
        "alpha-set",
        "beta-set",
    ]
    assert candidates(complete("pcc-env secrets image-pull-secret ", cache, emulator)) == [
        "pull-creds"
    ]
    for line in (
        "pcc-env push --set a",
        "pcc-env status --set a",
        "pcc-env redeploy --set a",
        "pcc-env watch --set a",
        "pcc-env secrets unset a",
        "pcc-env secrets delete a",
        "pcc-env secrets wait a",
    ):
        assert candidates(complete(line, cache, emulator)) == ["alpha-set"], line
    # --api-host typed before the set is the host asked (the environment names none here).
    line = f"pcc-env status --api-host {emulator.api_host} --set b"
    r = complete(line, tmp_path / "other-cache", PIPECAT_API_KEY=emulator.token)
    assert candidates(r) == ["beta-set"]
    # zsh and fish pass the command line in _TYPER_COMPLETE_ARGS.
    zsh = run_cli(
        env={
            **emulator.env(),
            "XDG_CACHE_HOME": str(cache),
            "_PCC_ENV_COMPLETE": "complete_zsh",
            "_TYPER_COMPLETE_ARGS": "pcc-env secrets delete ",
        }
    )
    assert zsh.code == 0 and '"alpha-set"' in zsh.stdout and '"pull-creds"' in zsh.stdout
    fish = run_cli(
        env={
            **emulator.env(),
            "XDG_CACHE_HOME": str(cache),
            "_PCC_ENV_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
            "_TYPER_COMPLETE_ARGS": "pcc-env push --set ",
        }
    )
    assert fish.code == 0 and fish.stdout.split() == ["alpha-set", "beta-set"]
    # Commands and options still complete as before, without asking the API.
    before = lists(emulator)
    assert candidates(complete("pcc-env sec", cache, emulator)) == ["secrets"]
    assert "--set" in candidates(complete("pcc-env push --s", cache, emulator))
    assert lists(emulator) == before


def test_names_are_cached_for_a_minute_in_a_private_file(
    emulator: EmulatorServer, sets: Canaries, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    assert candidates(complete("pcc-env secrets list ", cache, emulator))
    assert lists(emulator) == 1
    path = cache / "pcc-env" / "set-names.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    sets.assert_absent(text, "the completion cache")  # names only, never values
    entry = json.loads(text)["hosts"][emulator.api_host]
    assert entry["sets"] == [
        ["alpha-set", "secret"],
        ["beta-set", "secret"],
        ["pull-creds", "imagePullSecret"],
    ]
    # Within the minute: from the cache, even for a set created meanwhile.
    r = run_cli("secrets", "set", "gamma-set", "K=v", "--no-wait", env=emulator.env())
    assert r.code == 0
    emulator.reset_stats()
    assert "gamma-set" not in candidates(complete("pcc-env push --set ", cache, emulator))
    assert lists(emulator) == 0
    # A minute later: asked again.
    data = json.loads(text)
    data["hosts"][emulator.api_host]["at"] -= 61
    path.write_text(json.dumps(data))
    assert "gamma-set" in candidates(complete("pcc-env push --set ", cache, emulator))
    assert lists(emulator) == 1
    # Another API host has its own entry.
    with run_emulator() as other:
        assert candidates(complete("pcc-env push --set ", cache, other)) == []
        hosts = json.loads(path.read_text())["hosts"]
        assert set(hosts) == {emulator.api_host, other.api_host}


def test_completion_is_silent_on_failure(emulator: EmulatorServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    # No key anywhere (the keyring backend fails).
    r = complete("pcc-env secrets list ", cache, PIPECAT_API_HOST=emulator.api_host)
    assert candidates(r) == []
    # A key the server refuses, and a host nobody listens on.
    r = complete(
        "pcc-env secrets list ",
        cache,
        PIPECAT_API_HOST=emulator.api_host,
        PIPECAT_API_KEY="refused-key",
    )
    assert candidates(r) == []
    with run_emulator() as gone:
        host = gone.api_host
    r = complete("pcc-env secrets list ", cache, PIPECAT_API_HOST=host, PIPECAT_API_KEY="k")
    assert candidates(r) == []
    # An unusable host setting.
    r = complete("pcc-env secrets list ", cache, PIPECAT_API_HOST="ftp://x", PIPECAT_API_KEY="k")
    assert candidates(r) == []
    assert not (cache / "pcc-env" / "set-names.json").exists()  # failures are not cached


def timed(line: str, cache: Path, **env: str) -> tuple[float, Result]:
    started = time.monotonic()
    r = complete(line, cache, **env)
    return time.monotonic() - started, r


@pytest.mark.serial  # a second of budget, measured against a start-up measured beside it
@pytest.mark.timeout(120)
def test_a_completion_spends_at_most_a_second_asking(tmp_path: Path) -> None:
    """A server that hangs (10 s per response) and a keyring that hangs: the completion
    ends about a second after start-up, which a completion needing no API measures: one the
    app answers (after `--`), not the table of cli/fast_completion.py, which skips the app."""
    with run_emulator(latency_ms=10_000) as slow:
        env = {"PIPECAT_API_HOST": slow.api_host, "PIPECAT_API_KEY": slow.token}
        baseline = min(timed("pcc-env push -- ", tmp_path / "c", **env)[0] for _ in range(2))
        elapsed, r = timed("pcc-env secrets list ", tmp_path / "c", **env)
        assert candidates(r) == []
        assert elapsed < baseline + 2.0, (elapsed, baseline)
        assert elapsed < 6.0  # far below the server's 10 s
        elapsed, r = timed(
            "pcc-env push --set ",
            tmp_path / "c",
            PIPECAT_API_HOST=slow.api_host,
            PYTHON_KEYRING_BACKEND="tests.keyring_backends.HangingKeyring",
        )
        assert candidates(r) == []
        assert elapsed < baseline + 2.0, (elapsed, baseline)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_the_script(shell: str) -> None:
    r = run_cli("--show-completion", shell)
    assert r.code == 0 and r.stderr == "", r.output
    assert f"_PCC_ENV_COMPLETE=complete_{shell}" in r.stdout and "pcc-env" in r.stdout
    if shell == "bash":
        assert "complete -o default -F _pcc_env_completion pcc-env" in r.stdout
        # It is valid bash.
        check = subprocess.run(["bash", "-n"], input=r.stdout, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_show_completion_refuses_other_shells() -> None:
    r = run_cli("--show-completion", "tcsh")
    assert r.code == 2 and r.stdout == ""
    assert "available for bash, zsh, fish, not 'tcsh'" in r.stderr


def test_install_completion_writes_the_script(tmp_path: Path) -> None:
    r = run_cli("--install-completion", "bash", env={"HOME": str(tmp_path)})
    assert r.code == 0, r.output
    script = tmp_path / ".bash_completions" / "pcc-env.sh"
    assert "_PCC_ENV_COMPLETE=complete_bash" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    r = run_cli("--install-completion", "fish", env={"HOME": str(tmp_path)})
    assert r.code == 0, r.output
    fish = tmp_path / ".config" / "fish" / "completions" / "pcc-env.fish"
    assert "_PCC_ENV_COMPLETE=complete_fish" in fish.read_text()


def test_help_lists_the_completion_options_and_stays_short() -> None:
    r = run_cli("--help")
    assert r.code == 0
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout
    assert len(r.stdout.splitlines()) < 40


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.timeout(60)
def test_tab_in_a_real_bash_completes_set_names(
    emulator: EmulatorServer, sets: Canaries, tmp_path: Path
) -> None:
    """bash on a pseudo-terminal, the script from --show-completion sourced, Tab pressed."""
    import pty

    script = tmp_path / "pcc-env.bash"
    script.write_text(run_cli("--show-completion", "bash").stdout)
    env = cli_env(
        {
            **emulator.env(),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "PATH": str(Path(PCC_ENV).parent) + os.pathsep + os.environ["PATH"],
            "PS1": "$ ",
            "INPUTRC": str(tmp_path / "inputrc"),
            "HOME": str(tmp_path),
            "TERM": "dumb",
        }
    )
    (tmp_path / "inputrc").write_text("set show-all-if-ambiguous on\nset bell-style none\n")
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes bash
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)

    def read_until(marker: str, timeout: float = 20) -> str:
        seen = b""
        deadline = time.monotonic() + timeout
        while marker.encode() not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        return seen.decode(errors="replace")

    try:
        os.write(fd, f"source {script}; echo sourced\n".encode())
        read_until("sourced\r\n$ ")
        os.write(fd, b"pcc-env secrets list \t")
        shown = read_until("pull-creds")
        assert "alpha-set" in shown and "beta-set" in shown and "pull-creds" in shown, shown
        os.write(fd, b"\x15pcc-env secrets image-pull-secret pu\t")
        shown = read_until("pull-creds ")
        assert "pull-creds " in shown, shown
    finally:
        os.write(fd, b"\x15exit\n")
        os.close(fd)
        os.waitpid(pid, 0)
