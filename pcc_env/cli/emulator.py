"""``pcc-env emulator``: serve the local Pipecat Cloud API emulator in the foreground."""

from __future__ import annotations

import errno
import secrets as _secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pcc_env.cli.output import echo, fail, handle_errors, print_json_line

if TYPE_CHECKING:
    from pcc_env.emulator import EmulatorConfig, EmulatorServer


def listening(server: EmulatorServer, config: EmulatorConfig) -> dict[str, Any]:
    """``emulator --json``: the one line printed once it serves. The token is in it on purpose,
    as in the banner: it is this emulator's, not a Pipecat Cloud key."""
    return {
        "event": "listening",
        "apiHost": server.api_host,
        "port": server.port,
        "db": config.db,
        "org": config.org,
        "tokenGenerated": config.remember_token,
        "tokenKept": config.remember_token and config.db != ":memory:",
        "options": {
            "provisionDelay": config.provision_delay,
            "failSets": list(config.fail_sets),
            "deployDelay": config.deploy_delay,
            "failAgents": list(config.fail_agents),
            "buildDelay": config.build_delay,
            "latencyMs": config.latency_ms,
            "faultRate": config.fault_rate,
            "faultSeed": config.fault_seed,
            "logRequests": config.log_requests,
        },
        "env": server.env(),
    }


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
    parts.append(f"Cloud Builds take {config.build_delay:g} s")
    parts.append(f"latency {config.latency_ms:g} ms" if config.latency_ms else "no added latency")
    if config.fault_rate:
        seed = f", seed {config.fault_seed}" if config.fault_seed is not None else ""
        parts.append(f"faults on {config.fault_rate:.0%} of writes{seed}")
    else:
        parts.append("no faults")
    if config.log_requests:
        parts.append("logging requests")
    return "; ".join(parts) + "."


@handle_errors  # also ends the start-up Ctrl-C deferral before the server takes Ctrl-C over
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
    build_delay: Annotated[
        float,
        typer.Option(min=0, help="Seconds a Cloud Build takes (pipecat cloud deploy, no image)."),
    ] = 1.0,
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
    json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Instead of the banner, print one JSON line once listening: address, "
            "database, options, and the env vars for pcc-env and the pipecat CLI.",
        ),
    ] = False,
) -> None:
    """Serve a local emulator of the Pipecat Cloud API: secrets and agents (both API surfaces)."""
    from pcc_env.emulator import EmulatorConfig, EmulatorServer

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
        build_delay=build_delay,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        fault_seed=fault_seed,
        remember_token=generated,
        log_requests=log_requests,
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
    token = server.token
    if json:
        server.serve_forever(on_serving=lambda: print_json_line(listening(server, config)))
        return
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
