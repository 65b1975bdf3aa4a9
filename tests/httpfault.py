"""A small HTTP proxy in front of a real API (the lab's PowerDNS, moto's Route53) that
fails chosen requests: the HTTP 5xx, 4xx, throttling and mid-run failures a healthy
server will not produce on demand. Every other request, and every answer, is the
real server's; `bodies` keeps what each request sent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

#: (method, path, how many such requests came before) -> a status (or status and body)
#: to answer instead, or None to pass the request on
Decide = Callable[[str, str, int], int | tuple[int, bytes] | None]
#: request headers not passed on (the proxy's own connection)
HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding"}


class FaultyProxy:
    def __init__(self, target: str, decide: Decide):
        self.target = target.rstrip("/")
        self.decide = decide
        self.seen: dict[tuple[str, str], int] = {}
        self.log: list[tuple[str, str, int]] = []
        self.bodies: list[tuple[str, str, bytes]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = (self.command, self.path.split("?")[0])
                count = proxy.seen.get(key, 0)
                proxy.seen[key] = count + 1
                decided = proxy.decide(self.command, key[1], count)
                proxy.bodies.append((self.command, key[1], body))
                content_type = "application/json"
                if decided is None:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                    answer = requests.request(self.command, proxy.target + self.path, data=body or None,
                                              headers=headers, timeout=30)
                    status, payload = answer.status_code, answer.content
                    content_type = answer.headers.get("Content-Type", content_type)
                elif isinstance(decided, tuple):
                    status, payload = decided
                    content_type = "text/xml" if payload.startswith(b"<") else content_type
                else:
                    status, payload = decided, b'{"error": "injected by the test proxy"}'
                proxy.log.append((self.command, key[1], status))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PATCH = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
