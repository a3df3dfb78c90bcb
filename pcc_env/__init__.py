"""pcc-env: typed, leak-safe secrets for Pipecat Cloud agents."""

from __future__ import annotations

__all__: list[str] = []
