"""Secrets: where an API key comes from, and how every report, log and error hides it.

One placeholder (``REDACTED``) everywhere; the plugin redacts what it knows, ``redact`` catches what slips.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

API_KEY_ENV = ("EVALSUITE_API_KEY", "OPENAI_API_KEY")
"""Environment variables read, in order, when no ``--api-key`` is given."""


def api_key(explicit: str | None = None) -> str | None:
    """``explicit``, else the first of ``API_KEY_ENV`` that is set, else None."""
    return explicit or next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``REDACTED``."""
    return text.replace(secret, REDACTED) if secret else text


REDACTED = "***REDACTED***"

# Key parts that name a secret. Parts, not substrings: "max_tokens" and "tokenizer" are not secrets.
_SECRET_PARTS = {
    "key",
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "credentials",
    "authorization",
    "auth",
    "cookie",
}
_SECRET_IN_TEXT = re.compile(
    r"(?i)((?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password)\s*[=:]\s*)[^\s,;&'\"]+"
    r"|\b(?:sk-[A-Za-z0-9_-]{16,}|hf_[A-Za-z0-9]{20,})"
)


def _is_secret_key(key: str) -> bool:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)  # apiKey -> api_Key
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if p]
    return any(p in _SECRET_PARTS for p in parts) or "secret" in key.lower() or "password" in key.lower()


def redact(value: Any) -> Any:
    """Copy ``value`` with secrets replaced by ``***REDACTED***``, at any depth.

    A dict entry is redacted when its key names a secret (``api_key``, ``hf_token``, ``apiKey``,
    ``db_password``, ...); strings anywhere are scrubbed of ``--api-key=...``-like pairs and of
    OpenAI/Hugging Face token shapes. Defensive: the plugin redacts before, this catches what slips.
    """
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if _is_secret_key(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_IN_TEXT.sub(lambda m: (m.group(1) or "") + REDACTED, value)
    return value
