"""Zone transfer (AXFR, RFC 5936): the one implementation every stage uses.

Two things matter with real servers:

* Never fall behind. A transfer parsed message by message (dnspython's
  `dns.query.xfr`, octodns-bind's path) reads the next message only after parsing
  the previous one; when the process is busy the server's send buffer fills and
  Knot drops the connection after its TCP I/O timeout: the transfer ends in EOF.
  Here a reader thread drains the socket while the caller consumes behind it, from
  the second message on (a transfer of one message, a small zone's, needs none).
  Small zones, whose transfer fits in the socket buffers, are read on the event
  loop instead (`transfer_async`): a thread per transfer costs more than the
  transfer when a fleet's hundreds of small zones are verified.
* Cheap parsing. Replies are framed by `dnssync.query.wire` (owner, type, TTL and RDATA
  bytes located, not parsed) and TSIG is checked by dnspython's own
  `dns.tsig.validate` on every signed message, as dnspython's parser would.

Used by the RFC 2136 providers (reading a zone to plan) and by verify (whole-zone
comparison, extra records).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import os
import queue
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import dns.entropy
import dns.exception
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig

from dnssync.model.errors import DnssyncException
from dnssync.query import wire


class TransferRefused(DnssyncException, dns.exception.DNSException):
    """The server answered the transfer with an error (`rcode`), or with something that is
    not a transfer (`rcode` None)."""

    def __init__(self, message: str, rcode: int | None = None):
        super().__init__(message)
        self.rcode = rcode


class Silent(DnssyncException, dns.exception.Timeout):
    """No connection, or no first message on it, within the time given for an answer:
    the server said nothing (a longer transfer that stalls later is a plain Timeout)."""

    transient = True


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
    except Exception as e:  # EOF, timeout, or the socket shut down once the transfer is complete
        out.put(e)


def _signed(reply: wire.Reply) -> bool:
    return bool(reply.additional) and reply.additional[-1].rdtype == dns.rdatatype.TSIG


def _check_tsig(reply: wire.Reply, key: dns.tsig.Key, request_mac: bytes, ctx: Any) -> tuple[Any, bool]:
    """Validate one message of a signed transfer; returns the running context and
    whether this message was signed. The first message must be; later ones may be
    unsigned (RFC 8945 5.3.1), and are then folded into the next signature."""
    last = reply.additional[-1] if reply.additional else None
    if last is None or last.rdtype != dns.rdatatype.TSIG:
        if ctx is None:
            raise TransferRefused("the transfer is not signed although the query was (TSIG)")
        ctx.update(reply.wire)
        return ctx, False
    checked = _validated(reply, last, key, request_mac, ctx)
    if checked is not None:
        return checked, True
    owner = dns.name.from_wire(last.owner, 0)[0]
    if owner != key.name:
        raise dns.tsig.BadKey(f"{owner}, not {key.name}")
    return dns.tsig.validate(reply.wire, key, owner, reply.rdata(last), int(time.time()), request_mac,
                             last.start, ctx, True), True


def _validated(reply: wire.Reply, rr: wire.RR, key: dns.tsig.Key, request_mac: bytes, ctx: Any) -> Any:
    """`dns.tsig.validate`'s checks of one signed message, on its bytes: the MAC (BadSignature)
    and the time (BadTime), computed as dnspython computes them, with dnspython's own
    HMAC context (`get_context`), so a transfer's later messages may go either way. Its
    parse of the TSIG RDATA into objects was most of a signed transfer's cost, hundreds
    in a fleet's verify, plan and apply. Returns the context for the next message; None
    for anything but a plain HMAC signature from this key (another key or algorithm, an
    error the server reports, an odd RDATA), which `dns.tsig.validate` judges and words."""
    if not isinstance(ctx, (dns.tsig.HMACTSig, type(None))) or key.algorithm not in _HMAC_DIGESTS \
            or rr.owner != key.name.to_digestable():
        return None
    data, end = reply.wire, rr.offset + rr.length
    algorithm = key.algorithm.to_digestable()
    offset = rr.offset + len(algorithm)
    if data[rr.offset:offset].lower() != algorithm or offset + 10 > end:
        return None
    signed_at, fudge, size = data[offset:offset + 8], *_TSIG_FUDGE_SIZE.unpack_from(data, offset + 6)
    mac = data[offset + 10:offset + 10 + size]
    offset += 10 + size
    if offset + 6 > end:
        return None
    original_id, error, other = _TSIG_TAIL.unpack_from(data, offset)
    if error or other or offset + 6 != end:
        return None
    first = ctx is None
    if first:
        ctx = dns.tsig.get_context(key)
        if request_mac:
            ctx.update(len(request_mac).to_bytes(2, "big") + request_mac)
    count = int.from_bytes(data[10:12], "big") - 1  # the additional section less the TSIG
    ctx.update(original_id.to_bytes(2, "big") + data[2:10] + count.to_bytes(2, "big") + data[12:rr.start])
    if first:
        ctx.update(key.name.to_digestable() + _TSIG_CLASS_TTL + algorithm + signed_at + b"\x00\x00\x00\x00")
    else:
        ctx.update(signed_at)
    ctx.verify(mac)  # BadSignature
    if abs(int.from_bytes(signed_at[:6], "big") - int(time.time())) > fudge:
        raise dns.tsig.BadTime
    following = dns.tsig.get_context(key)
    following.update(len(mac).to_bytes(2, "big") + mac)
    return following


#: a TSIG RDATA's fudge and MAC size (after the 6 octets of its time), and its tail:
#: original ID, error, other data's length
_TSIG_FUDGE_SIZE = struct.Struct("!HH")
_TSIG_TAIL = struct.Struct("!HHH")


def tsig_signed(query: bytes, key: dns.tsig.Key, fudge: int = 300) -> tuple[bytes, bytes]:
    """`query` (a whole message, with no TSIG record yet) with a TSIG record
    signing it (RFC 8945 4.2: the MAC covers the message as it was before the record
    was added), and the MAC, which the reply's signature covers in turn.

    An HMAC key's MAC is computed here from the digest components of RFC 8945 4.3.3, in
    one `hmac.digest` call: dnspython's `dns.tsig.sign` built and replaced immutable
    RDATA objects around it, 0.12 ms a transfer, every transfer of a fleet (a test holds
    the two to the same MAC). Any other algorithm is dnspython's to sign."""
    qid = int.from_bytes(query[:2], "big")
    now = int(time.time())
    digest = _HMAC_DIGESTS.get(key.algorithm)
    if digest is None:
        unsigned = dns.rdtypes.ANY.TSIG.TSIG(dns.rdataclass.ANY, dns.rdatatype.TSIG, key.algorithm, 0, fudge,
                                             b"", qid, 0, b"")
        rdata, _ = dns.tsig.sign(query, key, unsigned, now)
        data, mac = rdata.to_wire(), rdata.mac
    else:
        name, size = digest
        signed_at = _TSIG_TIME.pack(now >> 32 & 0xFFFF, now & 0xFFFFFFFF, fudge)
        variables = (key.name.to_digestable() + _TSIG_CLASS_TTL + key.algorithm.to_digestable() + signed_at
                     + b"\x00\x00\x00\x00")  # error 0, no other data
        mac = hmac.digest(key.secret, query + variables, name)[:size]
        data = (key.algorithm.to_wire() + signed_at + len(mac).to_bytes(2, "big") + mac
                + qid.to_bytes(2, "big") + b"\x00\x00\x00\x00")
    record = key.name.to_wire() + _TSIG_FIXED.pack(dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(data)) + data
    count = int.from_bytes(query[10:12], "big") + 1  # the additional section gains the record
    return query[:10] + count.to_bytes(2, "big") + query[12:] + record, mac


