"""Naming and argument rules of Pipecat Cloud secrets, shared by the client, CLI and emulator.

The rules come from the API's OpenAPI fragments and the Secrets guide (seed 004). Functions named
``*_problems`` return every problem at once; ``check_*`` raise one ``InputError`` listing them.
No message contains a value; an invalid key is shown only when it cannot be a pasted value.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from pcc_env.errors import InputError

SET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SET_NAME_MIN_LENGTH = 3
SET_NAME_MAX_LENGTH = 63
# An agent (service) name is a DNS label. Names the server sends are checked against it before
# they build a URL: "." and ".." would make ``/agents/{name}`` the create endpoint or the root.
AGENT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
AGENT_NAME_MAX_LENGTH = 63
KEY_PATTERN = r"^[A-Za-z0-9_-]+$"
KEY_MAX_LENGTH = 64
DEFAULT_REGION = "us-west"
# Region codes as the API lists them (us-west, eu-central, ap-south): one DNS label. A region
# reaches a request body and every plan line, so anything else is refused, never printed raw.
REGION_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
REGION_MAX_LENGTH = 63
# Not documented by the API: secret sets are mounted into the agent's container, and a
# Kubernetes Secret holds at most 1 MiB, so pcc-env refuses more before sending anything.
MAX_VALUE_BYTES = 64 * 1024
MAX_SET_BYTES = 1024 * 1024

_SET_NAME_RE = re.compile(SET_NAME_PATTERN)
_KEY_RE = re.compile(KEY_PATTERN)
_REGION_RE = re.compile(REGION_PATTERN)
_AGENT_NAME_RE = re.compile(AGENT_NAME_PATTERN)
# Python keeps undecodable bytes of argv and stdin as lone surrogates (PEP 383).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Shown in messages: what a mistyped key looks like. Not '+', '/', '=' (base64), quotes, spaces.
_SHOWABLE_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Characters that can move the cursor, recolour or reorder a terminal's text, or start a new line.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def escape_text(text: str) -> str:
    """``text`` with every control, format (bidi) and line-separator character escaped.

    For strings that did not come from pcc-env (the server's set names, keys and messages, file
    names): printed as they are, they could inject terminal escapes or whole lines.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == " " or unicodedata.category(ch) not in _UNPRINTABLE_CATEGORIES:
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def show_key(key: str, what: str = "key") -> str:
    """Quote a key for a message, or describe it when it might be a value pasted by mistake.
    ``what`` says what it is in that description ("name" for a set name: never "a key")."""
    return display_name(key, what)


def show_set_name(name: str) -> str:
    return show_key(name, "name")


def set_name_problems(name: str) -> list[str]:
    """Everything wrong with a secret set name (empty list when it is valid)."""
    problems = []
    if not SET_NAME_MIN_LENGTH <= len(name) <= SET_NAME_MAX_LENGTH:
        problems.append(
            f"secret set name {show_set_name(name)} must be {SET_NAME_MIN_LENGTH} to "
            f"{SET_NAME_MAX_LENGTH} characters long (it has {len(name)})"
        )
    if not _SET_NAME_RE.fullmatch(name):
        problems.append(
            f"secret set name {show_set_name(name)} may use only lowercase letters, digits, "
            "'-' and '.', and each dot-separated part must start and end with a letter or digit"
        )
    return problems


def region_problems(region: str) -> list[str]:
    """What is wrong with a region code (empty list when it is valid). The region is quoted
    only when it cannot hide a line break, an escape or a pasted value. A region-shaped key
    (40 hex digits) is refused too: a region is echoed in plans and in the API's errors."""
    if (
        len(region) <= REGION_MAX_LENGTH
        and _REGION_RE.fullmatch(region)
        and not looks_like_credential(region)
    ):
        return []
    return [
        f"region {show_key(region, 'region')} is not a region code: 1 to {REGION_MAX_LENGTH} "
        "lowercase letters, digits and '-', starting and ending with a letter or digit "
        "(such as 'us-west')"
    ]


