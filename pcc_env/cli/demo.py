"""``pcc-env demo``: placeholder replaced below."""

from __future__ import annotations


def demo() -> None:
    """Run the whole workflow against an in-process emulator (no account, no network)."""
