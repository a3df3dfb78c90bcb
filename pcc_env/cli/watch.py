"""``pcc-env watch``: push .env changes to the set while you develop."""

from __future__ import annotations

import signal
import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer

from pcc_env.cli.common import (
    AllowReservedFlag,
    ApiHost,
    DeployFileOption,
    EnvFileArgument,
    NoInterpolateFlag,
    RegionOption,
    SetOption,
    SkipEmptyFlag,
    TargetOption,
    TimeoutOption,
    YesFlag,
    confirm_or_exit,
    make_client,
)
from pcc_env.cli.output import echo, handle_errors, info
from pcc_env.cli.workflow import resolve_target
from pcc_env.errors import ConfigError

if TYPE_CHECKING:
    from pcc_env.watch import SyncEvent


def format_event(event: SyncEvent) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    if event.kind == "synced":
        parts = [f"+{k}" for k in event.added] + [f"~{k}" for k in event.changed]
        parts += [f"-{k}" for k in event.removed]
        what = " ".join(parts) or "no key changes"
        latency = f" in {event.latency * 1000:.0f} ms" if event.latency is not None else ""
        label = "initial sync" if event.initial else "synced"
        line = f"{stamp} {label}: {what}, ready{latency}"
        if event.kept:
            line += f" (kept on the remote: {', '.join(event.kept)})"
        return line
    if event.kind == "unchanged":
        return f"{stamp} saved without changes: nothing sent"
    if event.kind == "skipped":
        return f"{stamp} not synced: {event.message}"
    return f"{stamp} sync failed: {event.message}"


@handle_errors
def watch(
    env_file: EnvFileArgument = None,
    set_name: SetOption = None,
    region: RegionOption = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete remote keys removed from the file.")
    ] = False,
    debounce_ms: Annotated[
        int,
        typer.Option(
            "--debounce-ms",
            min=10,
            max=10_000,
            help="Milliseconds the content must stay unchanged before a push.",
        ),
    ] = 100,
    debounce: Annotated[  # the old name, kept working
        int | None, typer.Option("--debounce", min=10, max=10_000, hidden=True)
    ] = None,
    yes: YesFlag = False,
    skip_empty: SkipEmptyFlag = False,
    no_interpolate: NoInterpolateFlag = False,
    timeout: TimeoutOption = 60.0,
    target: TargetOption = None,
    allow_reserved: AllowReservedFlag = False,
    deploy_file: DeployFileOption = None,
    api_host: ApiHost = None,
) -> None:
    """Push a .env file to a secret set now and again on every change, until Ctrl-C.

    Exits 0 when stopped, or 1 when every sync it tried failed.
    """
    from pcc_env.sync import PushState
    from pcc_env.watch import EnvWatcher

    chosen = resolve_target(set_name, region, deploy_file, target=target, env_file=env_file)
    if len(chosen.env_files) != 1:
        files = ", ".join(map(str, chosen.env_files))
        raise ConfigError(
            f"target '{chosen.name}' merges {len(chosen.env_files)} env files ({files}); watch "
            "follows one file: use 'pcc-env push --target' for merged files"
        )
    path = chosen.env_files[0].resolve()
    state = PushState()
    state.check_writable()  # before the first sync: exit 2 with nothing sent
    if prune:
        confirm_or_exit(
            f"Watch with --prune deletes keys removed from {path.name} from '{chosen.set_name}'.",
            yes,
        )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():  # second Ctrl-C: abandon the request in flight
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with make_client(api_host) as client:
            watcher = EnvWatcher(
                client,
                path,
                chosen.set_name,
                region=chosen.region,
                prune=prune,
                debounce=(debounce if debounce is not None else debounce_ms) / 1000,
                interpolate=not no_interpolate,
                skip_empty=skip_empty,
                wait_timeout=timeout,
                report=lambda event: echo(format_event(event), flush=True),
                state=state,
                allow_reserved=allow_reserved,
            )
            info(f"Watching {path} for secret set '{chosen.set_name}' (Ctrl-C to stop).")
            summary = watcher.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    echo(
        f"Stopped. {summary.synced} sync(s), {summary.unchanged} unchanged save(s), "
        f"{summary.skipped} skipped, {summary.failed} failure(s), "
        f"{summary.write_requests} write request(s).",
        flush=True,
    )
    if summary.synced:
        info(f"Agents using '{chosen.set_name}' must be redeployed to see the new values.")
    elif summary.failed:  # every sync tried failed: nothing reached the set
        raise typer.Exit(1)
