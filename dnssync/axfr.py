"""Zone transfer (AXFR, RFC 5936) that never falls behind the server.

dnspython's `dns.query.xfr` parses each message before it reads the next. When
parsing is slow (a large zone, other threads busy) the server's send buffer
fills and Knot drops the connection after its TCP I/O timeout: the transfer
ends in EOF. Here a reader thread drains the socket while dnspython parses
behind it, so the transfer is as fast as the server, whatever the parsing
costs. Messages, TSIG signing and verification are dnspython's.
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig


class TransferRefused(dns.exception.DNSException):
    """The server answered the AXFR with an error rcode (REFUSED, NOTAUTH...)."""

    def __init__(self, rcode: int):
        super().__init__(dns.rcode.to_text(rcode))
        self.rcode = rcode


def _read_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError("connection closed by the server")
        data += chunk
    return data


def _reader(sock: socket.socket, out: queue.Queue) -> None:
    """Put every length-prefixed message on `out`, then the exception that ended reading."""
    try:
        while True:
            (length,) = struct.unpack("!H", _read_exact(sock, 2))
            out.put(_read_exact(sock, length))
    except Exception as e:  # EOF, timeout, or the socket closed by the parser when done
        out.put(e)


def transfer(host: str, zone: str, port: int = 53, keyring=None, keyname=None,
             keyalgorithm=dns.tsig.default_algorithm, timeout: float = 10.0) -> list[dns.rrset.RRset]:
    """AXFR `zone` from host:port; the RRsets in transfer order (SOA first, not repeated at the end).

    Raises TransferRefused, dns.tsig.PeerError (TSIG rejected), dns.exception.Timeout,
    EOFError or OSError."""
    query = dns.message.make_query(dns.name.from_text(zone), dns.rdatatype.AXFR)
    if keyring is not None:
        query.use_tsig(keyring, keyname, algorithm=keyalgorithm)
    wire = query.to_wire()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        messages: queue.Queue = queue.Queue()
        thread = threading.Thread(target=_reader, args=(sock, messages), daemon=True)
        thread.start()
        try:
            return _parse(messages, query, deadline)
        finally:
            sock.shutdown(socket.SHUT_RDWR) if thread.is_alive() else None
            thread.join(timeout=1)


def _parse(messages: queue.Queue, query: dns.message.Message, deadline: float) -> list[dns.rrset.RRset]:
    rrsets: list[dns.rrset.RRset] = []
    tsig_ctx = None
    soa_seen = 0
    while True:
        try:
            item = messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise dns.exception.Timeout from None
        if isinstance(item, Exception):
            raise item
        message = dns.message.from_wire(item, keyring=query.keyring, request_mac=query.mac, xfr=True,
                                        tsig_ctx=tsig_ctx, multi=True)
        tsig_ctx = message.tsig_ctx
        if message.rcode() != dns.rcode.NOERROR:
            raise TransferRefused(message.rcode())
        for rrset in message.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                soa_seen += 1
                if soa_seen == 2:  # the closing SOA (RFC 5936 2.2)
                    return rrsets
            rrsets.append(rrset)
