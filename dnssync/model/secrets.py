"""Secrets: read only from the environment, and never printed or logged.

Every secret value dnssync resolves is registered here. `redact()` blanks them
out of any text, and `RedactingFilter` does the same for every log record, so a
plugin that logs its TSIG secret at debug level (octodns-bind does) or an
exception that echoes a header still shows nothing under `dnssync --debug`.
"""

from __future__ import annotations

import base64
import logging
import re

#: option names whose values are secrets (api_key, key_secret, password, token, private_key,
#: consumer_key, auth_key, credentials...), even when written inline
SECRET_KEY_RE = re.compile(r"secret|passw|token|credential|auth|private|key", re.I)
#: ...except the names of keys and their algorithms, which error messages should show
NOT_SECRET_RE = re.compile(r"(_name|_algorithm|_alg|_id)$", re.I)

_secrets: set[str] = set()
MASK = "********"


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_RE.search(key)) and not NOT_SECRET_RE.search(key)


def register(value: object) -> None:
    """Remember a secret so it is masked wherever it would appear: as given, stripped
    (a secret file or CI variable often ends in a newline), as Python shows it in a
    repr (`\\n` escaped), in lower and upper case (a server or a header that folds
    case echoes it so), base64-encoded (HTTP basic auth, a plugin that encodes it) and
    base64-decoded (a TSIG secret in a repr of the key bytes)."""
    text = str(value)
    stripped = text.strip()
    forms = {text, stripped, repr(text)[1:-1], repr(stripped)[1:-1]}
    forms |= {f.lower() for f in forms} | {f.upper() for f in forms}
    encoded = base64.b64encode(stripped.encode()).decode()
    forms |= {encoded, encoded.rstrip("=")}
    for form in forms:
        if len(form) >= 4:  # shorter is too common to mask without mangling ordinary text
            _secrets.add(form)
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        return
    if len(raw) >= 4:
        _secrets.add(repr(raw)[2:-1])


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True
