"""Kept TCP connections (query/keptsockets.py): a connection the server closed between
two messages is never lent again, and a forked process never uses its parent's."""

from __future__ import annotations

import os
import resource
import socket
import struct
import threading
import time

import dns.message
import dns.query
import pytest

from dnssync.query.keptsockets import KeptSockets


class OneAnswerServer:
    """A TCP server on 127.0.0.1 that answers one DNS message per connection, then closes
    it (as a server whose idle timeout ran out between two messages)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                header = conn.recv(2, socket.MSG_WAITALL)
                if len(header) < 2:
                    continue  # closed by the client without a message
                query = dns.message.from_wire(conn.recv(struct.unpack("!H", header)[0], socket.MSG_WAITALL))
                answer = dns.message.make_response(query).to_wire()
                conn.sendall(struct.pack("!H", len(answer)) + answer)

    def close(self) -> None:
        self.listener.close()


def ask(kept: KeptSockets) -> socket.socket:
    sock = kept.lend()
    query = dns.message.make_query("a.test.", "SOA")
    assert dns.query.tcp(query, "127.0.0.1", timeout=2, sock=sock).id == query.id
    kept.give_back(sock)
    return sock


def test_a_connection_the_server_closed_is_not_lent_again():
    server = OneAnswerServer()
    try:
        kept = KeptSockets("127.0.0.1", server.port, 2)
        first = ask(kept)
        time.sleep(0.2)  # the server has closed it by now
        second = ask(kept)  # would fail on the closed connection
        assert second is not first and first.fileno() == -1  # the closed one was closed here too
        assert server.accepted == 2
    finally:
        server.close()


def test_a_kept_connection_carries_the_next_message(lab):
    """BIND and Knot take message after message on one connection."""
    for target in (lab.bind, lab.knot):
        kept = KeptSockets(target.address, target.port, 2)
        sockets = [ask(kept) for _ in range(5)]  # held, so no socket's id is reused
        assert all(sock is sockets[0] for sock in sockets), target.name
        kept.close()


def test_a_forked_process_does_not_use_its_parents_connection():
    server = OneAnswerServer()
    try:
        kept = KeptSockets("127.0.0.1", server.port, 2)
        sock = kept.lend()
        kept.give_back(sock)  # kept, open, in the parent
        pid = os.fork()
        if pid == 0:  # the child: a connection of its own, or exit 1
            os._exit(0 if kept.lend() is not sock else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert kept.lend() is sock  # the parent's is still the parent's
        sock.close()
    finally:
        server.close()


def test_a_connection_on_a_descriptor_from_1024_up_is_kept(lab):
    """An apply holding many files gets descriptors from 1024 up, where select.select
    refuses to look: the check must still see the connection open, or every message
    would pay a new connection again."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files is {hard}: raise it to 1200 or more (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = []
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        held.append(null)
        while held[-1] < 1030:
            held.append(os.dup(null))
        kept = KeptSockets(lab.bind.address, lab.bind.port, 2)
        first = ask(kept)
        assert first.fileno() >= 1024
        assert ask(kept) is first
        kept.close()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