def check_region(region: str | None, *, source: str | None = None) -> str | None:
    """Return ``region`` (None passes) or raise ``InputError`` naming ``source``, where the
    region came from (a flag, a file and table)."""
    if region is None:
        return None
    problems = region_problems(region)
    if problems:
        raise InputError(problems, source=source)
    return region


def agent_name_problems(name: str) -> list[str]:
    """Everything wrong with an agent name (empty list when it is valid)."""
    if len(name) <= AGENT_NAME_MAX_LENGTH and _AGENT_NAME_RE.fullmatch(name):
        return []
    return [
        f"agent name {show_key(name, 'name')} must be 1 to {AGENT_NAME_MAX_LENGTH} lowercase "
        "letters, digits and '-', starting and ending with a letter or digit"
    ]


def key_problems(key: str) -> list[str]:
    """Everything wrong with a secret key (empty list when it is valid)."""
    if not key:
        return ["a secret key is empty"]
    problems = []
    if len(key) > KEY_MAX_LENGTH:
        problems.append(
            f"secret key {show_key(key)} is {len(key)} characters long (at most {KEY_MAX_LENGTH})"
        )
    if not _KEY_RE.fullmatch(key):
        problems.append(f"secret key {show_key(key)} may contain only letters, digits, '_' and '-'")
    return problems


def case_duplicate_problems(keys: Iterable[str]) -> list[str]:
    """Keys that differ only in case: the runtime reads env vars case-insensitively, so an agent
    given both would see one of them, whichever the platform mounted last."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        members = groups.setdefault(key.upper(), [])
        if key not in members:
            members.append(key)
    return [
        f"{' and '.join(map(show_key, members))} differ only in case; the agent reads env vars "
        "case-insensitively and would see just one of them: keep one"
        for members in groups.values()
        if len(members) > 1
    ]


def value_problems(key: str, value: str) -> list[str]:
    """Everything wrong with one value (empty, NUL, too large), naming the key, never the value."""
    if value == "":
        return [f"the value of {show_key(key)} is empty"]
    problems = []
    if "\x00" in value:
        problems.append(f"the value of {show_key(key)} contains a NUL character")
    if _SURROGATE_RE.search(value):
        problems.append(
            f"the value of {show_key(key)} is not valid UTF-8 text (a non-UTF-8 argument, file "
            "or standard input?)"
        )
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        problems.append(
            f"the value of {show_key(key)} is {size:,} bytes (at most {MAX_VALUE_BYTES:,})"
        )
    return problems


# Set by Pipecat Cloud inside the agent's container (docs: fundamentals_agent-images). A secret
# with one of these names would shadow the platform's value, or be shadowed by it.
RESERVED_KEYS = (
    "PORT",
    "SHUTDOWN_TIMEOUT",
    "PIPECAT_LOG_LEVEL",
    "PCC_LOG_FEATURES_SUMMARY",
    "IMAGE_VERSION",
    "ICE_CONFIG_URL",
)
RESERVED_PREFIXES = ("ESP32_",)
# pcc-env's revision record (``pcc_env.revision``): a key of the set that only pcc-env writes.
RECORD_KEY_PREFIX = "PCCENV_REV"


# The organization's private API key, what pcc-env and the pipecat CLI authenticate with. A
# program outside the agent (a telephony server dialling out) reads it from its own environment;
# in a secret set it would be mounted into every deployment of every agent that binds the set.
ORG_API_KEY = "PIPECAT_API_KEY"
ORG_API_KEY_NOTE = (
    "the organization's private API key, not sent: in the set it would reach every agent that "
    "binds it, and the program outside the agent that reads it has it from its own environment "
    "(--allow-reserved sends it)"
)


def only_org_api_key(keys: Iterable[str]) -> str:
    """Why nothing is left to send when the file holds only the organization's private key."""
    return (
        f"the file holds only {', '.join(map(show_key, keys))}: {ORG_API_KEY_NOTE}; nothing to push"
    )


def org_api_keys(values: Mapping[str, str]) -> list[str]:
    """The keys of ``values`` that hold the organization's private API key (with a value)."""
    return [k for k, v in values.items() if k.upper() == ORG_API_KEY and v]


