"""``pcc-env watch``: push .env changes to the set while you develop."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from pcc_env.cli.deploy import RedeployAfterTimeoutOption, RedeployFlag, progress_line
from pcc_env.cli.output import echo, handle_errors, info, print_json_line
from pcc_env.cli.project import OptionalKeys, resolve_targets
from pcc_env.rules import ORG_API_KEY_NOTE, escape_text

if TYPE_CHECKING:
    from pcc_env.client import SecretsClient
    from pcc_env.redeploy import Progress, Redeployer
    from pcc_env.watch import SyncEvent, WatchSummary


def _files(paths: Sequence[Path]) -> str:
    return ", ".join(escape_text(str(p)) for p in paths)


def _sets(names: Sequence[str]) -> str:
    quoted = ", ".join(f"'{n}'" for n in names)
    return f"secret set {quoted}" if len(names) == 1 else f"secret sets {quoted}"


def format_event(event: SyncEvent, *, with_set: bool = False) -> str:
    """One line per event; ``with_set`` (a target with several sets) names the event's set."""
    line = _format_event(event)
    if with_set and event.set_name is not None:
        stamp, _, rest = line.partition(" ")
        return f"{stamp} '{event.set_name}' {rest}"
    return line


def _withheld(event: SyncEvent) -> str:
    if not event.withheld:
        return ""
    return f" ({', '.join(event.withheld)}: {ORG_API_KEY_NOTE})"


def _format_event(event: SyncEvent) -> str:
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
        return line + _withheld(event)
    if event.kind == "unchanged":
        if event.initial:
            return f"{stamp} initial sync: nothing to push, {event.message}" + _withheld(event)
        return f"{stamp} saved without changes: nothing sent"
    if event.kind == "skipped":
        return f"{stamp} not synced: {event.message}"
    return f"{stamp} sync failed: {event.message}"


def iso_time(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at).astimezone().isoformat()