#: HMAC algorithms (RFC 8945 6): the digest's name and the MAC's length (truncated ones shorter)
_HMAC_DIGESTS: dict[dns.name.Name, tuple[str, int]] = {
    dns.tsig.HMAC_MD5: ("md5", 16), dns.tsig.HMAC_SHA1: ("sha1", 20), dns.tsig.HMAC_SHA224: ("sha224", 28),
    dns.tsig.HMAC_SHA256: ("sha256", 32), dns.tsig.HMAC_SHA256_128: ("sha256", 16),
    dns.tsig.HMAC_SHA384: ("sha384", 48), dns.tsig.HMAC_SHA384_192: ("sha384", 24),
    dns.tsig.HMAC_SHA512: ("sha512", 64), dns.tsig.HMAC_SHA512_256: ("sha512", 32),
}
#: the TSIG record's class (ANY) and TTL (0), as the MAC covers them
_TSIG_CLASS_TTL = struct.pack("!HI", dns.rdataclass.ANY, 0)
#: time signed (48 bits) and fudge
_TSIG_TIME = struct.Struct("!HIH")
#: a TSIG record's type, class, TTL and RDATA length
_TSIG_FIXED = struct.Struct("!HHIH")


class _Stream:
    """One transfer's messages judged in order, without I/O: the thread reader
    (`transfer`) and the event loop (`transfer_async`) both feed it."""

    def __init__(self, zone: str, key: dns.tsig.Key | None):
        origin = dns.name.from_text(zone).to_wire()
        self.origin_wire = origin.lower()
        self.key = key
        self.id = dns.entropy.random_16()
        # the query dnspython's make_query + use_tsig would make (RD set), written directly:
        # dnspython's rendering cost more than the rest of a small zone's transfer
        request = wire.query_wire(self.id, origin, dns.rdatatype.AXFR, recursion=True, payload=0)
        self.mac = b""
        if key is not None:
            request, self.mac = tsig_signed(request, key)
        self.request = struct.pack("!H", len(request)) + request
        self.tsig_ctx: Any = None
        self.signed = False
        self.soas = 0
        self.trailing = False  # records came after the closing SOA in its message

    @property
    def done(self) -> bool:
        return self.soas >= 2

    def records(self, message: bytes) -> list[tuple[wire.Reply, wire.RR]]:
        """The records of one message, in order, the closing SOA left out."""
        key = self.key
        reply = wire.parse_reply(message)
        if reply.id != self.id:
            raise TransferRefused("the transfer reply has the wrong message ID")
        if key is not None and (reply.rcode == dns.rcode.NOERROR or _signed(reply)):
            # first, so a refusal says why: BADKEY, BADSIG, BADTIME (dns.tsig.PeerError)
            self.tsig_ctx, self.signed = _check_tsig(reply, key, self.mac, self.tsig_ctx)
        if reply.rcode != dns.rcode.NOERROR:
            hint = " (is the TSIG key right?)" if key and reply.rcode == dns.rcode.NOTAUTH else ""
            raise TransferRefused(f"transfer refused ({dns.rcode.to_text(reply.rcode)}){hint}", reply.rcode)
        if not reply.answer and not self.soas:
            raise TransferRefused("the server answered without a zone transfer")
        found = []
        for index, rr in enumerate(reply.answer):
            if rr.rdtype == dns.rdatatype.SOA and rr.owner == self.origin_wire:
                self.soas += 1
                if self.soas == 2:
                    self.trailing = index + 1 < len(reply.answer)
                    break
            elif not self.soas:
                raise TransferRefused("the transfer does not start with the zone's SOA")
            found.append((reply, rr))
        return found

    def finish(self) -> None:
        if self.key is not None and not self.signed:
            raise TransferRefused("the last message of the transfer is not signed (TSIG)")