def reserved_keys(keys: Iterable[str]) -> list[str]:
    """The keys the platform sets itself. Compared case-insensitively, as the runtime reads."""
    return [
        k for k in keys if k.upper() in RESERVED_KEYS or k.upper().startswith(RESERVED_PREFIXES)
    ]


def reserved_key_problems(keys: Iterable[str]) -> list[str]:
    found = reserved_keys(keys)
    if not found:
        return []
    return [
        f"{', '.join(map(show_key, found))}: set by Pipecat Cloud inside the agent; a secret "
        "of that name would clash with the platform's value (pass --allow-reserved to send it "
        "anyway)"
    ]


def record_key_problems(keys: Iterable[str]) -> list[str]:
    """User keys named like pcc-env's revision record: refused always (``--allow-reserved``
    too), since pcc-env would take one for its record, replace it and never show it."""
    found = [k for k in keys if k.upper().startswith(RECORD_KEY_PREFIX)]
    if not found:
        return []
    return [
        f"{', '.join(map(show_key, found))}: keys starting with {RECORD_KEY_PREFIX} are "
        "pcc-env's revision record of the set; pick another name"
    ]


def total_size_problems(values: dict[str, str]) -> list[str]:
    total = sum(len(k) + len(v.encode("utf-8", "surrogatepass")) for k, v in values.items())
    if total > MAX_SET_BYTES:
        return [f"the secrets add up to {total:,} bytes (a set holds at most {MAX_SET_BYTES:,})"]
    return []


def check_set_name(name: str) -> str:
    """Return ``name`` or raise ``InputError`` naming every problem."""
    problems = set_name_problems(name)
    if problems:
        raise InputError(problems)
    return name


def check_agent_name(name: str) -> str:
    """Return ``name`` or raise ``InputError``."""
    problems = agent_name_problems(name)
    if problems:
        raise InputError(problems)
    return name


def check_keys(keys: Iterable[str]) -> None:
    """Raise ``InputError`` naming every invalid key."""
    keys = list(keys)
    problems = [p for key in keys for p in key_problems(key)]
    problems += case_duplicate_problems(keys)
    if problems:
        raise InputError(problems)


def parse_assignment(arg: str) -> tuple[str, str | None]:
    """Split one ``KEY=value`` argument as the Secrets guide promises.

    The argument is what the program receives after the shell removed its quotes. It splits at
    the first ``=``; one more ``=`` right after it is the documented ``KEY==value`` form and is
    dropped; then one pair of surrounding double quotes is removed (``'KEY="=v"'`` gives ``=v``).
    A bare ``KEY`` returns ``None`` as the value: the caller asks for it (prompt or stdin).
    """
    key, sep, value = arg.partition("=")
    if not sep:
        return arg, None
    if value.startswith("="):
        value = value[1:]
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return key, value


