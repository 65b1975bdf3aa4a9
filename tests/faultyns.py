"""A small authoritative nameserver that misbehaves on purpose, for the faults a real
server cannot produce on demand (SERVFAIL, lame answers, forced truncation, wrong
message IDs, silence, malformed replies, transfers signed with another key).

It serves one zone from master-file text over UDP and TCP on 127.0.0.1 (or ::1)
at a free port, in a thread with its own event loop so synchronous tests (click's
CliRunner) can use it. The fault is chosen by the query name's first label
(`FAULTS`), so one zone holds healthy and faulty names side by side; `mode`
applies one fault to every query (and can be changed while it runs: a server
that comes back), and `tcp=False` leaves TCP closed. Zone transfers are answered
only when `transfer` says how (`TRANSFERS`); `keyring` holds the TSIG keys it
accepts on queries.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone

#: first label of the query name -> what the server does
FAULTS = {
    "servfail": "SERVFAIL",
    "refused": "REFUSED",
    "lame": "an answer with AA=0",
    "big": "TC=1 over UDP, the full answer over TCP",
    "bigbroken": "TC=1 over UDP, and TCP closes without a reply",
    "wrong": "a wrong value (A 192.0.2.254)",
    "badid": "the reply with message ID + 1",
    "drop": "no reply at all (TCP connections are held open, silent)",
    "cut": "the reply cut just after the first byte of a compression pointer (0xC0)",
    "badrdata": "an A record whose RDATA is 3 octets",
    "loop": "the answer's owner name a compression pointer to itself (a pointer loop)",
    "otherq": "the reply (right message ID) to another question: other.<zone> A",
    "badopt": "an OPT record with an extended RCODE of 0xFF and options cut short",
}
# a fault only a `mode` applies (to every query), not chosen by a label: "stray", 12
# octets that are no DNS message under another message ID (a late reply's debris)
#: how a zone transfer is answered (`transfer=`): None answers without a transfer
TRANSFERS = {
    "ok": "the whole zone in one message, signed with the query's key",
    "malformed": "the transfer message cut just after a compression pointer's first byte",
    "other-key": "the whole zone, signed with a key of another name",
    "one-per-connection": "the whole zone, as 'ok'; a connection that carried a query is"
                          " closed at the next one, unanswered (one query per connection)",
    "one-then-silent": "the whole zone, as 'ok'; a connection that carried a query ignores"
                       " the next ones and stays open",
}
#: the key "other-key" signs with
OTHER_KEY = dns.tsig.Key("other-key.", "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0zMmI=", "hmac-sha256")
#: respond(): close the TCP connection without a reply
CLOSE = b""


class FaultyNameserver:
    def __init__(self, origin: str, zone_text: str, host: str = "127.0.0.1",
                 mode: str | None = None, tcp: bool = True, transfer: str | None = None,
                 keyring: dict[dns.name.Name, dns.tsig.Key] | None = None):
        self.origin = dns.name.from_text(origin)
        self.zone = dns.zone.from_text(zone_text, origin=self.origin, relativize=False)
        self.host = host
        self.mode = mode
        self.serve_tcp = tcp  # False: nothing listens on the TCP port
        self.transfer = transfer
        self.keyring = keyring
        self.port = 0
        self.queries = 0  # every query received, UDP and TCP
        self.transfers = 0  # zone transfer (AXFR/IXFR) queries received
        self.connections = 0  # TCP connections accepted
        self.arrivals: list[str] = []  # "udp" or "tcp" for each query, in the order received
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> FaultyNameserver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def serve_here(self) -> None:
        """Serve on the running event loop, not a thread of its own: a server that shares
        the asker's loop stalls when the asker stalls (as embedded servers share verify's
        process and CPU). Stop with `stop_here()`."""
        self._loop.close()
        self._loop = asyncio.get_running_loop()
        await self._open()

    async def stop_here(self) -> None:
        await self._close()

    @property
    def address(self) -> str:
        """host:port as dnssync's provider files write it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def _open(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(20):  # a free port for UDP that is free for TCP too
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.bind((self.host, 0))
            port = udp.getsockname()[1]
            try:
                probe = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                udp.close()
                continue
            self.port = port
            if self.serve_tcp:
                self._tcp = probe
            else:
                probe.close()
                await probe.wait_closed()
            self._udp, _ = await self._loop.create_datagram_endpoint(
                lambda: _Udp(self), sock=udp)
            return
        raise RuntimeError("no free port")

    async def _close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    # -- answering -------------------------------------------------------------

    def fault(self, query: dns.message.Message) -> str | None:
        if self.mode:
            return self.mode
        name = query.question[0].name
        label = name.labels[0].decode().lower() if len(name) > len(self.origin) else ""
        return label if label in FAULTS else None

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        """The honest authoritative answer from the zone."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        node = self.zone.get_node(question.name)
        soa = self.zone.find_rrset(self.origin, dns.rdatatype.SOA)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(soa)
            return response
        rdataset = node.get_rdataset(dns.rdataclass.IN, question.rdtype)
        if rdataset is None:
            response.authority.append(soa)
        else:
            rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, question.rdtype)
            rrset.update(rdataset)
            response.answer.append(rrset)
        return response

    def respond(self, data: bytes, tcp: bool) -> bytes | None:
        """The bytes to send back for one query (None: stay silent; CLOSE: close TCP)."""
        self.queries += 1
        self.arrivals.append("tcp" if tcp else "udp")
        query = dns.message.from_wire(data, keyring=self.keyring)
        if query.question[0].rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            self.transfers += 1
            if self.transfer is not None and self.mode != "drop":
                return self.zone_transfer(query)
        fault = self.fault(query)
        response = self.answer(query)
        if fault == "drop":
            return None
        if fault == "stray":
            return struct.pack("!H", (query.id + 1) & 0xFFFF) + b"\xff" * 10
        if fault == "bigbroken" and tcp:
            return CLOSE
        if fault == "cut":
            return _cut(response)
        if fault == "badrdata":
            return _short_a(query)
        if fault == "loop":
            return _pointer_loop(query)
        if fault == "otherq":
            other = dns.message.make_query(dns.name.from_text("other", self.origin), dns.rdatatype.A)
            other.id = query.id
            reply = self.answer(other)
            reply.flags |= dns.flags.AA
            return reply.to_wire()
        if fault == "badopt":
            return _bad_opt(response.to_wire())
        if fault in ("servfail", "refused"):
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL if fault == "servfail" else dns.rcode.REFUSED)
        elif fault == "lame":
            response.flags &= ~dns.flags.AA
        elif fault in ("big", "bigbroken") and not tcp:
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA | dns.flags.TC
        elif fault == "wrong" and response.answer:
            question = query.question[0]
            response.answer = [dns.rrset.from_text(question.name, response.answer[0].ttl, "IN",
                                                   question.rdtype, "192.0.2.254")] \
                if question.rdtype == dns.rdatatype.A else response.answer
        wire = response.to_wire()
        if fault == "badid":
            wire = struct.pack("!H", (response.id + 1) & 0xFFFF) + wire[2:]
        return wire

    def zone_transfer(self, query: dns.message.Message) -> bytes:
        """The zone in one message: SOA, every other record, SOA (RFC 5936 2.2)."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        soa = self.zone.find_rrset(self.origin, dns.rdatatype.SOA)
        response.answer.append(soa)
        for name, node in self.zone.nodes.items():
            for rdataset in node.rdatasets:
                if not (name == self.origin and rdataset.rdtype == dns.rdatatype.SOA):
                    rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype)
                    rrset.update(rdataset)
                    response.answer.append(rrset)
        response.answer.append(soa)
        if self.transfer == "malformed":
            return _cut(response)
        if self.transfer == "other-key":
            response.use_tsig(OTHER_KEY)
        return response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = False
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                query = await reader.readexactly(length)
                if answered and self.transfer == "one-per-connection":
                    break
                if answered and self.transfer == "one-then-silent":
                    continue
                answered = True
                reply = self.respond(query, tcp=True)
                if reply is None:
                    continue  # silent: the connection stays open until the client gives up
                if reply == CLOSE:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _cut(response: dns.message.Message) -> bytes:
    """The reply's wire form cut after the first byte of its first answer's owner (a
    compression pointer, 0xC0), its counts left as they were."""
    data = response.to_wire()
    qname = response.question[0].name.to_wire()
    start = 12 + len(qname) + 4  # header, the question's name, type and class
    assert data[start] == 0xC0, "the first answer's owner is a pointer to the question"
    return data[:start + 1]


