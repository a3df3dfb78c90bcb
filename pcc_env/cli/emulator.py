"""``pcc-env emulator``: serve the local Pipecat Cloud API emulator in the foreground."""

from __future__ import annotations

import errno
import secrets as _secrets
from pathlib import Path
from typing import Annotated

import typer

from pcc_env.cli.output import echo, fail, json_errors, print_json_line


def default_db_path() -> Path:
    from pcc_env.sync import private_dir, user_data_dir

    return private_dir(user_data_dir()) / "emulator.sqlite3"


def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8787,
    db: Annotated[
        str | None,
        typer.Option(help="SQLite file (':memory:' keeps nothing). Default: in the user data dir."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PCC_ENV_EMULATOR_TOKEN",
            help="Bearer token clients must send. Generated and printed when absent.",
        ),
    ] = None,
    org: Annotated[
        str, typer.Option(help="Organization name of the org-scoped surface.")
    ] = "local",
    provision_delay: Annotated[
        float, typer.Option(min=0, help="Seconds a written set stays 'pending'.")
    ] = 0.5,
    fail_set: Annotated[
        list[str] | None,
        typer.Option(help="Glob of set names whose provisioning fails (repeatable)."),
    ] = None,
    deploy_delay: Annotated[
        float,
        typer.Option(min=0, help="Seconds a new agent deployment takes to become ready."),
    ] = 1.0,
    fail_agent: Annotated[
        list[str] | None,
        typer.Option(help="Glob of agent names whose deployments fail (repeatable)."),
    ] = None,
    latency_ms: Annotated[
        float, typer.Option(min=0, help="Delay added to every API response, in ms.")
    ] = 0.0,
    fault_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fraction of writes that fail: 500, 409, or a dropped connection.",
        ),
    ] = 0.0,
    fault_seed: Annotated[int | None, typer.Option(help="Seed of the fault dice.")] = None,
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Instead of the banner, print one JSON line once listening: address, "
            "database, and the env vars for pcc-env and the pipecat CLI (token included).",
        ),
    ] = False,
) -> None:
    """Serve a local emulator of the Pipecat Cloud API: secrets and agents (both API surfaces)."""
    from pcc_env.emulator import EmulatorConfig, EmulatorServer

    json_errors(json)
    generated = token is None
    token = token or "pcc-emu-" + _secrets.token_urlsafe(18)
    db_path = db or str(default_db_path())
    config = EmulatorConfig(
        token=token,
        org=org,
        db=db_path,
        provision_delay=provision_delay,
        fail_sets=tuple(fail_set or ()),
        deploy_delay=deploy_delay,
        fail_agents=tuple(fail_agent or ()),
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        fault_seed=fault_seed,
    )
    try:
        server = EmulatorServer(config, host=host, port=port)
    except OSError as exc:
        hint = None
        if exc.errno == errno.EADDRINUSE:
            hint = (
                "Another program uses that port: choose another with --port, or --port 0 for a "
                "free one."
            )
        raise fail(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}", kind="ListenError", hint=hint
        ) from None
    if json:
        # The token is printed on purpose (as in the banner): it is this emulator's, not a key.
        print_json_line(
            {
                "event": "listening",
                "apiHost": server.api_host,
                "port": server.port,
                "db": db_path,
                "org": org,
                "tokenGenerated": generated,
                "env": server.env(),
            }
        )
        server.serve_forever()
        return
    echo(f"pcc-env emulator listening on {server.api_host} (database: {db_path})")
    if generated:
        echo("Generated a token for this run (set PCC_ENV_EMULATOR_TOKEN to choose one).")
    echo("Point pcc-env at it:")
    echo(f"  export PIPECAT_API_HOST={server.api_host}")
    echo(f"  export PIPECAT_API_KEY={token}")
    echo("Point the pipecat CLI at it:")
    echo(f"  export PIPECAT_API_HOST={server.api_host}")
    echo(f"  export PIPECAT_TOKEN={token}")
    echo(f"  export PIPECAT_ORG={org}")
    echo("Press Ctrl-C to stop.", flush=True)
    server.serve_forever()
