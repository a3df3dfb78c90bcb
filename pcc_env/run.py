"""``pcc-env run``: which values the child sees, which ones its output must not show, and the
streaming masker that hides them.

Pure: no I/O, no printing. ``cli/run.py`` reads the .env (with ``push``'s guards), starts the
child and pumps its output through ``StreamMasker``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic_settings import BaseSettings

MASK = b"<concealed by pcc-env>"
# Without a model (or for a key the model does not declare) a value this long or longer is
# taken for a secret; shorter ones ("true", "INFO", "8080") would mask ordinary output. Parts of
# a secret (a line of a multi-line value, a URL's password) are masked from this length too.
MIN_MASKED_LENGTH = 6
# pcc-env's own credential: in its environment for pcc-env, not for the command.
OWN_SECRETS = ("PIPECAT_API_KEY",)
# Not secrets, though their names look like one: the shell's working directory and friends.
_SYSTEM_NAMES = frozenset({"PWD", "OLDPWD"})
_MAX_DEPTH = 20


def child_environment(
    base: Mapping[str, str],
    values: Mapping[str, str],
    model: type[BaseSettings] | None = None,
) -> dict[str, str]:
    """The child's environment: ``base`` (the process's) with the .env values on top, as the
    set's values would be mounted over whatever the image has. pcc-env's own API key
    (``PIPECAT_API_KEY``) is left out of ``base`` unless the model declares it: the command
    gets what the agent would get, not the credentials of the tool that started it."""
    declared = _declared_names(model)
    fold = _folder(model)
    env = {k: v for k, v in base.items() if k.upper() not in OWN_SECRETS or fold(k) in declared}
    env.update(values)
    return env


def values_to_mask(
    values: Mapping[str, str],
    environ: Mapping[str, str],
    model: type[BaseSettings] | None = None,
    settings: BaseModel | None = None,
) -> list[str]:
    """The strings to conceal in the child's output, longest first: the union of

    - every field of ``model`` that holds a secret (``SecretStr``, ``list[SecretStr]``,
      ``dict[str, SecretStr]``, a nested model with one): its value in ``environ`` (the child's
      environment) under any of its names, whatever its length and wherever it came from, and
      each string inside it when it is JSON (from ``MIN_MASKED_LENGTH`` characters: a JSON
      credentials file holds ordinary words too);
    - every ``SecretStr``/``SecretBytes`` leaf of ``settings`` (the model as loaded: the items
      of a ``list[SecretStr]``, the values of a ``dict[str, SecretStr]``), whatever its length;
    - pcc-env's own API key, when the child gets it;
    - the value of every secret-looking name (``rules.looks_secret``) in ``values`` or
      ``environ``, and every value with a credential in a URL (``user:password@``), of
      ``MIN_MASKED_LENGTH`` characters or more, whatever the model says of them;
    - every value of ``values`` (the .env) of ``MIN_MASKED_LENGTH`` characters or more, unless
      its key is a field the model declares as not secret (``LOG_LEVEL``, a voice id...).

    Each one is masked as written, with its newlines as ``\\r\\n`` (a terminal that translates
    them), and by its parts: each line of a multi-line value and a URL's password, when they
    have ``MIN_MASKED_LENGTH`` characters or more.
    """
    from pcc_env.rules import looks_secret, url_userinfo

    secret_names: set[str] = set()
    plain_names: set[str] = set()
    fold = _folder(model)
    if model is not None:
        from pcc_env.runtime import _env_names, _is_secret, describe

        for field in describe(model):
            (secret_names if field.secret else plain_names).add(fold(field.env_name))
        # ``describe`` gives a field's first name; ``AliasChoices`` may offer more.
        for name, info in model.model_fields.items():
            names = map(fold, _env_names(model, name, info))
            (secret_names if _is_secret(info) else plain_names).update(names)
    whole: set[str] = set()  # masked whatever their length
    long: set[str] = set()  # masked from MIN_MASKED_LENGTH
    for key, value in environ.items():
        name = fold(key)
        if name in secret_names or key.upper() in OWN_SECRETS:
            whole.add(value)
            long.update(_json_strings(value))
        elif _secret_name(key, looks_secret) or url_userinfo(value) is not None:
            long.add(value)
    for key, value in values.items():
        name = fold(key)
        if name in secret_names:
            whole.add(value)
            long.update(_json_strings(value))
        elif (
            name not in plain_names
            or _secret_name(key, looks_secret)
            or url_userinfo(value) is not None
        ):
            long.add(value)
    if settings is not None:
        whole.update(_secret_leaves(settings, 0))
    found = whole | {v for v in long if len(v) >= MIN_MASKED_LENGTH}
    for value in list(found):
        found.update(_variants(value, url_userinfo))
    return sorted((v for v in found if v), key=lambda v: (-len(v), v))


def _secret_name(key: str, looks_secret: Callable[[str], bool]) -> bool:
    return key.upper() not in _SYSTEM_NAMES and looks_secret(key)


def _variants(value: str, url_userinfo: Callable[[str], str | None]) -> set[str]:
    """Other forms of ``value`` a command's output can show it in: its newlines translated to
    ``\\r\\n`` (a terminal with ``onlcr`` on: ``stty onlcr``, a TUI restoring its settings),
    each line alone, a URL's password as written and decoded."""
    from urllib.parse import unquote

    out: set[str] = set()
    if "\n" in value:
        out.add(value.replace("\r\n", "\n").replace("\n", "\r\n"))
        out.add(value.replace("\n", "\r\n"))  # a "\r\n" in the value shows as "\r\r\n"
        out.update(line.rstrip("\r") for line in value.split("\n"))
    userinfo = url_userinfo(value)
    if userinfo is not None:
        password = userinfo.partition(":")[2] or userinfo  # a token given as the user
        out.update({password, unquote(password)})
    return {v for v in out if len(v) >= MIN_MASKED_LENGTH}


