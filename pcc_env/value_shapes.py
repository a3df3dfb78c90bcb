"""What an env file's text looks like, for the no-values hook (``check-files``): pure, no I/O.

A committed env file must not carry a value, and a value hides in many places besides
``KEY=value``: a comment (``# KEY: v``, ``# export KEY v``, ``# e.g. KEY=v``, JSON, a bare
token), or after an empty ``KEY= # ...``. A *template* (``env.example``, ``.env.sample``...)
may keep placeholders (``your-key-here``, ``<your key>``, ``sk-...``, ``xxxx``: recognised by
``rules.has_placeholder(..., hint=True)``, the recogniser init, export and push use, with the
hints of a committed file added), plain settings (``ENV=local``) and links to where a key is
made; everything else named like an env file (``.env``, ``.envrc``, ``prod.env.local``) holds
no value at all. Nothing here returns text of
the file: callers report line numbers only.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter

from dotenv.parser import parse_stream

from pcc_env.rules import cut_placeholders, has_placeholder

# A name whose dot-, dash- or underscore-separated parts include one of these is a template.
_TEMPLATE_WORDS = frozenset({"example", "sample", "template", "dist", "tmpl", "tpl"})

# Prefixes of real API keys (OpenAI, Anthropic, ElevenLabs, Cartesia, Stripe, Slack, GitHub,
# GitLab, Hugging Face, Groq, Replicate, Pinecone, AWS, Google, SendGrid): one, then 16+ key
# characters holding a run of 12+ letters and digits that mixes both.
_KEY_PREFIX_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-|sk_|pk_|rk_|xox[abposr]-|gh[pousr]_|github_pat_|glpat-|hf_|gsk_|"
    r"r8_|pcsk_|AKIA|ASIA|AIza|SG\.)(?P<rest>[A-Za-z0-9_\-.]{16,})"
)
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_ALNUM_RUN_RE = re.compile(r"[A-Za-z0-9]+")
# Letters, with separators of words, paths and URLs: prose, a path, a URL without digits.
_WORDS_RE = re.compile(r"[-~._]*/?[A-Za-z][A-Za-z\-_./:@~]*|/")
_URL_USERINFO_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s@:]*:(?P<password>[^/\s@]+)@")
# Longer than any template line or placeholder (a PEM placeholder's lines are 64): a comment or
# a template's value this long is refused as it is, unread (a pasted certificate, JSON, a blob).
MAX_TEMPLATE_LINE = 4096
MAX_COMMENT_ASSIGNMENTS = 16
# The comment ``export`` writes above a plain field's ``KEY=``: its default.
_DEFAULT_RE = re.compile(r"# default: (?P<value>.*)")
# direnv commands that a committed .envrc may hold (``dotenv``, ``use flake``, ``layout python``).
_DIRENV_RE = re.compile(
    r"(?:dotenv|dotenv_if_exists|source_env|source_env_if_exists|source_up|source_up_if_exists|"
    r"use|layout|watch_file|watch_dir|PATH_add|path_add|strict_env|unstrict_env|"
    r"env_vars_required)(?:[ \t]+[A-Za-z0-9_./~-]+)*"
)
# Assignments written in a comment. ``=`` with spaces around it, ``:`` and the shell's
# ``export KEY v`` need an env-style KEY (so prose such as ``# note: with = sign`` passes);
# ``key=v`` and a quoted key (JSON, YAML) may be any identifier.
_IDENT = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_ENV_NAME = r"[A-Z][A-Z0-9_]*"
_VALUE = r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;}\]]+)"
_COMMENT_ASSIGNMENT_RES = (
    re.compile(rf"(?:^|[\s,;(\[{{])[\"'](?P<key>{_IDENT})[\"']\s*[:=]\s*{_VALUE}"),
    re.compile(rf"(?:^|[^A-Za-z0-9_.\-\"'])(?P<key>{_IDENT})={_VALUE}"),
    re.compile(rf"(?:^|[^A-Za-z0-9_.\-\"'])(?P<key>{_ENV_NAME})\s*=\s*{_VALUE}"),
    re.compile(rf"(?:^|[^A-Za-z0-9_.\-\"'])(?P<key>{_ENV_NAME})\s*:\s*{_VALUE}"),
    re.compile(rf"(?:^|\s)(?:export|setenv|set)\s+(?P<key>{_ENV_NAME})\s+{_VALUE}"),
)


def is_template_name(name: str) -> bool:
    """Whether a file name marks a template (``env.example``, ``x.env.sample``,
    ``.env.template``): its parts split at ``.``, ``-`` and ``_`` include such a word."""
    return any(part in _TEMPLATE_WORDS for part in re.split(r"[._\-]+", name.lower()))


def _strip(token: str) -> str:
    return token.strip("\"'`()[]{}<>,;")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _pieces(token: str) -> list[str]:
    """``token`` with its placeholder text taken out: a real key next to a hint
    (``your-key:sk-...real...``, ``sk-proj-abc...`` cut short) is still judged."""
    pieces = cut_placeholders(_strip(token), hint=True).split()
    return [p for p in pieces if _ALNUM_RUN_RE.search(p)]  # ':' alone holds no value


def is_hint(text: str) -> bool:
    """A placeholder, and nothing but words besides (``YOUR_API_KEY``, ``sk-...``, ``<key>``)."""
    return has_placeholder(text, hint=True) and all(_is_words(p) for p in _pieces(text))


def looks_like_credential(token: str) -> bool:
    """Whether one whitespace-free token has the shape of a key, token or password: a known key
    prefix followed by 16+ key characters, a JWT, or a run of 16+ letters and digits mixing
    both with high entropy (Deepgram's 40 and Daily's 64 hex, ElevenLabs' and OpenAI's keys,
    a Slack webhook's last segment). Hyphenated UUIDs (voice IDs) and model names pass."""
    if len(token) < 16:  # every shape below is longer
        return False
    return _key_shaped(token) or any(
        _mixed(run, 16) and _entropy(run) >= 3.0
        for piece in _pieces(token)
        for run in _ALNUM_RUN_RE.findall(piece)
    )


def _key_shaped(token: str) -> bool:
    """The shapes that are keys whatever they stand for: a known key prefix, a JWT, a run of
    32+ hex digits (Deepgram's 40, Daily's 64, Twilio's 32), not an ID that mixes letters."""
    if len(token) < 16:
        return False
    for piece in _pieces(token):
        match = _KEY_PREFIX_RE.search(piece)
        if match and any(_mixed(run, 12) for run in _ALNUM_RUN_RE.findall(match.group("rest"))):
            return True
        if _JWT_RE.search(piece):
            return True
        if any(
            _mixed(run, 32) and re.fullmatch("[0-9a-fA-F]+", run)
            for run in _ALNUM_RUN_RE.findall(piece)
        ):
            return True
    return False


def _mixed(run: str, length: int) -> bool:
    """A run of at least ``length`` letters and digits holding both."""
    return len(run) >= length and bool(re.search("[0-9]", run)) and bool(re.search("[A-Za-z]", run))


def _is_words(token: str) -> bool:
    return bool(_WORDS_RE.fullmatch(_strip(token))) or not _strip(token)


def value_is_harmless(key: str | None, value: str) -> bool:
    """Whether a template may keep ``value``: no token looks like a credential, a URL carries no
    password, and a secret-named ``key`` (``*_API_KEY``, ``*_SECRET``...) holds only
    placeholders or words (``your_api_key``, ``hmac-secret-pinless-dialin``, a path)."""
    from pcc_env.rules import looks_secret

    tokens = value.split()
    if any(looks_like_credential(t) for t in tokens):
        return False
    for match in _URL_USERINFO_RE.finditer(value):
        if not is_hint(match.group("password")):
            return False
    if key is not None and looks_secret(key):
        return _is_filled_in(value) or all(
            is_hint(t) or _is_words(t) or _is_filled_in(t) for t in tokens
        )
    return True


def _is_filled_in(token: str) -> bool:
    """A structured value the reader fills in: a URL with no credential in it
    (``postgres://localhost:5432/bot``, ``postgres://<user>:<password>@host/db``; its password was
    judged above), or text around a placeholder (``Authorization=Basic <base64_api_keys>``) whose
    every other part is words or a number."""
    from pcc_env.rules import holds_credential

    text = token.strip().strip("\"'")  # not _strip: it would cut a placeholder's '>'
    if "://" in text and (has_placeholder(text, hint=True) or not holds_credential(text)):
        return not any(_mixed(run, 16) for run in _ALNUM_RUN_RE.findall(text))
    if not has_placeholder(text, hint=True):
        return False
    rest = cut_placeholders(text, hint=True)
    return all(_is_words(part) or part.isdigit() for part in re.split(r"[\s=:@/,;]+", rest) if part)


def _comment_assignments(body: str) -> list[tuple[str, str]]:
    """(key, value) of every assignment written in a comment's text, quotes kept off."""
    from pcc_env.rules import looks_secret

    found = []
    for n, pattern in enumerate(_COMMENT_ASSIGNMENT_RES):
        for match in pattern.finditer(body):
            key, value = match.group("key"), match.group("value")
            if n == 3 and "_" not in key and not looks_secret(key):
                continue  # ``# NOTE: ...``, ``# TODO: ...``: prose, not ``# API_KEY: ...``
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            found.append((key, value))
    return found


def comment_holds_value(comment: str, *, template: bool, key: str | None = None) -> bool:
    """Whether a comment (its text after ``#``) holds a value: an assignment in any form with
    a value (any value outside a template; in one, a value that is not harmless), or a token
    that looks like a credential. ``key``: the comment follows ``KEY=`` on its line, and a
    comment that is one token is taken for that key's value."""
    from pcc_env.rules import looks_secret

    body = comment.strip().lstrip("#:").strip()
    if not body:
        return False
    if any(looks_like_credential(t) for t in body.split()):
        return True
    assignments = _comment_assignments(body)
    if len(assignments) > MAX_COMMENT_ASSIGNMENTS:
        return True  # no template's comment lists this many: values, dumped
    for name, value in assignments:
        if not value or is_hint(value):
            continue
        if not template or not value_is_harmless(name, value):
            return True
    if key is not None and looks_secret(key) and len(body.split()) == 1:
        return not value_is_harmless(key, body)
    return False


def _trailing_comment(line: str) -> str | None:
    """The comment after an empty ``KEY=`` or ``KEY=""`` on its line, if any."""
    rest = line.split("=", 1)[1] if "=" in line else ""
    return rest.split("#", 1)[1] if "#" in rest else None


def lines_holding_values(text: str, *, template: bool, direnv: bool = False) -> list[int]:
    """Line numbers of an env file's ``text`` that hold a value or cannot be read as a
    template line (not a comment, a blank line or ``KEY=``). ``template``: placeholders and
    harmless values may stay. ``direnv``: direnv commands (``dotenv``, ``use flake``) pass."""
    from pcc_env.rules import looks_secret

    bad: set[int] = set()
    bindings = list(parse_stream(io.StringIO(text)))
    following: list[str | None] = [None] * len(bindings)  # the key of the next KEY= line
    for n in range(len(bindings) - 2, -1, -1):
        following[n] = bindings[n + 1].key if bindings[n + 1].key is not None else following[n + 1]
    long = MAX_TEMPLATE_LINE
    for n, binding in enumerate(bindings):
        first, chunk = binding.original.line, binding.original.string
        if direnv and _DIRENV_RE.fullmatch(chunk.strip()):
            continue
        if binding.error or (binding.key is not None and binding.value is None):
            bad.add(first)
        elif binding.key is not None and binding.value:
            # A template's harmless value, and no key-shaped token in a comment after it.
            harmless = (
                len(chunk) <= long
                and value_is_harmless(binding.key, binding.value)
                and not any(looks_like_credential(t) for t in chunk.split())
            )
            if not template or not harmless:
                bad.add(first)
        elif binding.key is not None:  # KEY= or KEY="", perhaps with a comment after it
            comment = _trailing_comment(chunk)
            if comment is not None and len(comment) > long:
                bad.add(first)  # no hint is this long: a pasted blob
            elif comment is not None and comment_holds_value(
                comment, template=template, key=binding.key
            ):
                bad.add(first)
        else:
            below = following[n]
            for offset, line in enumerate(chunk.splitlines()):
                stripped = line.strip()
                if not stripped.startswith("#"):
                    continue
                if len(stripped) > long:  # no template's comment is this long: a pasted blob
                    bad.add(first + offset)
                    continue
                default = _DEFAULT_RE.fullmatch(stripped)
                if template and default and below:
                    # ``export``'s note of a field's default. A plain field's (a voice ID, a
                    # model) is refused for a key's own shape only, so that the template
                    # hook's file passes; a secret-named field's like its value.
                    value = default.group("value")
                    if looks_secret(below):
                        harmless = value_is_harmless(below, value)
                    else:
                        harmless = not any(_key_shaped(t) for t in value.split()) and not any(
                            not is_hint(m.group("password"))
                            for m in _URL_USERINFO_RE.finditer(value)
                        )
                    if not harmless:
                        bad.add(first + offset)
                elif comment_holds_value(stripped[1:], template=template):
                    bad.add(first + offset)
    return sorted(bad)
