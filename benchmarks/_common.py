"""Shared helpers for the benchmarks: start a real `pcc-env emulator` process, time things."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcc_env.emulator.server import client_env

BIN = Path(sys.executable).parent


@dataclass
class Emulator:
    api_host: str
    token: str
    org: str

    def env(self) -> dict[str, str]:
        return client_env(self.api_host, self.token, self.org)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(
            self.api_host + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "/_emulator/stats")  # type: ignore[no-any-return]

    def reset(self) -> None:
        self.call("POST", "/_emulator/reset")


@contextlib.contextmanager
def emulator_process(*args: str) -> Iterator[Emulator]:
    """`pcc-env emulator --port 0 --db :memory:` as a separate process, as a user runs it."""
    token = "bench-" + secrets.token_hex(8)
    proc = subprocess.Popen(
        [str(BIN / "pcc-env"), "emulator", "--port", "0", "--db", ":memory:", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PCC_ENV_EMULATOR_TOKEN": token},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"listening on (\S+)", first)
    if not match:
        proc.kill()
        raise RuntimeError(f"emulator did not start: {first!r}")
    try:
        yield Emulator(match.group(1), token, "local")
    finally:
        proc.terminate()
        proc.wait(10)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def percentile(xs: list[float], p: float) -> float:
    ordered = sorted(xs)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