def transfer(host: str, zone: str, port: int = 53, key: dns.tsig.Key | None = None,
             timeout: float = 20.0, answer_within: float | None = None) -> Iterator[tuple[wire.Reply, wire.RR]]:
    """Every record of the transfer of `zone` from host:port, in order: the zone's SOA
    first, the closing SOA left out. `timeout` bounds the whole transfer; `answer_within`
    (at most `timeout`) the connection and the first message, so that a server that says
    nothing is given up on (`Silent`) sooner than a long transfer is.

    Raises Silent (nothing within `answer_within`), TransferRefused, dns.tsig.PeerError
    (the server rejected the key), dns.tsig.BadKey (the reply is signed with another
    key), dns.tsig.BadSignature (the reply's signature does not verify), wire.Malformed
    (a message does not parse), dns.exception.Timeout, EOFError or OSError."""
    stream = _Stream(zone, key)
    deadline = time.monotonic() + timeout
    within = timeout if answer_within is None else min(answer_within, timeout)
    answered_by = time.monotonic() + within
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(within)
        try:
            sock.connect((host, port))
        except TimeoutError:
            raise Silent(timeout=within) from None
        sock.sendall(stream.request)
        # the first message read here: a small zone's whole transfer is one message, and
        # a reader thread cost more than reading it (a fleet's plan transfers hundreds, its
        # apply reads them back); a longer transfer gets its reader before any of its
        # records is handed out, so a slow caller never holds the reading up
        sock.settimeout(max(0.001, answered_by - time.monotonic()))
        try:
            (length,) = struct.unpack("!H", _read_exact(sock, 2))
        except TimeoutError:
            raise Silent(timeout=within) from None
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            first = stream.records(_read_exact(sock, length))
        except TimeoutError:
            raise dns.exception.Timeout from None
        if stream.done:
            yield from first
            stream.finish()
            return
        sock.settimeout(timeout)
        messages: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_reader, args=(sock, messages), daemon=True)
        reader.start()
        try:
            yield from first
            while not stream.done:
                try:
                    item = messages.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise dns.exception.Timeout from None
                if isinstance(item, Exception):
                    raise item
                yield from stream.records(item)
            stream.finish()
        finally:
            if reader.is_alive():
                sock.shutdown(socket.SHUT_RDWR)
            reader.join(timeout=1)


