"""One HTTP request on a connection of its own, for an API on plain HTTP.

Why: requests costs about 1.3 ms of CPU a request on top of http.client (its session,
preparation, adapter and connection-pool layers: 2.0 against 0.75 ms for one GET of a
40-record zone from the lab's PowerDNS, `time.process_time` over 300 requests), and
PowerDNS's webserver closes every connection (`Connection: close`), so requests' pool
saves nothing there. A fleet's apply sends PowerDNS three requests a zone, and each
PATCH is sent while holding PowerDNS's write lock, which every worker waits on.

What a caller gets is what requests would give: a `requests.Response` (status,
reason, headers, body, URL), and requests' own exception types for a failure, the OS
error kept as their cause, with the `HTTPConnectionPool(host=..., port=...)` prefix
requests writes. So octodns-powerdns and providers/hints.py read answers and failures
exactly as before. Used only where requests adds nothing: plain http, no proxy and no
credentials from ~/.netrc (providers/powerdns.py decides).
"""

from __future__ import annotations

import http.client
import io
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

#: request headers the connection decides itself: its own length, no compression
#: (nothing here would decode it), and one request per connection
_OWN_HEADERS = {"content-length", "accept-encoding", "connection", "host"}

Timeout = float | tuple[float, float] | None


def exchange(method: str, url: str, headers: dict[str, str], data: Any, timeout: Timeout) -> requests.Response:
    """Send `method` to `url` (http://host:port/path) with `data` as its JSON body
    (None: no body) and return the answer, whatever its status; requests' semantics
    for `timeout` (seconds, or (connect, read))."""
    host, port, target = _split(url)
    connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    sent = {k: v for k, v in headers.items() if k.lower() not in _OWN_HEADERS}
    sent["Connection"] = "close"
    body = None
    if data is not None:
        body = json.dumps(data, allow_nan=False).encode()  # as requests' `json=` encodes it
        sent["Content-Type"] = "application/json"
    where = f"HTTPConnectionPool(host='{host}', port={port})"
    connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    try:
        try:
            connection.connect()
        except TimeoutError as e:
            raise requests.exceptions.ConnectTimeout(f"{where}: connection to {host} timed out") from e
        except OSError as e:
            raise requests.exceptions.ConnectionError(f"{where}: failed to establish a new connection: {e}") from e
        connection.sock.settimeout(read_timeout)
        try:
            connection.request(method, target, body=body, headers=sent)
            answer = connection.getresponse()
            content = answer.read()
        except TimeoutError as e:
            raise requests.exceptions.ReadTimeout(f"{where}: read timed out") from e
        except (OSError, http.client.HTTPException) as e:
            raise requests.exceptions.ConnectionError(f"{where}: connection aborted: {e!r}") from e
    finally:
        connection.close()
    response = requests.Response()
    response.status_code = answer.status
    response.reason = answer.reason
    response.headers = CaseInsensitiveDict(answer.getheaders())
    response.encoding = get_encoding_from_headers(response.headers)
    response.raw = io.BytesIO(content)  # what `.content`, `.json()` and `.text` read
    response.url = url
    return response


def _split(url: str) -> tuple[str, int, str]:
    """(host, port, path and query) of an http:// URL."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname or "", parts.port or 80, target