def _short_a(query: dns.message.Message) -> bytes:
    """An authoritative reply holding one A record with 3 octets of RDATA."""
    header = struct.pack("!HHHHHH", query.id, 0x8000 | 0x0400, 1, 1, 0, 0)
    question = query.question[0]
    rr = b"\xc0\x0c" + struct.pack("!HHIH", dns.rdatatype.A, 1, 300, 3) + b"\xc0\x00\x02"
    return header + question.name.to_wire() + struct.pack("!HH", question.rdtype, 1) + rr


def _pointer_loop(query: dns.message.Message) -> bytes:
    """An authoritative reply whose one answer's owner is `\\3www` then a compression
    pointer back to that same name: following it never ends."""
    header = struct.pack("!HHHHHH", query.id, 0x8000 | 0x0400, 1, 1, 0, 0)
    question = query.question[0]
    head = header + question.name.to_wire() + struct.pack("!HH", question.rdtype, 1)
    owner = b"\x03www" + struct.pack("!H", 0xC000 | len(head))
    return head + owner + struct.pack("!HHIH", question.rdtype, 1, 300, 4) + bytes([192, 0, 2, 1])


def _bad_opt(reply: bytes) -> bytes:
    """The reply with an OPT record added whose TTL claims extended RCODE 0xFF and whose
    RDATA is an option header without its data."""
    counts = list(struct.unpack_from("!HHHH", reply, 4))
    counts[3] += 1
    opt = b"\x00" + struct.pack("!HHIH", dns.rdatatype.OPT, 1232, 0xFF000000, 4) + struct.pack("!HH", 10, 8)
    return reply[:4] + struct.pack("!HHHH", *counts) + reply[12:] + opt


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: FaultyNameserver):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = self.server.respond(data, tcp=False)
        if reply and self.transport is not None:
            self.transport.sendto(reply, addr)
