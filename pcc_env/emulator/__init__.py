"""A local emulator of the Pipecat Cloud API: secrets, agents, their logs and Cloud Build
(FastAPI + SQLite).

Imports only ``pcc_env.rules`` and ``pcc_env.models`` from the package, so it can be reasoned
about (and tested against) independently of the client it tests.
"""

from pcc_env.emulator.app import EmulatorConfig, create_app
from pcc_env.emulator.server import EmulatorServer

__all__ = ["EmulatorConfig", "EmulatorServer", "create_app"]
