"""What to do about a provider that fails: one line naming the provider, where it was
reached and why, with the next step, instead of a library's nested exception text
(`HTTPConnectionPool(...): Max retries exceeded ... NewConnectionError(...)`).

`build_provider` attaches a `Hints` to each provider it builds (the provider class,
where it connects, which environment variable holds each secret), so a stage that
catches an error can explain it without knowing the configuration."""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import requests
from octodns.provider.base import BaseProvider

from dnssync.model.errors import DnssyncException
from dnssync.model.secrets import redact

#: the attribute holding a built provider's `Hints`
HINTS_ATTR = "_dnssync_hints"

#: extras of the dnssync-verified distribution that install a provider plugin
EXTRAS = {"octodns_route53": "route53", "octodns_cloudflare": "cloudflare"}


@dataclass
class Hints:
    name: str
    cls: str
    host: str | None = None
    port: Any = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}" if self.host and self.port else str(self.host or "")

    @property
    def embedded(self) -> bool:
        return self.cls == "embedded" or self.cls.endswith("EmbeddedProvider")


def hints_of(provider: object) -> Hints | None:
    return getattr(provider, HINTS_ATTR, None)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and every error it was raised from, and the reasons urllib3 keeps."""
    seen: list[BaseException] = []
    todo = [error]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None)]
        todo += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
    return seen


def _cause(error: BaseException) -> str | None:
    """A connection failure's cause in a few words, or None when it is no connection failure."""
    chain = _chain(error)
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text \
            or "[Errno 111]" in text:
        return "connection refused"
    if any(isinstance(e, OSError) and e.errno == errno.EHOSTUNREACH for e in chain):
        return "host unreachable"
    if re.search(r"Name or service not known|NameResolutionError|getaddrinfo failed|nodename nor servname",
                 text):
        return "host name not found"
    if any(isinstance(e, TimeoutError) for e in chain) or re.search(r"timed out|ConnectTimeout", text):
        return "no answer (timed out)"
    names = {type(e).__name__ for e in chain}
    if names & {"ConnectionError", "NewConnectionError", "MaxRetryError", "ProtocolError"}:
        return "connection failed"
    return None


def _host_in(text: str) -> str | None:
    match = re.search(r"host='([^']+)', port=(\d+)", text)
    return f"{match.group(1)}:{match.group(2)}" if match else None


def explain(error: BaseException, provider: object | None) -> str | None:
    """One line for an error a user can act on (connection, HTTP 401/403), else None."""
    hints = hints_of(provider)
    # octodns-powerdns raises a bare Exception("PowerDNS unauthorized ...") while handling
    # the HTTPError: the response is found along the chain
    response = next((r for e in _chain(error) if getattr(r := getattr(e, "response", None), "status_code", None)),
                    None)
    status = getattr(response, "status_code", None)
    name = f"provider {hints.name} ({hints.cls})" if hints else "the provider"
    if status in (401, 403):
        secret = next((v for k, v in (hints.env if hints else {}).items()
                       if re.search(r"key|token|secret|password", k, re.I)), None)
        what = f"the API key from env {secret}" if secret else "its credentials"
        return (f"{name}: HTTP {status} from {response.url}: {what} was refused (check the value the"
                " variable holds, and that the key is enabled for this API)")
    cause = _cause(error)
    if cause is None:
        return None
    where = (hints.where if hints else "") or _host_in(" ".join(str(e) for e in _chain(error))) or "?"
    step = ""
    if cause in ("connection refused", "no answer (timed out)", "connection failed"):
        step = f": is the server at {where} running?"
        if hints is None or hints.embedded:
            step += " (for the embedded providers: `dnssync serve`)"
    elif cause == "host name not found":
        step = ": check `host:` in its provider file"
    return f"{name} at {where}: {cause}{step}"


def install_hint(module: str) -> str:
    """How to install the plugin a provider class lives in (octodns_route53 -> octodns-route53)."""
    package = module.split(".")[0]
    if not package.startswith("octodns"):
        return ""
    hint = f"pip install {package.replace('_', '-')}"
    if package in EXTRAS:
        hint += f" (or dnssync-verified[{EXTRAS[package]}])"
    return hint


def describe_error(error: BaseException, provider: BaseProvider | None = None) -> str:
    """A one-line, secret-free description of why a provider failed; with what to do
    about it where that is known (see providers/hints.py). An error that is `worded`
    (breaker.NotAsked) already says all of that, and is kept as it is."""
    explained = None if getattr(error, "worded", False) else explain(error, provider)
    if explained:
        return " ".join(redact(explained).split())
    response = getattr(error, "response", None)
    text = str(error) or type(error).__name__
    if response is not None and getattr(response, "status_code", None):
        detail = ""
        try:
            detail = response.json().get("error", "")
        except Exception:  # a non-JSON error body
            detail = (response.text or "")[:200]
        text = f"HTTP {response.status_code} from {response.url}" + (f": {detail}" if detail else "")
    elif type(error).__module__.startswith(("requests", "urllib3")):
        text = f"{type(error).__name__}: {text}"
    return " ".join(redact(text).split())  # redact first: a secret may contain white space


def unreachable(error: BaseException) -> bool:
    """Whether the provider gave no answer at all (refused, unreachable, not found, timed
    out), as opposed to answering with an error: what opens its breaker (breaker.py)."""
    return _cause(error) is not None


def is_transient(error: BaseException) -> bool:
    """Whether trying again later may succeed (network, timeouts, 5xx), or not (4xx, REFUSED).
    An exception dnssync defines says so itself (`transient`, model/errors.py); other
    libraries' exceptions (requests, dnspython, the OS) are translated here: the one rule
    apply's retries and plan's quick read both follow."""
    if isinstance(error, DnssyncException):
        return error.transient
    if isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else 0
        return status >= 500 or status == 429
    if isinstance(error, requests.RequestException):  # also an OSError: only these two pass
        return isinstance(error, requests.ConnectionError | requests.Timeout)
    return isinstance(error, dns.exception.Timeout | OSError | EOFError)
