"""TCP connections to one server kept between the messages of a run (RFC 2136 updates
sent zone after zone by an apply), each used by one thread at a time.

Why: an apply's RFC 2136 provider sent every update message on a new connection, and
the handshake, the teardown and the server's accept were about a fifth of the time its
apply threads spent sending (py-spy, 200 zones to BIND and Knot). A server takes any
number of messages on one connection (RFC 1035 4.2.2, RFC 7766 6.2.1).

A kept connection the server has closed meanwhile (an idle timeout between two
zones) is seen before it is used: it is readable with nothing to read. Any failure
on a connection drops it: its state is unknown, and the caller reports the failure as
before (an update is never sent twice by this module). A process forked while a
connection was kept never uses its parent's: connections are kept per process.
"""

from __future__ import annotations

import os
import select
import socket
import threading


class KeptSockets:
    """Connected non-blocking TCP sockets to host:port, lent to one thread at a time
    (`lend`), given back after a message was answered (`give_back`), or closed by the
    borrower after a failure."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self._lock = threading.Lock()
        self._idle: list[socket.socket] = []
        self._pid = os.getpid()

    def lend(self) -> socket.socket:
        """A kept socket the server has not closed, else a new connection (OSError when
        it cannot be made, within the timeout)."""
        while True:
            with self._lock:
                if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use
                    self._idle, self._pid = [], os.getpid()
                kept = self._idle.pop() if self._idle else None
            if kept is None:
                break
            if _open(kept):
                return kept
            kept.close()
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setblocking(False)  # as dnspython's dns.query.tcp wants a socket it is given
        return sock

    def give_back(self, sock: socket.socket) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._idle.append(sock)
                return
        sock.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


def _open(sock: socket.socket) -> bool:
    """Whether a kept connection is still open: between two messages the server has
    nothing to say, so a readable socket is one it closed (or that has stray bytes,
    which would be taken for the next answer)."""
    poll = select.poll()  # not select.select: it refuses descriptors from 1024 up
    try:
        poll.register(sock, select.POLLIN)
        return not poll.poll(0)
    except (OSError, ValueError):
        return False
