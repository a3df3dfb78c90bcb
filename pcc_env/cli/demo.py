"""``pcc-env demo``: the workflow end to end on an in-process emulator. No account, no network."""

from __future__ import annotations

import secrets as _secrets
import tempfile
from pathlib import Path

from pcc_env.cli.output import echo, handle_errors

DEMO_SET = "demo-bot-secrets"


def step(number: int, title: str) -> None:
    echo(f"\n[{number}] {title}")


@handle_errors
def demo() -> None:
    """Run the whole workflow against an in-process emulator (no account, no network)."""
    from pcc_env.client import SecretsClient
    from pcc_env.testing import run_emulator

    workdir = Path(tempfile.mkdtemp(prefix="pcc-env-demo-"))
    echo(f"pcc-env demo — working in {workdir}")
    with run_emulator(db=str(workdir / "emulator.sqlite3"), provision_delay=0.3) as emu:
        step(1, "Start a local emulator of the Pipecat Cloud secrets API")
        echo(f"    listening on {emu.api_host} (database in {workdir})")

        with SecretsClient(api_key=emu.token, api_host=emu.api_host) as client:
            step(2, f"Create the secret set '{DEMO_SET}' with two keys (one PUT)")
            values = {
                "OPENAI_API_KEY": "sk-demo-" + _secrets.token_hex(8),
                "DAILY_API_KEY": "demo-" + _secrets.token_hex(8),
            }
            resp = client.put_secrets(DEMO_SET, values)
            echo(f"    accepted (202) in {resp.region}; keys: {', '.join(values)}")

            step(3, "Wait until it is provisioned")
            polls: list[str] = []
            status = client.wait_ready(DEMO_SET, on_poll=lambda s: polls.append(s.status))
            echo(f"    status: {' -> '.join(dict.fromkeys(polls))} ({len(polls)} polls)")

            step(4, "List the set: keys only, the API never returns values")
            detail = client.get_set(DEMO_SET)
            for key in detail.keys:
                echo(f"    {key}")
            echo(f"    region {status.region}, status {detail.status}")

            step(5, "Prove the values arrived without reading them back")
            for key, value in values.items():
                ok = emu.check_value(DEMO_SET, key, value)
                echo(f"    {key}: {'matches' if ok else 'DOES NOT MATCH'} the stored digest")

        counts = emu.stats()["requests"]
        step(6, "Requests the emulator served")
        for route, n in counts.items():
            echo(f"    {n:3d}  {route}")

    echo(f"\nDone. The emulator is stopped; only {workdir} is left behind.")
