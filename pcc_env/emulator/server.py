"""Serve the emulator with uvicorn: in a background thread (tests, demo) or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn

from pcc_env.emulator import agents
from pcc_env.emulator.app import Emulator, EmulatorConfig, create_app
from pcc_env.emulator.store import IMAGE_PULL_KEY


def client_env(api_host: str, token: str, org: str) -> dict[str, str]:
    """Environment variables that point pcc-env and the ``pipecat`` CLI at an emulator."""
    return {
        "PIPECAT_API_HOST": api_host,
        "PIPECAT_API_KEY": token,
        "PIPECAT_TOKEN": token,
        "PIPECAT_ORG": org,
    }


class _QuietDrops(logging.Filter):
    """Emulated connection drops are intended; don't log them as server errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


class _PromptServer(uvicorn.Server):
    """uvicorn, stopping as soon as it is asked: its main loop polls ``should_exit`` every
    100 ms and its shutdown sleeps 100 ms for connections to drain even when there are none,
    which a test suite starting an emulator per test pays over a thousand times."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Have the main loop look at ``should_exit`` now (from any thread)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: it has stopped
                loop.call_soon_threadsafe(self._wake.set)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        counter = 0
        # A tick each second still refreshes the Date header (uvicorn's on_tick, every 10th).
        while not await self.on_tick(counter):
            with contextlib.suppress(asyncio.TimeoutError):  # not TimeoutError on 3.10
                await asyncio.wait_for(self._wake.wait(), 1.0)
            self._wake.clear()
            counter += 10

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)  # drain them, within timeout_graceful_shutdown
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it Nagle + delayed ACK add ~40 ms per response.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class EmulatorServer:
    """A running emulator. ``api_host`` is what ``PIPECAT_API_HOST`` should be set to."""

    def __init__(self, config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = create_app(config)
        self.emulator: Emulator = self.app.state.emulator
        self.config: EmulatorConfig = (
            self.emulator.config
        )  # the token a persistent database kept, if any
        self._sock = _bind(host, port)
        bound_host, bound_port = self._sock.getsockname()[:2]
        self.host = bound_host
        self.port: int = bound_port
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.api_host = f"http://{shown}:{bound_port}"
        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        self._server = _PromptServer(
            uvicorn.Config(
                self.app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=2,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def org(self) -> str:
        return self.config.org

    def env(self) -> dict[str, str]:
        """Environment variables that point pcc-env and the ``pipecat`` CLI at this emulator."""
        return client_env(self.api_host, self.token, self.org)

    def stats(self) -> dict[str, Any]:
        return self.emulator.stats()

    def reset_stats(self) -> None:
        self.emulator.reset_stats()

    def check_value(self, set_name: str, key: str | None, value: str) -> bool:
        return self.emulator.store.check_value(
            set_name, key if key is not None else IMAGE_PULL_KEY, value
        )

    def agent_generations(self, name: str) -> dict[str, Any] | None:
        """What ``GET /_emulator/agents/{name}`` answers, or ``None`` for an unknown agent."""
        state = self.emulator.store.get_agent(name)
        if state is None:
            return None
        current = self.emulator.store.generations(list(state.desired.bound))
        return agents.generations(state, current).dump()

    # Lifecycle ----------------------------------------------------------------------------------

    def serve_forever(self, on_serving: Callable[[], None] = lambda: None) -> None:
        """Serve until SIGINT or SIGTERM, then stop cleanly (the caller exits 0).
        ``on_serving`` runs once connections are accepted and Ctrl-C stops the server."""
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.start()
            on_serving()
            while not stop.wait(0.5):
                if self._thread is None or not self._thread.is_alive():
                    break
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self) -> EmulatorServer:
        """Serve in a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[self._sock])),
            name=f"pcc-env-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator failed to start")
            self._thread.join(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.wake()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._sock.close()
        self.emulator.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
