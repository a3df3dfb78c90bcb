"""`pcc-env push --redeploy` against the manual route, for a set bound to 10 agents.

    .venv/bin/python benchmarks/redeploy.py [--runs 2] [--agents 10]

One emulator (`--latency-ms 50 --deploy-delay 1`), a set bound to N agents (plus 2 agents bound
to another set, which must keep their deployment). Each run changes a value, then alternates:

- pcc-env: `pcc-env push ENV --set S --redeploy` (one PUT, then every agent force-redeployed at
  once and waited for);
- manual: `pipecat cloud secrets set S --file ENV --skip`, then `pipecat cloud deploy NAME IMAGE
  --force --yes ...` per agent, one after another, as the deploy page says to.

Reports median wall time, the ratio, and the requests each route sent (from /_emulator/stats), and
checks through `GET /_emulator/agents/{name}` that every bound agent then runs the set's latest
write and that the other agents were not redeployed. Target (issue 12): ratio <= 0.2.
The pipecat CLI comes from .venv-pipecat (`make .venv-pipecat/.installed`) or $PCC_ENV_PIPECAT_CLI.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from _common import BIN, Emulator, emulator_process, median

ROOT = Path(__file__).resolve().parent.parent
PIPECAT = os.environ.get("PCC_ENV_PIPECAT_CLI") or str(ROOT / ".venv-pipecat" / "bin" / "pipecat")
PCC_ENV = str(BIN / "pcc-env")
SET = "bench-redeploy"
OTHER_SET = "bench-other"
IMAGE = "registry.example/bench-bot:1"
REGION = "us-west"


def run(argv: list[str], env: dict[str, str], cwd: str) -> None:
    proc = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv[:4])} failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-800:]}"
        )


def route_requests(emu: Emulator) -> dict[str, int]:
    """Requests by method, the emulator's own instruments left out."""
    counts: dict[str, int] = {}
    for route, n in emu.stats()["requests"].items():
        if "/_emulator" in route:
            continue
        method = route.split()[0]
        counts[method] = counts.get(method, 0) + n
    return counts


def wait_agents_ready(emu: Emulator, names: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            agent = emu.call("GET", f"/v1/agents/{name}")
            if agent.get("ready") and agent.get("reconciledDeploymentId") == agent.get(
                "desiredDeploymentId"
            ):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"agent {name} did not become ready")
            time.sleep(0.1)


def generations(emu: Emulator, name: str) -> dict[str, Any]:
    return emu.call("GET", f"/_emulator/agents/{name}")  # type: ignore[no-any-return]


def set_up(emu: Emulator, env_file: Path, agents: list[str], others: list[str]) -> None:
    pairs = [
        {"secretKey": k, "secretValue": v}
        for k, v in (line.split("=", 1) for line in env_file.read_text().splitlines())
    ]
    for name in (SET, OTHER_SET):
        emu.call("PUT", f"/v1/secrets/{name}", {"secrets": pairs, "region": REGION})
    time.sleep(1.0)  # provisioning (default 0.5 s)
    for name, secret_set in [(a, SET) for a in agents] + [(o, OTHER_SET) for o in others]:
        emu.call(
            "POST",
            "/v1/agents",
            {"serviceName": name, "image": IMAGE, "secretSet": secret_set, "region": REGION},
        )
    wait_agents_ready(emu, agents + others)


def check_after(
    emu: Emulator, agents: list[str], others: list[str], other_ids: dict[str, str], label: str
) -> None:
    for name in agents:
        g = generations(emu, name)
        sets = g["sets"].values()
        if not (g["ready"] and sets and all(s["deployed"] == s["current"] for s in sets)):
            raise SystemExit(f"{label}: agent {name} does not run the latest write: {g}")
    for name in others:
        if emu.call("GET", f"/v1/agents/{name}")["desiredDeploymentId"] != other_ids[name]:
            raise SystemExit(f"{label}: agent {name}, bound to another set, was redeployed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--agents", type=int, default=10)
    args = parser.parse_args()
    if not os.access(PIPECAT, os.X_OK):
        raise SystemExit(
            f"pipecat CLI not found at {PIPECAT}: run 'make .venv-pipecat/.installed' "
            "(or set PCC_ENV_PIPECAT_CLI)"
        )
    agents = [f"bench-agent-{i:02d}" for i in range(args.agents)]
    others = ["bench-other-0", "bench-other-1"]
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator_process("--latency-ms", "50", "--deploy-delay", "1") as emu,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPECAT_", "PCC_ENV_"))}
        env.update(emu.env())
        env.update(
            {
                "HOME": tmp,
                "NO_COLOR": "1",
                "PCC_ENV_DATA_DIR": tmp + "/state",
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            }
        )
        env_file = Path(tmp) / ".env"
        env_file.write_text("".join(f"KEY_{i:02d}=value-0-{i}\n" for i in range(20)))
        set_up(emu, env_file, agents, others)
        other_ids = {o: emu.call("GET", f"/v1/agents/{o}")["desiredDeploymentId"] for o in others}

        ours: list[float] = []
        theirs: list[float] = []
        our_reqs: dict[str, int] = {}
        their_reqs: dict[str, int] = {}
        for run_no in range(args.runs):
            for route in ("pcc-env", "manual"):
                value = f"{route}-{run_no}"
                env_file.write_text("".join(f"KEY_{i:02d}=value-{value}-{i}\n" for i in range(20)))
                emu.reset()
                started = time.perf_counter()
                if route == "pcc-env":
                    run([PCC_ENV, "push", str(env_file), "--set", SET, "--redeploy"], env, tmp)
                else:
                    run(
                        [
                            PIPECAT,
                            "cloud",
                            "secrets",
                            "set",
                            SET,
                            "--file",
                            str(env_file),
                            "--skip",
                        ],
                        env,
                        tmp,
                    )
                    for name in agents:
                        run(
                            [
                                PIPECAT,
                                "cloud",
                                "deploy",
                                name,
                                IMAGE,
                                "--secrets",
                                SET,
                                "--region",
                                REGION,
                                "--force",
                                "--yes",
                            ],
                            env,
                            tmp,
                        )
                elapsed = time.perf_counter() - started
                requests = route_requests(emu)
                check_after(emu, agents, others, other_ids, route)
                if route == "pcc-env":
                    ours.append(elapsed)
                    our_reqs = requests
                else:
                    theirs.append(elapsed)
                    their_reqs = requests

    ratio = median(ours) / median(theirs)
    print(
        f"set bound to {args.agents} agents (+{len(others)} on another set), emulator "
        f"--latency-ms 50 --deploy-delay 1, {args.runs} alternating runs"
    )
    print(
        f"pcc-env push --redeploy:                        median {median(ours):.2f}s, "
        f"requests {our_reqs} ({sum(our_reqs.values())} in all)"
    )
    print(
        f"pipecat secrets set --file + {args.agents} x deploy --force: median {median(theirs):.2f}s, "
        f"requests {their_reqs} ({sum(their_reqs.values())} in all)"
    )
    print("every bound agent runs the latest write after each route; others kept their deployment")
    print(f"wall-time ratio pcc-env/manual: {ratio:.3f} (target <= 0.2)")
    print("RESULT:", "target met" if ratio <= 0.2 else "target NOT met")


if __name__ == "__main__":
    main()
