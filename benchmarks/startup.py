"""Bot start-up cost: a whole process loading a 20-field model via pcc-env vs bare pydantic-settings.

    .venv/bin/python benchmarks/startup.py [--runs 40]

Each run is a fresh interpreter (`python -c ...`) that imports, defines a 20-field settings
model and loads it from 20 environment variables; the anchor does the same with
pydantic_settings.BaseSettings and the same config. Runs alternate; reported: median wall time of
each and the median of per-pair ratios. Target (issue 4): ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

FIELDS = 20

_FIELDS_SRC = "".join(f"    secret_{i:02d}: SecretStr\n" for i in range(FIELDS))

PCC_ENV = f"""
from pydantic import SecretStr
from pcc_env import SecretSettings, load_settings
class Settings(SecretSettings):
{_FIELDS_SRC}
settings = load_settings(Settings)
assert settings.secret_00.get_secret_value() == "value-00"
"""

ANCHOR = f"""
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="ignore", hide_input_in_errors=True, case_sensitive=False,
        env_file=".env", env_file_encoding="utf-8",
    )
{_FIELDS_SRC}
settings = Settings()
assert settings.secret_00.get_secret_value() == "value-00"
"""


def run(code: str, env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    env = {**os.environ, **{f"SECRET_{i:02d}": f"value-{i:02d}" for i in range(FIELDS)}}
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(3):  # warm the OS file cache and .pyc files
            run(PCC_ENV, env, cwd)
            run(ANCHOR, env, cwd)
        ours, anchor, ratios = [], [], []
        for i in range(args.runs):
            if i % 2:
                a, o = run(ANCHOR, env, cwd), run(PCC_ENV, env, cwd)
            else:
                o, a = run(PCC_ENV, env, cwd), run(ANCHOR, env, cwd)
            ours.append(o)
            anchor.append(a)
            ratios.append(o / a)
    ratio = statistics.median(ratios)
    print(f"{FIELDS}-field model, {args.runs} alternating process pairs")
    print(f"pcc-env load_settings:      median {statistics.median(ours) * 1000:.1f} ms")
    print(f"bare pydantic-settings:     median {statistics.median(anchor) * 1000:.1f} ms")
    print(f"median ratio pcc-env/anchor: {ratio:.3f} (target <= 1.05)")
    print("RESULT:", "target met" if ratio <= 1.05 else "target NOT met")


if __name__ == "__main__":
    main()
