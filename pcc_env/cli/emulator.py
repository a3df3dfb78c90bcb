"""``pcc-env emulator``: serve the local Pipecat Cloud API emulator in the foreground."""

from __future__ import annotations

import errno
import secrets as _secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pcc_env.cli.output import echo, err, info

if TYPE_CHECKING:
    from pcc_env.emulator import EmulatorConfig


def default_db_path() -> Path:
    from pcc_env.sync import private_dir, user_data_dir

    return private_dir(user_data_dir()) / "emulator.sqlite3"


def behaviour(config: EmulatorConfig) -> str:
    """The options that shape answers, for the start banner: what a user sees is what is on."""
    parts = [f"sets ready after {config.provision_delay:g} s"]
    if config.fail_sets:
        parts.append(f"provisioning fails for {', '.join(config.fail_sets)}")
    parts.append(f"deployments ready after {config.deploy_delay:g} s")
    if config.fail_agents:
        parts.append(f"deployments fail for {', '.join(config.fail_agents)}")
    parts.append(f"latency {config.latency_ms:g} ms" if config.latency_ms else "no added latency")
    if config.fault_rate:
        seed = f", seed {config.fault_seed}" if config.fault_seed is not None else ""
        parts.append(f"faults on {config.fault_rate:.0%} of writes{seed}")
    else:
        parts.append("no faults")
    if config.log_requests:
        parts.append("logging requests")
    return "; ".join(parts) + "."


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
    log_requests: Annotated[
        bool,
        typer.Option(
            "--log-requests", help="Print one line per request: method, path, status, ms."
        ),
    ] = False,
) -> None:
    """Serve a local emulator of the Pipecat Cloud API: secrets and agents (both API surfaces)."""
    from pcc_env.cli import interrupts
    from pcc_env.emulator import EmulatorConfig, EmulatorServer

    # From here Ctrl-C is Python's (exit 130) until serve_forever takes it over; a deferred one
    # would be lost when the server installs its own handler.
    interrupts.release()

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
        remember_token=generated,
        log_requests=log_requests,
    )
    try:
        server = EmulatorServer(config, host=host, port=port)
    except OSError as exc:
        err(f"Cannot listen on {host}:{port}: {exc.strerror or exc}")
        if exc.errno == errno.EADDRINUSE:
            info(
                "Another program uses that port: choose another with --port, or --port 0 for a "
                "free one."
            )
        raise typer.Exit(1) from None
    token = server.token
    echo(f"pcc-env emulator listening on {server.api_host} (database: {db_path})")
    if generated and db_path == ":memory:":
        echo("Generated a token for this run (set PCC_ENV_EMULATOR_TOKEN to choose one).")
    elif generated:
        echo(
            "The token is kept in the database, so these lines stay valid after a restart "
            "(set PCC_ENV_EMULATOR_TOKEN to choose one)."
        )
    echo("Behaviour: " + behaviour(config))
    echo("Point pcc-env at it:")
    echo(f"  export PIPECAT_API_HOST={server.api_host}")
    echo(f"  export PIPECAT_API_KEY={token}")
    echo("Point the pipecat CLI at it:")
    echo(f"  export PIPECAT_API_HOST={server.api_host}")
    echo(f"  export PIPECAT_TOKEN={token}")
    echo(f"  export PIPECAT_ORG={org}")
    server.serve_forever(on_serving=lambda: echo("Press Ctrl-C to stop.", flush=True))
