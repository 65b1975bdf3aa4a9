"""A small authoritative nameserver that misbehaves on purpose, for the faults a real
server cannot produce on demand (SERVFAIL, lame answers, forced truncation, wrong
message IDs, silence).

It serves one zone from master-file text over UDP and TCP on 127.0.0.1 (or ::1)
at a free port, in a thread with its own event loop so synchronous tests (click's
CliRunner) can use it. The fault is chosen by the query name's first label
(`FAULTS`), so one zone holds healthy and faulty names side by side; `mode`
applies one fault to every query, and `tcp=False` leaves TCP closed.
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
    "drop": "no reply at all",
}


class FaultyNameserver:
    def __init__(self, origin: str, zone_text: str, host: str = "127.0.0.1",
                 mode: str | None = None, tcp: bool = True):
        self.origin = dns.name.from_text(origin)
        self.zone = dns.zone.from_text(zone_text, origin=self.origin, relativize=False)
        self.host = host
        self.mode = mode
        self.serve_tcp = tcp  # False: nothing listens on the TCP port
        self.port = 0
        self.queries = 0  # every query received, UDP and TCP
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
        """The bytes to send back for one query (None: stay silent)."""
        self.queries += 1
        query = dns.message.from_wire(data)
        fault = self.fault(query)
        response = self.answer(query)
        if fault == "drop" or (fault == "bigbroken" and tcp):
            return None
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

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = self.respond(await reader.readexactly(length), tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: FaultyNameserver):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = self.server.respond(data, tcp=False)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)
