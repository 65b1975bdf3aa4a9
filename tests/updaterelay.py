"""A TCP relay in front of a real lab server that answers SERVFAIL to chosen update
messages, as a server failing for a moment does (a real server cannot be made to
fail on demand). Every other message goes to the real server and its real answer back.

The n-th update message that changes something (counted from 0; an empty update, the
"is the server itself failing?" check, is always relayed) is answered SERVFAIL when n
is in `fail`; the answer is signed with the server's TSIG key, as the real one is.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading

import dns.message
import dns.opcode
import dns.rcode
import dns.tsigkeyring


def _read(sock: socket.socket) -> bytes | None:
    """One length-prefixed DNS message from a TCP stream (None at its end)."""
    head = sock.recv(2, socket.MSG_WAITALL)
    if len(head) < 2:
        return None
    (length,) = struct.unpack("!H", head)
    return sock.recv(length, socket.MSG_WAITALL)


class ServfailRelay:
    """127.0.0.1:`port` -> the server at (`host`, `port`); see the module docstring."""

    def __init__(self, host: str, port: int, key_name: str, key_secret: str, fail: set[int]):
        self.target = (host, port)
        self.keyring = dns.tsigkeyring.from_text({key_name: ("hmac-sha256", key_secret)})
        self.fail = fail
        self.updates = 0
        self.answered: list[str] = []  # the rcode of every update message, in order
        self.names: list[list[str]] = []  # the names each changed
        relay = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                while (wire := _read(self.request)) is not None:
                    self.request.sendall(relay.answer(wire))

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire, keyring=self.keyring)
        changes = query.opcode() == dns.opcode.UPDATE and bool(query.sections[2])  # its update section
        if changes:
            self.updates += 1
            self.names.append(sorted({rrset.name.to_text() for rrset in query.sections[2]}))
            if self.updates - 1 in self.fail:
                response = dns.message.make_response(query)
                response.set_rcode(dns.rcode.SERVFAIL)
                self.answered.append("SERVFAIL")
                reply = response.to_wire()
                return struct.pack("!H", len(reply)) + reply
        with socket.create_connection(self.target, timeout=10) as upstream:
            upstream.sendall(struct.pack("!H", len(wire)) + wire)
            reply = _read(upstream) or b""
        if changes:
            self.answered.append(dns.rcode.to_text(reply[3] & 0x0F))  # the header's rcode
        return struct.pack("!H", len(reply)) + reply

    def __enter__(self) -> ServfailRelay:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
