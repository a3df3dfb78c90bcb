"""`make bench`: run every benchmark script here and write benchmarks/RESULTS.md.

Each script prints its own figures beside its target; this collects them with the command that
produced them and the machine they ran on.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "startup.py",
    "emulator_throughput.py",
    "cli_vs_pipecat.py",
    "push.py",
    "watch_latency.py",
    "redeploy.py",
]


def main() -> None:
    sections = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.date.today()}: {platform.platform()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
    ]
    failed = False
    for name in SCRIPTS + sorted(
        p.name for p in HERE.glob("*.py") if p.name not in {*SCRIPTS, "run_all.py", "_common.py"}
    ):
        command = f".venv/bin/python benchmarks/{name}"
        print(f"$ {command}", flush=True)
        proc = subprocess.run([sys.executable, str(HERE / name)], capture_output=True, text=True)
        output = (proc.stdout + (proc.stderr if proc.returncode else "")).strip()
        print(output, flush=True)
        failed |= proc.returncode != 0
        sections += [f"## {name}", "", f"`{command}`", "", "```", output, "```", ""]
    (HERE / "RESULTS.md").write_text("\n".join(sections))
    print(f"wrote {HERE / 'RESULTS.md'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
