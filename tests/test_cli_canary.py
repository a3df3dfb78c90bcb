"""Canary: every secrets/auth command, succeeding and failing, with values that are unique
markers. The markers must never appear in stdout, stderr, or any process's argv."""

from __future__ import annotations

import secrets
from pathlib import Path

from pcc_env.testing import run_emulator
from tests.cli_helpers import Result, run_cli


def test_no_value_ever_reaches_output(tmp_path: Path) -> None:
    canaries = [f"CANARY-{secrets.token_hex(6)}" for _ in range(8)]
    results: list[Result] = []
    with run_emulator(provision_delay=0.05, fail_sets=["doomed-*"]) as emu:
        env = {"PIPECAT_API_HOST": emu.api_host, "PIPECAT_API_KEY": emu.token}

        def cli(*args: str, stdin: str | None = None, **extra: str) -> Result:
            r = run_cli(*args, env={**env, **extra}, stdin=stdin)
            results.append(r)
            return r

        good = tmp_path / "good.env"
        good.write_text(f"A={canaries[0]}\nB='{canaries[1]}'\n")
        bad = tmp_path / "bad.env"
        bad.write_text(
            f"BAD.KEY={canaries[2]}\nbroken line {canaries[3]}\nEMPTY=\nI=${{HOME}}{canaries[4]}\n"
        )
        assert cli("secrets", "set", "canary-set", "--file", str(good)).code == 0
        bare_key = cli("secrets", "set", "canary-set", "C", "--stdin", stdin=canaries[5] + "\n")
        assert bare_key.code == 0
        assert cli("secrets", "set", "canary-set", "--file", str(bad)).code == 2
        assert cli("secrets", "set", "doomed-set", "--file", str(good)).code == 1
        assert (
            cli("secrets", "set", "canary-set", "--file", str(good), "--region", "eu-central").code
            == 1
        )
        assert (
            cli(
                "secrets", "set", "canary-set", "--file", str(good), PIPECAT_API_KEY=canaries[6]
            ).code
            == 1
        )
        assert cli("secrets", "list").code == 0
        assert cli("secrets", "list", "--json").code == 0
        assert cli("secrets", "list", "canary-set").code == 0
        assert cli("secrets", "list", "canary-set", "--json").code == 0
        assert cli("secrets", "wait", "canary-set").code == 0
        assert (
            cli(
                "secrets", "image-pull-secret", "pull-set", "ghcr.io", stdin=f"u:{canaries[7]}\n"
            ).code
            == 0
        )
        assert cli("whoami").code == 0
        assert cli("whoami", PIPECAT_API_KEY=canaries[6]).code == 1
        assert cli("login", "--stdin", stdin=canaries[6]).code == 1
        assert cli("secrets", "unset", "canary-set", "A", "--yes").code == 0
        assert cli("secrets", "delete", "canary-set", "--yes").code == 0
        assert emu.check_value("doomed-set", "A", canaries[0])  # the values did travel
    for r in results:
        for canary in canaries:
            assert canary not in r.stdout, (r.argv, "stdout")
            assert canary not in r.stderr, (r.argv, "stderr")
            assert all(canary not in arg for arg in r.argv)