def _json_strings(value: str) -> set[str]:
    """The strings inside a JSON array or object (the items of a ``list[SecretStr]``, the
    values of a ``dict[str, SecretStr]``); none when ``value`` is not one."""
    import json

    if not value.lstrip().startswith(("[", "{")):
        return set()
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return set()
    out: set[str] = set()
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            out.add(item)
        elif depth < _MAX_DEPTH and isinstance(item, list):
            stack.extend((x, depth + 1) for x in item)
        elif depth < _MAX_DEPTH and isinstance(item, dict):
            stack.extend((x, depth + 1) for x in item.values())
    return out


def _secret_leaves(item: object, depth: int) -> Iterator[str]:
    """Every ``SecretStr``/``SecretBytes`` value inside a loaded model: fields, items of lists,
    tuples and sets, values (and keys) of dicts, nested models."""
    from pydantic import BaseModel, SecretBytes, SecretStr

    if depth > _MAX_DEPTH:
        return
    if isinstance(item, SecretStr):
        yield item.get_secret_value()
    elif isinstance(item, SecretBytes):
        yield item.get_secret_value().decode("utf-8", "surrogateescape")
    elif isinstance(item, BaseModel):
        for name in type(item).model_fields:
            yield from _secret_leaves(getattr(item, name, None), depth + 1)
    elif isinstance(item, (list, tuple, set, frozenset)):
        for x in item:
            yield from _secret_leaves(x, depth + 1)
    elif isinstance(item, dict):
        for k, v in item.items():
            yield from _secret_leaves(k, depth + 1)
            yield from _secret_leaves(v, depth + 1)


def _declared_names(model: type[BaseSettings] | None) -> set[str]:
    if model is None:
        return set()
    from pcc_env.runtime import env_names_by_field

    fold = _folder(model)
    return {fold(n) for names in env_names_by_field(model).values() for n in names}


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
