"""What an emulated agent "prints" (pure): the lines ``GET /agents/{name}/logs`` answers.

No code runs on the emulator, so each deployment prints what can be known of it: that it
started, the image, and the names of the env vars its secret set gave it (never a value; a
revision marker key, when the set has one, is one of those names), then that it is up, or that
it exited during start-up when the deployment fails. A line appears once its time has come.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pcc_env.emulator.agents import iso
from pcc_env.emulator.builds import ENTRY
from pcc_env.emulator.store import DEPLOYMENT_FAILED_MESSAGE, DeploymentRow
from pcc_env.rules import escape_text


@dataclass(frozen=True)
class LogLine:
    log: str
    at: float
    deployment_id: str

    def dump(self) -> dict[str, str]:
        return {"log": self.log, "timestamp": iso(self.at), "deploymentId": self.deployment_id}


def deployment_lines(
    row: DeploymentRow, env_names: Mapping[str, Sequence[str]], now: float
) -> list[LogLine]:
    """The lines deployment ``row`` has printed by ``now``, oldest first."""
    at, ready = row.created_at, row.ready_at
    image = row.spec.get("image")
    lines = [
        LogLine(
            f"INFO:     pcc-env emulator: deployment {row.id} starting "
            f"(image {escape_text(str(image)) if image else 'unknown'}; nothing runs here)",
            at,
            row.id,
        )
    ]
    names = sorted({name for keys in env_names.values() for name in keys})
    for set_name, keys in sorted(env_names.items()):
        shown = ", ".join(escape_text(k) for k in keys) or "(none)"
        lines.append(
            LogLine(f"INFO:     env from secret set '{escape_text(set_name)}': {shown}", at, row.id)
        )
    lines.append(
        LogLine(f"INFO:     environment variables given: {len(names)} (names only)", at, row.id)
    )
    if now >= ready:
        if row.fail and row.startup_error:
            lines.append(LogLine(f"ERROR:    {row.startup_error}", ready, row.id))
            lines.append(
                LogLine(
                    f"ERROR:    (emulated: {ENTRY} imports it and the image's Dockerfile does not "
                    "copy it)",
                    ready,
                    row.id,
                )
            )
        elif row.fail:
            lines.append(LogLine(f"ERROR:    {DEPLOYMENT_FAILED_MESSAGE}", ready, row.id))
        else:
            lines.append(LogLine("INFO:     Application startup complete.", ready, row.id))
    return lines