def parse_assignments(args: Sequence[str]) -> list[tuple[str, str | None]]:
    """Parse ``KEY=value`` / ``KEY`` arguments, reporting every problem at once.

    Problems: invalid keys, empty or oversized values, a key given twice (or in two cases), too
    much in all. An argument is named by its position only: one that is not a valid key may be a
    value typed where a key belongs (``KEY VALUE`` instead of ``KEY=VALUE``).
    """
    pairs: list[tuple[str, str | None]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for position, arg in enumerate(args, start=1):
        key, value = parse_assignment(arg)
        where = f"argument {position}"
        if key_problems(key):
            problems.append(
                f"{where}: not a valid secret key (a key is 1 to {KEY_MAX_LENGTH} letters, "
                "digits, '_' and '-'; the argument is not shown)"
            )
            continue
        if value is not None:
            problems.extend(f"{where}: {p}" for p in value_problems(key, value))
        if key in seen:
            problems.append(f"{where}: {show_key(key)} is given more than once")
        seen.add(key)
        pairs.append((key, value))
    problems += case_duplicate_problems(k for k, _ in pairs)
    problems += total_size_problems({k: v for k, v in pairs if v is not None})
    if problems:
        raise InputError(problems)
    return pairs


def normalize_host(host: str) -> str:
    """Image pull secret hosts end with exactly one '/' (the API adds it when missing)."""
    return host if host.endswith("/") else host + "/"


# Secret-looking names and credential-bearing values ---------------------------------------------
# Used by ``init`` (which variables become ``SecretStr``, which defaults are never copied) and by
# ``run`` (which values are masked whatever the model says). Names only, or one value tested in
# memory: nothing here prints or returns a value.

# A name is taken for a secret when one of its words is one of these. Words, not substrings:
# ``KEYBOARD_LAYOUT``, ``MONKEY_MODE`` and ``TOKENIZER_NAME`` are ordinary names.
SECRET_WORDS = frozenset(
    {
        "KEY", "KEYS", "APIKEY", "APIKEYS", "SECRET", "SECRETS", "TOKEN", "TOKENS", "PASSWORD",
        "PASSWORDS", "PASSWD", "PASS", "PWD", "PASSPHRASE", "CREDENTIAL", "CREDENTIALS",
        "CREDS", "PRIVATE", "AUTH", "AUTHORIZATION", "AUTHTOKEN", "ACCESSKEY", "SECRETKEY",
        "PRIVATEKEY", "DSN", "SALT", "JWT", "BEARER", "HMAC", "SIGNING", "PEM", "WEBHOOK",
        "WEBHOOKS", "WEBHOOKURL",
    }
)  # fmt: skip
# A word that ends with one of these is a fused secret word (``OPENAIAPIKEY``, ``ACCESSTOKEN``,
# ``CLIENTSECRET``). ``KEY`` alone is not among them: ``MONKEY``, ``HOTKEY`` are no secrets.
SECRET_SUFFIXES = (
    "APIKEY", "SECRETKEY", "ACCESSKEY", "PRIVATEKEY", "SIGNINGKEY", "TOKEN", "SECRET",
    "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "CREDENTIALS", "WEBHOOK",
)  # fmt: skip
# ``MAX_TOKENS=1024``, ``KEY_COUNT``: a quantity of tokens or keys, not one.
_QUANTITY_WORDS = frozenset(
    {"MAX", "MIN", "NUM", "COUNT", "LIMIT", "SIZE", "LEN", "LENGTH", "BUDGET"}
)
_COUNTABLE_WORDS = frozenset({"KEY", "KEYS", "TOKEN", "TOKENS"})
# Connection strings: a name whose last word is one of ``_LINK_WORDS`` with a database or broker
# word before it (``DATABASE_URL``, ``REDIS_TLS_URL``, ``MONGODB_URI``), or ``*_CONNECTION_STRING``.
_STORE_WORDS = frozenset(
    {
        "DATABASE", "DB", "POSTGRES", "POSTGRESQL", "PG", "PSQL", "MYSQL", "MARIADB", "MSSQL",
        "SQL", "SQLALCHEMY", "REDIS", "VALKEY", "MONGO", "MONGODB", "AMQP", "RABBITMQ",
        "BROKER", "CELERY", "CACHE", "MEMCACHED", "ELASTICSEARCH", "SUPABASE", "NEON",
    }
)  # fmt: skip
_LINK_WORDS = frozenset({"URL", "URI", "URLS", "DSN", "CONN", "CONNECTION"})
# A certificate (``TLS_CERT``, ``CLIENT_CERTIFICATE``) is taken for a secret, as it often comes
# with its key, but not a certificate authority's bundle (a ``CA`` word) nor where one is
# (``SSL_CERT_FILE``, ``SSL_CERT_DIR``): those are public paths set on many machines.
_CERT_WORDS = frozenset({"CERT", "CERTS", "CERTIFICATE", "CERTIFICATES"})
_PUBLIC_CERT_WORDS = frozenset({"CA", "FILE", "DIR", "PATH", "BUNDLE"})
# Whole names that match a rule here but are not secrets: the shell's working directory, pip's
# CA bundle path.
_NOT_SECRET_NAMES = frozenset({"PWD", "PIP_CERT"})
_FUSED_LINKS = frozenset(
    {s + link for s in _STORE_WORDS for link in _LINK_WORDS}
    | {c + t for c in ("CONNECTION", "CONN") for t in ("STRING", "STR")}
)
_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def name_words(name: str) -> list[str]:
    """The words of a variable name in any case style, upper-cased: split at ``_ - .`` and
    spaces, at camelCase humps (``openaiApiKey``, ``OpenAIKey``) and around digits
    (``DB_PASSWORD1``)."""
    return [w.upper() for part in re.split(r"[\W_]+", name) for w in _WORD_RE.findall(part)]


def looks_secret(name: str) -> bool:
    """True when ``name`` is what API keys, tokens, passwords, signing material, connection
    strings and webhook URLs are called (``OPENAI_API_KEY``, ``openaiApiKey``, ``DB_PASSWORD1``,
    ``DATABASE_URL``, ``SENTRY_DSN``, ``SLACK_WEBHOOK_URL``). Names only: never a value."""
    if name.upper() in _NOT_SECRET_NAMES:
        return False
    words = name_words(name)
    if not words:
        return False
    quantity = not _QUANTITY_WORDS.isdisjoint(words)
    for word in words:
        if quantity and word in _COUNTABLE_WORDS:
            continue
        if word in SECRET_WORDS or word.endswith(SECRET_SUFFIXES):
            return True
        if word in _CERT_WORDS and _PUBLIC_CERT_WORDS.isdisjoint(words):
            return True
    if words[-1] in _LINK_WORDS and not _STORE_WORDS.isdisjoint(words[:-1]):
        return True
    if words[-1] in _FUSED_LINKS:  # flatcase: ``databaseurl``, ``REDISURL``, ``PG_CONNSTRING``
        return True
    if {"SERVICE", "ACCOUNT"} <= set(words) and words[-1] in ("JSON", "INFO"):
        return True  # a Google service account's JSON holds its private key
    if len(words) > 1 and words[-1] in ("HEADER", "HEADERS"):  # OTEL_EXPORTER_OTLP_HEADERS
        return True  # extra request headers are how exporters and webhooks get their auth
    return any(
        words[i] in ("CONNECTION", "CONN") and words[i + 1] in ("STRING", "STR")
        for i in range(len(words) - 1)
    )


# Shapes of well-known credentials: OpenAI/Anthropic ``sk-``, Stripe, Slack, GitHub, AWS access
# key ids, Google API keys, JWTs, PEM blocks.
_CREDENTIAL_SHAPES = re.compile(
    r"sk-[A-Za-z0-9_-]{8,}|[rsp]k_(live|test)_[A-Za-z0-9]{8,}|xox[abposr]-[A-Za-z0-9-]{8,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|A[KS]IA[0-9A-Z]{16}"
    r"|AIza[0-9A-Za-z_-]{30,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
_URL_USERINFO_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#@\s]*)@")


def url_userinfo(value: str) -> str | None:
    """The user-info of the first ``scheme://user:password@host`` URL in ``value`` (a token
    given as the user counts too: ``https://TOKEN@github.com``), None when there is none."""
    match = _URL_USERINFO_RE.search(value)
    return match.group(1) if match and match.group(1) else None


def holds_credential(value: str) -> bool:
    """Whether a value (a default in code, say) is or holds a credential: a URL with user-info,
    a URL whose query string has a secret-looking parameter (``?token=``, ``&api_key=``), or
    the shape of a well-known key. Tested in memory; the value is never shown."""
    if url_userinfo(value) is not None or _CREDENTIAL_SHAPES.search(value):
        return True
    for query in re.findall(r"://[^?#\s]*\?([^#\s]*)", value):
        for pair in query.split("&"):
            name, sep, rest = pair.partition("=")
            if sep and rest and looks_secret(name):
                return True
    return False


# Names that look like credentials --------------------------------------------------------------
#
# A name typed where a name belongs may be a key pasted by mistake: `secrets delete <key>`, a
# key in --agent or --target, PIPECAT_API_HOST and PIPECAT_API_KEY swapped. Such an argument
# often has the shape of a valid name (Deepgram's 32 hex digits are a valid set name), so a
# message that names what was not found would print the key. These rules decide when a name is
# shown only by a short prefix.

# Prefixes of real provider keys (case-sensitive): OpenAI and Anthropic (sk-), ElevenLabs,
# Stripe and Pipecat Cloud (sk_, rk_, pk_), Deepgram, AWS access key ids, GitHub, Groq,
# Hugging Face, Replicate, GitLab, Slack, Google, Stripe webhooks, JWTs.
CREDENTIAL_PREFIXES = (
    "sk-",
    "sk_",
    "rk_",
    "pk_",
    "xi-",
    "dg_",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "gsk_",
    "hf_",
    "r8_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxr-",
    "xoxs-",
    "AIza",
    "whsec_",
    "eyJ",
)
# At least this many characters after a prefix: "sk-bot" stays a name, "sk-proj-..." does not.
_PREFIX_TAIL = 4
# Letters and digits (separators not counted) below which nothing is called random.
_RANDOM_MIN = 16
_SHOWN_PREFIX = 4
# 32, 40 and 64 hex digits (Deepgram, AssemblyAI, Daily keys), in one run or as a UUID.
_HEX_RUN_MIN = 24
_HEX_RUN_RE = re.compile(r"(?<![A-Za-z0-9])[0-9A-Fa-f]+(?![A-Za-z0-9])")
_UUID_RE = re.compile(r"[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
_ALNUM_RUN_RE = re.compile(r"[A-Za-z0-9]+")
_LONG_RUN = 8
CREDENTIAL_NOT_SHOWN = "looks like a credential; not shown"


def _randomness(chars: str) -> int:
    """Places where a random string changes kind and words do not: letter to digit or back,
    and a capital followed by anything but a small letter (camelCase words are Capital+small).
    A hex or base62 key has one every two or three characters; names have a handful."""
    return sum(
        a.isdigit() != b.isdigit() or (a.isupper() and not b.islower())
        for a, b in itertools.pairwise(chars)
    )


def looks_like_credential(text: str) -> bool:
    """True when ``text`` is probably a key rather than a name: a known key prefix followed by
    more; 24 hex digits or more (in one run, or as a UUID); or long runs of letters and digits
    that change kind as often as a random token does, or have as few vowels. Runs are cut at
    every character that is not a letter or digit, and only runs of 8 or more count: names made
    of words, versions and dates (``voice_agent_v2.prod``, ``gpt4o-bot-2024-12-01``) stay names.
    """
    if any(text.startswith(p) and len(text) >= len(p) + _PREFIX_TAIL for p in CREDENTIAL_PREFIXES):
        return True
    if _UUID_RE.search(text) or any(len(run) >= _HEX_RUN_MIN for run in _HEX_RUN_RE.findall(text)):
        return True
    runs = _ALNUM_RUN_RE.findall(text)
    if sum(map(len, runs)) < _RANDOM_MIN:
        return False
    if all(run.isdigit() for run in runs):
        return sum(map(len, runs)) >= 20  # a long number: an account token, not a name
    long_runs = [run for run in runs if len(run) >= _LONG_RUN]
    size = sum(map(len, long_runs))
    if size < 12:
        return False
    score = sum(map(_randomness, long_runs))
    if score >= max(3, size // 5):
        return True
    letters = [c for run in long_runs for c in run if c.isalpha()]
    vowels = sum(c in "aeiouAEIOU" for c in letters)
    return size >= _RANDOM_MIN and vowels < 0.25 * len(letters) and score >= size // 10


def redact_name(text: str) -> str:
    """``text`` itself, or its first characters and an ellipsis when it looks like a
    credential: for URL paths and JSON fields, where no explanation fits."""
    if looks_like_credential(text):
        return text[:_SHOWN_PREFIX] + "…"
    return escape_text(text)


def display_name(text: str, what: str = "name") -> str:
    """A name for a message: quoted when it is safe to show; its first characters and why when
    it looks like a credential; only its length when it is not name-shaped at all."""
    if looks_like_credential(text):
        return f"'{text[:_SHOWN_PREFIX]}…' ({CREDENTIAL_NOT_SHOWN})"
    if _SHOWABLE_RE.fullmatch(text):
        return repr(text)
    return f"<a {what} of {len(text)} characters, not shown>"


def display_path(path: str) -> str:
    """A request path with each segment that looks like a credential cut to a prefix."""
    return "/".join(redact_name(segment) for segment in path.split("/"))


# Templates: placeholders are not values ---------------------------------------------------------
#
# Real templates (Pipecat's env.example, most of all) hold placeholders where values go, and plain
# defaults for settings that are no secret: `your_openai_api_key`, `<your-ngrok-domain>`, `sk-...`,
# `XXXX`, `ENV=local`. Such a line is a template line; a value that may be real is not.

# The one recogniser of placeholders: init, export and push (``is_placeholder``) and the no-values
# hook (``value_shapes``, check-files: ``hint=True``) use it. A marker swallows whole words only,
# never part of a run of letters and digits, so a real key written after ``my-`` or before
# ``_here`` is still judged. ``hint=True`` adds markers that show a committed file's line is a
# hint (``${OTHER}``, a lone ``<``, ``dummy``, ``yourdomain``) but may be part of a real value in
# a ``.env`` push sends (``${BASE}`` is interpolated; a password may hold ``***``).
_WORDS_AFTER = r"(?:[-_ ]?[A-Za-z]+(?![A-Za-z0-9]))*"
_PLACEHOLDER_MARKERS = rf"""<[^<>\n]*>                     # <your-key>, <base64_encoded_api_keys>
    | \.\.\. | \u2026                                # sk-..., ...
    | (?<![A-Za-z0-9])(?:your|my|enter|insert)(?![a-z]){_WORDS_AFTER}[-_]?    # your_key, YOUR_ID
    | (?<![A-Za-z0-9])(?:[A-Za-z]+[-_ ])+here(?![A-Za-z0-9])   # key-here, paste_your_key_here
    | (?<![A-Za-z0-9])(?:change|replace)[-_ ]?me(?![A-Za-z0-9])
    | (?<![A-Za-z0-9])(?:placeholder|todo|tbd|fixme)(?![A-Za-z0-9])
    | (?:^|/)path/to/(?:[A-Za-z_.-]+/)*[A-Za-z_.-]*(?![A-Za-z0-9])   # /path/to/key/file
    | x{{4,}} | \*{{4,}} | ^x{{3}}$                       # XXXX, ****, xxx
    """
_HINT_MARKERS = r"""xxx | \*\*\* | \$\{[A-Za-z_][A-Za-z0-9_]*\} | your | \bhere\b | replace
    | dummy | redacted | fill[-_ ]?in | < | >"""
_PLACEHOLDER_RE = re.compile(_PLACEHOLDER_MARKERS, re.VERBOSE | re.IGNORECASE)
_HINT_RE = re.compile(f"{_PLACEHOLDER_MARKERS} | {_HINT_MARKERS}", re.VERBOSE | re.IGNORECASE)
_PEM_ARMOR_RE = re.compile(r"-----(?:BEGIN|END)[A-Z0-9 ]*-----")


def has_placeholder(text: str, *, hint: bool = False) -> bool:
    """Whether ``text`` holds a placeholder anywhere (``your-key-here``, ``<your key>``,
    ``sk-...``, ``XXXX``, ``changeme``); with ``hint``, also a hint for the reader of a committed
    file (``1904587xxx``, ``${OTHER}``, ``dummy``, ``yourdomain``)."""
    return (_HINT_RE if hint else _PLACEHOLDER_RE).search(text) is not None


def cut_placeholders(text: str, *, hint: bool = False) -> str:
    """``text`` with every placeholder (``has_placeholder``) replaced by a space: what is left
    is judged as a possible value (``your-key:sk-...real...`` keeps its real part)."""
    return (_HINT_RE if hint else _PLACEHOLDER_RE).sub(" ", text)


def is_placeholder(value: str) -> bool:
    """Whether a template's value stands for a value rather than being one: empty, or with a
    placeholder (``has_placeholder``) and, once the placeholders are cut out, nothing left that
    looks like a key (a real key that happens to hold ``...`` stays a value)."""
    text = value.strip()
    if not text:
        return True
    if not has_placeholder(text):
        return False
    rest = _PEM_ARMOR_RE.sub(" ", cut_placeholders(text))  # a PEM of XXXX: no key
    return not any(looks_like_credential(part) for part in rest.split()) and not holds_credential(
        rest
    )


def is_template_value(key: str, value: str) -> bool:
    """Whether ``KEY=value`` may stand in a template: a placeholder (``is_placeholder``), or a
    plain default of a setting that is no secret (``ENV=local``, ``LOG_LEVEL=INFO``,
    ``LOCAL_SERVER_URL=http://localhost:7860``): one line, a name that does not look secret, no
    credential in it. A secret's name with any other value may be a real one."""
    if is_placeholder(value) or _named_after(key, value) or _names_a_path(key, value):
        return True
    return (
        "\n" not in value
        and "\r" not in value
        and not looks_secret(key)
        and not holds_credential(value)
        and not looks_like_credential(value)
    )


_WORDS_VALUE_RE = re.compile(r"[A-Za-z0-9]+(?:[-_. ][A-Za-z0-9]+)*")
_PATH_VALUE_RE = re.compile(r"~?\.{0,2}/?[A-Za-z0-9_][A-Za-z0-9_./-]*")


def _names_a_path(key: str, value: str) -> bool:
    """``GOOGLE_CREDENTIALS_PATH=./credentials.json``: where a secret is kept, not the secret
    (a name ending in PATH, FILE or DIR, and a value shaped like a path, no key shape in it)."""
    words = [w.upper() for w in name_words(key)]
    return (
        bool(words)
        and words[-1] in {"PATH", "FILE", "DIR", "FILENAME"}
        and _PATH_VALUE_RE.fullmatch(value) is not None
        and not any(looks_like_credential(part) for part in re.split(r"[/.]", value))
    )


def _named_after(key: str, value: str) -> bool:
    """A value made of words that spell its own key's name (``PINLESS_HMAC_SECRET=
    "hmac-secret-pinless-dialin"``, ``DB_PASSWORD=db-password``): a description of the value,
    not one; no generated credential holds the words of its variable's name."""
    if not _WORDS_VALUE_RE.fullmatch(value):
        return False
    words = {w.lower() for w in name_words(key)}
    parts = re.split(r"[-_. ]", value)
    return (
        bool(words)
        and words <= {w.lower() for w in parts}
        and not any(looks_like_credential(w) for w in parts)
    )


# Variables that libraries read (not the project's code): a template lists them for a reason.
LIBRARY_READS: tuple[tuple[str, str], ...] = (
    ("DAILY_API_KEY", "the Pipecat runner"),
    ("DAILY_ROOM_URL", "the Pipecat runner"),
    ("DAILY_API_URL", "the Pipecat runner"),
    ("DAILY_SAMPLE_ROOM_URL", "the Pipecat runner"),
    ("DAILY_SAMPLE_ROOM_TOKEN", "the Pipecat runner"),
    # create_transport's telephony serializers (hang-up through the provider's API)
    ("TWILIO_ACCOUNT_SID", "the Pipecat runner (Twilio serializer)"),
    ("TWILIO_AUTH_TOKEN", "the Pipecat runner (Twilio serializer)"),
    ("TELNYX_API_KEY", "the Pipecat runner (Telnyx serializer)"),
    ("PLIVO_AUTH_ID", "the Pipecat runner (Plivo serializer)"),
    ("PLIVO_AUTH_TOKEN", "the Pipecat runner (Plivo serializer)"),
    ("AWS_", "boto3 (the AWS SDK)"),
    ("OTEL_", "OpenTelemetry"),
    ("GOOGLE_APPLICATION_CREDENTIALS", "the Google Cloud client libraries"),
    ("HF_", "Hugging Face libraries"),
    ("LANGFUSE_", "Langfuse"),
    ("SENTRY_", "the Sentry SDK"),
)


def library_reading(name: str) -> str | None:
    """The library known to read ``name`` itself (``DAILY_API_KEY``: the Pipecat runner), or
    None. A name ending in ``_`` in ``LIBRARY_READS`` is a prefix."""
    upper = name.upper()
    for known, library in LIBRARY_READS:
        if upper == known or (known.endswith("_") and upper.startswith(known)):
            return library
    return None
