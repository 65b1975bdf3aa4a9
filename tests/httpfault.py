"""A small HTTP proxy in front of the lab's real PowerDNS API that fails chosen
requests: the HTTP 5xx, 4xx and mid-run failures a healthy server will not produce
on demand. Every other request, and every answer, is the real server's."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

#: (method, path, how many such requests came before) -> a status to answer instead, or None
Decide = Callable[[str, str, int], int | None]


class FaultyProxy:
    def __init__(self, target: str, decide: Decide):
        self.target = target.rstrip("/")
        self.decide = decide
        self.seen: dict[tuple[str, str], int] = {}
        self.log: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = (self.command, self.path.split("?")[0])
                count = proxy.seen.get(key, 0)
                proxy.seen[key] = count + 1
                status = proxy.decide(self.command, key[1], count)
                if status is None:
                    headers = {k: v for k, v in self.headers.items() if k.lower() in ("x-api-key", "content-type")}
                    answer = requests.request(self.command, proxy.target + self.path, data=body or None,
                                              headers=headers, timeout=10)
                    status, payload = answer.status_code, answer.content
                else:
                    payload = b'{"error": "injected by the test proxy"}'
                proxy.log.append((self.command, key[1], status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
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