async def transfer_async(host: str, zone: str, port: int = 53, key: dns.tsig.Key | None = None,
                         timeout: float = 20.0, connections: Connections | None = None,
                         answer_within: float | None = None) -> list[tuple[wire.Reply, wire.RR]]:
    """`transfer` on the running event loop, for small zones: no thread to start (a
    fleet's verify transferred hundreds of 40-record zones, and the threads' start-up
    and their turns at the interpreter starved the event loop of the queries). A large
    zone needs `transfer`: its thread keeps reading while the caller is busy. With
    `connections`, a connection one transfer ended cleanly on carries the next one to
    the same address; one that gives no first byte within `answer_within` (default: a
    quarter of `timeout`) is given up for a new one. Raises what `transfer` raises."""
    stream = _Stream(zone, key)
    within = timeout / 4 if answer_within is None else min(answer_within, timeout)

    async def run() -> list[tuple[wire.Reply, wire.RR]]:
        kept = connections.take(host, port) if connections is not None else None
        if kept is not None:
            try:
                return await _over(kept, stream, connections, host, port, within=within)
            except _Stale:
                assert connections is not None
                connections.stale(host, port)
        return await _over(await _connect(host, port), stream, connections, host, port)

    try:
        return await asyncio.wait_for(run(), timeout)
    except TimeoutError:
        raise dns.exception.Timeout from None


async def _connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.open_connection(host, port)
    except OSError as e:  # asyncio words it "Connect call failed": say it as the socket does
        raise type(e)(e.errno, os.strerror(e.errno)) if e.errno else e from None


#: Linux's TCP_QUICKACK (None elsewhere), set before each wait for a message: it sends
#: the acknowledgement of what came so far at once. A server that writes a transfer as
#: several messages with Nagle's algorithm on (PowerDNS) holds each next one until the
#: last is acknowledged, and on a connection past its first transfer Linux delays
#: acknowledgements by up to 40 ms: measured, 44 ms a 3-message transfer instead of 1.4.
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class _Stale(DnssyncException):
    """A kept connection the server closed before it answered: ask again on a new one."""


