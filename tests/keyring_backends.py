"""Keyring backends for tests, selectable in a child process with PYTHON_KEYRING_BACKEND."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import ClassVar

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    """Stores passwords in the JSON file named by PCC_TEST_KEYRING_FILE (tests only)."""

    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path:
        return Path(os.environ["PCC_TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        p = self._path()
        return json.loads(p.read_text()) if p.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}|{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        data.pop(f"{service}|{username}")
        self._path().write_text(json.dumps(data))


class HangingKeyring(KeyringBackend):
    """A locked keyring that never answers (the unlock prompt nobody sees)."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(3600)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(3600)

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(3600)


class _FakeAltKeyring(KeyringBackend):
    """Stands in for a keyrings.alt backend: pcc-env recognises those by module and class name,
    so these tests need not install keyrings.alt. Stores in memory."""

    priority = 1  # type: ignore[assignment]
    stored: ClassVar[dict[str, str]] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[f"{service}|{username}"] = password

    def delete_password(self, service: str, username: str) -> None:
        self.stored.pop(f"{service}|{username}")


class PlaintextKeyring(_FakeAltKeyring):
    """As ``keyrings.alt.file.PlaintextKeyring`` (a plain file)."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


class EncryptedKeyring(_FakeAltKeyring):
    """As ``keyrings.alt.file.EncryptedKeyring`` when pycryptodome is missing: not viable."""

    viable = False


EncryptedKeyring.__module__ = "keyrings.alt.file"