def event_json(event: SyncEvent) -> dict[str, Any]:
    """One NDJSON line of ``watch --json``: what ``format_event`` says, as data."""
    return {
        "event": event.kind,
        "at": iso_time(event.at),
        "initial": event.initial,
        "added": event.added,
        "changed": event.changed,
        "removed": event.removed,
        "kept": event.kept,
        "withheld": event.withheld,
        "latencyMs": round(event.latency * 1000, 1) if event.latency is not None else None,
        "message": event.message,
        "set": event.set_name,
    }


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
    redeploy: RedeployFlag = False,
    redeploy_timeout: RedeployAfterTimeoutOption = 300.0,
    json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object per line per event (NDJSON)."),
    ] = False,
) -> None:
    """Push a .env file to a secret set now and again on every change, until Ctrl-C.

    A target (--target) is followed whole: every one of its env files (merged as push merges
    them) and every one of its sets (each region), each set with its own push. Exits 0 when
    stopped, or 1 when every sync it tried failed.
    """
    from pcc_env.cli.deploy import stale_hint
    from pcc_env.sync import PushState
    from pcc_env.watch import EnvWatcher

    (chosen,) = resolve_targets(
        target, set_name=set_name, region=region, deploy_file=deploy_file, env_file=env_file
    )
    paths = [p.resolve() for p in chosen.env_files]
    set_names = [s.set_name for s in chosen.sets]
    state = PushState()
    state.check_writable()  # before the first sync: exit 2 with nothing sent
    if prune:
        confirm_or_exit(
            f"Watch with --prune deletes keys removed from {_files(paths)} from "
            f"{_sets(set_names)}.",
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
            agents = AgentsAfterSync(client, set_names, redeploy, redeploy_timeout, json=json)
            watcher = EnvWatcher(
                client,
                paths,
                chosen.sets,
                prune=prune,
                debounce=(debounce if debounce is not None else debounce_ms) / 1000,
                interpolate=not no_interpolate,
                skip_empty=skip_empty,
                wait_timeout=timeout,
                report=agents.report,
                state=state,
                allow_reserved=allow_reserved,
                agent_reads=OptionalKeys(chosen.settings).holds,
            )
            if json:
                first = chosen.sets[0]
                agents.emit(
                    {
                        "event": "watching",
                        "at": iso_time(),
                        "path": str(paths[0]),
                        "set": first.set_name,
                        "region": first.region,
                        "target": chosen.name,
                        "paths": [str(p) for p in paths],
                        "sets": [{"set": s.set_name, "region": s.region} for s in chosen.sets],
                    }
                )
            else:
                info(f"Watching {_files(paths)} for {_sets(set_names)} (Ctrl-C to stop).")
            try:
                summary = watcher.run(stop)
            finally:
                closing = agents.close()
            if json:
                agents.emit({"event": "stopped", "at": iso_time(), **agents.closing_json(summary)})
            else:
                echo(
                    f"Stopped. {summary.synced} sync(s), {summary.unchanged} unchanged save(s), "
                    f"{summary.skipped} skipped, {summary.failed} failure(s), "
                    f"{summary.write_requests} write request(s).",
                    flush=True,
                )
                if closing:
                    echo(closing, flush=True)
                if summary.synced and not redeploy:
                    for name in agents.synced_sets:
                        info(stale_hint(client, name))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not summary.synced and summary.failed:  # every sync tried failed: nothing reached the set
        raise typer.Exit(1)
    if redeploy and agents.failed:
        raise typer.Exit(1)


class AgentsAfterSync:
    """The agents side of ``watch``: after each sync of a set, redeploy the agents that bind it
    (``--redeploy``), or name them as now stale. Lines from the redeploy threads and from the
    watch loop are printed whole, one at a time."""

    def __init__(
        self,
        client: SecretsClient,
        set_names: Sequence[str],
        redeploy: bool,
        timeout: float,
        *,
        json: bool = False,
    ) -> None:
        from pcc_env.redeploy import Redeployer

        self.set_names = list(set_names)
        self.redeploy = redeploy
        self.json = json
        self.synced_sets: list[str] = []  # in the order of their first sync
        self._lock = threading.Lock()
        self.redeployers: dict[str, Redeployer] = {
            name: Redeployer(client, name, timeout=timeout, on_progress=self._progress)
            for name in self.set_names
        }

    def say(self, line: str) -> None:
        with self._lock:
            echo(line, flush=True)

    def emit(self, data: dict[str, Any]) -> None:
        """One NDJSON line (``--json``), whole, one at a time."""
        with self._lock:
            print_json_line(data)

    def _progress(self, p: Progress) -> None:
        if self.json:
            if p.phase != "deploying":
                self.emit(
                    {
                        "event": "redeploy",
                        "at": iso_time(),
                        "agent": p.agent,
                        "phase": p.phase,
                        "deploymentId": p.deployment_id,
                        "seconds": round(p.seconds, 3),
                        "message": p.message,
                    }
                )
            return
        line = progress_line(p)
        if line is not None:
            self.say(f"{time.strftime('%H:%M:%S')} redeploy {line}")

    def report(self, event: SyncEvent) -> None:
        from pcc_env.errors import ApiError

        if self.json:
            self.emit(event_json(event))
        else:
            self.say(format_event(event, with_set=len(self.set_names) > 1))
        if event.kind != "synced" or event.set_name is None:
            return
        set_name = event.set_name
        if set_name not in self.synced_sets:
            self.synced_sets.append(set_name)
        redeployer = self.redeployers[set_name]
        stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
        try:
            names = redeployer.request() if self.redeploy else redeployer.bound()
        except ApiError as exc:
            if self.json:
                self.emit(
                    {
                        "event": "agents-unreadable",
                        "at": iso_time(),
                        "set": set_name,
                        "message": str(exc),
                    }
                )
            else:
                self.say(f"{stamp} cannot list the agents that bind '{set_name}': {exc}")
            return
        if not names:
            return
        if self.json:
            kind = "redeploying" if self.redeploy else "stale"
            self.emit({"event": kind, "at": iso_time(), "set": set_name, "agents": names})
            return
        shown = ", ".join(escape_text(n) for n in names)
        if self.redeploy:
            self.say(f"{stamp} redeploying: {shown}")
        else:
            self.say(f"{stamp} now stale: {shown} (pcc-env redeploy --set {set_name})")

    @property
    def failed(self) -> bool:
        """Some redeploy did not end current (``--redeploy``: watch exits 1)."""
        return any(r.summary.failed > 0 for r in self.redeployers.values())

    def closing_json(self, summary: WatchSummary) -> dict[str, Any]:
        """The counts of the last NDJSON line (after ``close``)."""
        document: dict[str, Any] = {
            "synced": summary.synced,
            "unchanged": summary.unchanged,
            "skipped": summary.skipped,
            "failed": summary.failed,
            "writeRequests": summary.write_requests,
        }
        if self.redeploy:
            done = [r.summary for r in self.redeployers.values()]
            document["redeploys"] = {
                "started": sum(d.started for d in done),
                "current": sum(d.current for d in done),
                "failed": sum(d.failed for d in done),
                "notUpdated": [n for d in done for n in d.not_updated],
            }
        return document

    def close(self) -> str | None:
        """Stop waiting for redeploys (requests in flight finish); a closing line, if any."""
        summaries = {name: r.close() for name, r in self.redeployers.items()}
        if not self.redeploy:
            return None
        done = list(summaries.values())
        line = (
            f"Redeploys: {sum(d.started for d in done)} started, "
            f"{sum(d.current for d in done)} current, {sum(d.failed for d in done)} failed."
        )
        for name, summary in summaries.items():
            if summary.not_updated:
                line += (
                    f" Not yet on the last write: {', '.join(summary.not_updated)} "
                    f"(pcc-env redeploy --set {name})."
                )
        return line