async def _over(pair: tuple[asyncio.StreamReader, asyncio.StreamWriter], stream: _Stream,
                connections: Connections | None, host: str, port: int,
                within: float | None = None) -> list[tuple[wire.Reply, wire.RR]]:
    """One transfer on the connection `pair`, kept in `connections` when it ends cleanly
    (closed otherwise). On a kept connection (`within` given; None: a new one), the
    server's closing it before a byte of the answer, or saying nothing on it for `within` seconds, is
    `_Stale`, not a failure: servers close idle connections, and one that took a single
    query per connection and ignored the next would otherwise cost every later zone
    its whole transfer timeout."""
    reader, writer = pair
    sock = writer.get_extra_info("socket")
    clean = False
    answered = False
    try:
        writer.write(stream.request)
        await writer.drain()
        found = []
        while not stream.done:
            if _QUICKACK is not None:  # see _QUICKACK
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            if answered or within is None:
                header = await reader.readexactly(2)
            else:
                try:
                    header = await asyncio.wait_for(reader.readexactly(2), within)
                except TimeoutError:
                    raise _Stale from None
            (length,) = struct.unpack("!H", header)
            answered = True
            found += stream.records(await reader.readexactly(length))
        stream.finish()
        clean = not stream.trailing
        return found
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        if within is not None and not answered:
            raise _Stale from None
        if isinstance(e, ConnectionError):
            raise
        raise EOFError("connection closed by the server") from None
    finally:
        if clean and connections is not None:
            connections.keep(host, port, pair)
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class Connections:
    """TCP connections to nameserver addresses kept open between one event loop's
    transfers (`transfer_async`), and closed by `close` when its run is done.

    Why: a fleet's verify transfers every zone from every address, and a connection
    each cost a handshake and a teardown on both ends (about 8% of a 200-zone verify's
    worker time, and 600 connections to each provider for 200 zones, which a provider's
    nameservers may count against a limit). RFC 5936 4.1.2 has servers take several
    queries on one connection; PowerDNS, BIND, Knot and the embedded server do. A
    connection is kept only after a transfer that ended cleanly (its last message ended
    with the closing SOA); one the server closed while it was idle is replaced, and an
    address that closes a kept connection when asked on it, or says nothing on it, gets
    a new one per transfer from then on."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self._fresh_only: set[tuple[str, int]] = set()

    def take(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        idle = self._idle.get((host, port))
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    def keep(self, host: str, port: int, pair: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        if (host, port) in self._fresh_only:
            pair[1].close()
        else:
            self._idle.setdefault((host, port), []).append(pair)

    def stale(self, host: str, port: int) -> None:
        """The server closed a kept connection before answering on it: from now on a new
        connection per transfer to that address, as before."""
        self._fresh_only.add((host, port))
        for _, writer in self._idle.pop((host, port), []):
            writer.close()

    async def close(self) -> None:
        writers = [writer for idle in self._idle.values() for _, writer in idle]
        self._idle.clear()
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@functools.lru_cache(maxsize=64)
def tsig_key(name: str | None, secret: str | None, algorithm: str | None = None) -> dns.tsig.Key | None:
    """A TSIG key from octodns-bind's options (key_name, key_secret, key_algorithm); made
    once per options (dnspython decodes the secret and reads the names each time, for
    every transfer of a fleet's hundreds)."""
    if not name or not secret:
        return None
    return dns.tsig.Key(name, secret, algorithm or "hmac-sha256")


#: what a server means when it rejects a TSIG-signed message (dns.tsig.PeerError's kinds)
_TSIG_REJECTIONS = {
    "PeerBadKey": "the server does not know this TSIG key name (BADKEY)",
    "PeerBadSignature": "the TSIG secret does not match the server's (BADSIG)",
    "PeerBadTime": "the clocks differ too much for TSIG (BADTIME)",
    "PeerBadTruncation": "the server rejected the TSIG MAC length (BADTRUNC)",
}


def tsig_problem(error: Exception) -> str:
    """Why the server rejected a TSIG-signed transfer or update, in words."""
    kind = type(error).__name__
    return _TSIG_REJECTIONS.get(kind, f"TSIG failure ({kind})")


def failure_text(error: Exception, timeout: float) -> str:
    """Why a zone transfer (`transfer`, `transfer_async`) failed, in words: the one
    translation of its exceptions, for verify and the RFC 2136 providers alike."""
    if isinstance(error, TransferRefused):
        return str(error)
    if isinstance(error, dns.tsig.PeerError):  # the server says so (BADKEY, BADSIG, BADTIME)
        return f"TSIG rejected by the server: {tsig_problem(error)}"
    if isinstance(error, dns.tsig.BadKey):
        return f"the reply is signed with another key ({error})"
    if isinstance(error, dns.tsig.BadSignature):
        return "the reply's TSIG signature does not verify with the key"
    if isinstance(error, Silent):
        return f"no answer within {error.kwargs['timeout']:g} s"
    if isinstance(error, dns.exception.Timeout):
        return f"no complete transfer within {timeout:g} s"
    if isinstance(error, wire.Malformed):
        return f"a transfer message is malformed: {error}"
    return f"transfer failed: {type(error).__name__}: {error}".rstrip(": ")


def failure_transient(error: Exception) -> bool:
    """Whether a failed transfer may succeed when tried again (the network, a timeout)
    rather than never without a change (a refusal, a TSIG key, a malformed message)."""
    return isinstance(error, dns.exception.Timeout | OSError | EOFError)
