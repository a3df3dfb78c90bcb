"""``pcc-env run``: which values the child sees, which ones its output must not show, and the
streaming masker that hides them.

Pure: no I/O, no printing. ``cli/run.py`` reads the .env (with ``push``'s guards), starts the
child and pumps its output through ``StreamMasker``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

MASK = b"<concealed by pcc-env>"
# Without a model (or for a key the model does not declare) a value this long or longer is
# taken for a secret; shorter ones ("true", "INFO", "8080") would mask ordinary output.
MIN_MASKED_LENGTH = 6


def child_environment(base: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: ``base`` (the process's) with the .env values on top, as the
    set's values would be mounted over whatever the image has."""
    env = dict(base)
    env.update(values)
    return env


def values_to_mask(
    values: Mapping[str, str],
    environ: Mapping[str, str],
    model: type[BaseSettings] | None = None,
) -> list[str]:
    """The strings to conceal in the child's output, longest first.

    - Every ``SecretStr``/``SecretBytes`` field of ``model``: its value in ``environ`` (the
      child's environment) under any of its names, whatever its length and wherever it came
      from.
    - Every value of ``values`` (the .env) of ``MIN_MASKED_LENGTH`` characters or more, unless
      its key is a field the model declares as not secret (``LOG_LEVEL``, a voice id...).
    """
    secret_names: set[str] = set()
    plain_names: set[str] = set()
    fold = _folder(model)
    if model is not None:
        from pcc_env.runtime import _is_secret, describe, env_names_by_field

        for field in describe(model):
            (secret_names if field.secret else plain_names).add(fold(field.env_name))
        # ``describe`` gives a field's first name; ``AliasChoices`` may offer more.
        for name, env_names in env_names_by_field(model).items():
            secret = _is_secret(model.model_fields[name])
            (secret_names if secret else plain_names).update(map(fold, env_names))
    found: set[str] = set()
    for key, value in environ.items():
        if value and fold(key) in secret_names:
            found.add(value)
    for key, value in values.items():
        name = fold(key)
        if name in secret_names or (len(value) >= MIN_MASKED_LENGTH and name not in plain_names):
            found.add(value)
    return sorted((v for v in found if v), key=lambda v: (-len(v), v))


def _folder(model: type[BaseSettings] | None) -> Callable[[str], str]:
    """How env names compare: as pydantic-settings reads them (case-insensitive by default)."""
    if model is not None and model.model_config.get("case_sensitive"):
        return str
    return str.upper


class StreamMasker:
    """Replaces every occurrence of the given values in a byte stream fed in arbitrary chunks.

    The output is exactly ``pattern.sub(MASK, whole_stream)``, where ``pattern`` tries the
    longest value first at each position (so of two overlapping values the longer is concealed
    whole), however the stream is cut into chunks: a value split across two writes is still
    masked. To get there, ``feed`` holds back the end of the data that could still become a
    value: at most ``len(longest value) - 1`` bytes, and only when they are the beginning of
    some value, so ordinary output (a prompt with no newline) is passed on at once. ``close``
    releases what is held back at end of stream.
    """

    def __init__(self, values: Iterable[str | bytes], mask: bytes = MASK) -> None:
        encoded = {
            v.encode("utf-8", "surrogateescape") if isinstance(v, str) else v for v in values
        }
        patterns = sorted((p for p in encoded if p), key=lambda p: (-len(p), p))
        self._mask = mask
        self._pending = b""
        self._pattern = re.compile(b"|".join(map(re.escape, patterns))) if patterns else None
        self._hold = len(patterns[0]) - 1 if patterns else 0
        # Values by first byte: only a tail starting with one of these can grow into a value.
        self._by_first: dict[int, list[bytes]] = {}
        for p in patterns:
            self._by_first.setdefault(p[0], []).append(p)

    def feed(self, data: bytes) -> bytes:
        """The part of the stream so far that can be shown now, values concealed."""
        if self._pattern is None:
            return data
        buf = self._pending + data
        cut = self._undecided_from(buf)
        out: list[bytes] = []
        pos = 0
        for match in self._pattern.finditer(buf):
            if match.start() >= cut:
                break
            # At a start before ``cut`` no longer value can still match: the decision is final.
            out.append(buf[pos : match.start()])
            out.append(self._mask)
            pos = match.end()
        if pos < cut:
            out.append(buf[pos:cut])
            pos = cut
        self._pending = buf[pos:]
        return b"".join(out)

    def close(self) -> bytes:
        """End of stream: the rest, values concealed."""
        rest, self._pending = self._pending, b""
        if self._pattern is None or not rest:
            return rest
        return self._pattern.sub(lambda _m: self._mask, rest)

    def _undecided_from(self, buf: bytes) -> int:
        """The first position whose bytes up to the end are the beginning of a value (so a
        match there depends on data not yet read); ``len(buf)`` when there is none."""
        end = len(buf)
        for start in range(max(0, end - self._hold), end):
            candidates = self._by_first.get(buf[start])
            if candidates:
                tail = buf[start:]
                if any(len(p) > end - start and p.startswith(tail) for p in candidates):
                    return start
        return end
