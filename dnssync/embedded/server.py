"""The embedded nameserver: asyncio UDP and TCP on one address, in a thread of its own.

It serves what its provider wrote: zones arrive as RFC 2136 updates (a zone is
created by its first update, as a hosted provider's API creates it) and are read
back over AXFR, so `dnssync.embedded.provider.EmbeddedProvider` is dnssync's
RFC 2136 provider unchanged, and stopping the server is a real outage that
makes plan and apply fail there. With a `data_dir` every zone is kept as a
master file and reloaded on start, so a server that comes back after an
outage still has its zones, like a real one.

The event loop runs in a daemon thread so that synchronous callers (the CLI,
tests, the demo) can start, break and stop servers in-process, without root and
without leaving processes behind. Updates and transfers are accepted from
loopback clients only: the embedded server is for one machine, not a network.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.update
from dns.name import Name

from dnssync import __version__
from dnssync.embedded.answer import Sections, answer, zone_for
from dnssync.embedded.control import serve_control
from dnssync.embedded.faults import Faults
from dnssync.embedded.signing import KeyStore, Signer
from dnssync.embedded.update import UpdateRefused, apply_update
from dnssync.embedded.zonedata import HOSTED_SOA, SoaSettings, ZoneData, origin_of, zone_file_name
from dnssync.model.address import format_address
from dnssync.model.errors import DnssyncError

log = logging.getLogger(__name__)

#: the EDNS payload advertised, and the largest UDP answer sent (as PowerDNS and BIND default)
UDP_PAYLOAD = 1232
#: bytes of RRsets per zone-transfer message (each message must stay below 64 KiB)
XFR_CHUNK = 16000
TCP_IDLE = 10.0


class ServerError(DnssyncError):
    """The server could not start (address in use, bad data directory) or is not running."""


def _loopback(peer: Any) -> bool:
    try:
        return ipaddress.ip_address(str(peer[0]).split("%")[0]).is_loopback
    except (ValueError, TypeError, IndexError):
        return False


class EmbeddedServer:
    """One authoritative nameserver at host:port (port 0 picks a free one).

    `nameserver` is its NS-record name (the MNAME of the zones it creates), `soa` the
    rest of their SOA. `set_faults()` and `clear_faults()` break and repair it while it runs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, nameserver: str = "ns.embedded.",
                 data_dir: Path | None = None, control_path: Path | None = None,
                 soa: SoaSettings = HOSTED_SOA, signs: Callable[[str], bool] | bool = False):
        self.host = host
        self.port = port
        self.nameserver = dns.name.from_text(nameserver)
        self.soa = soa
        self.data_dir = data_dir
        self.control_path = control_path
        self.zones: dict[Name, ZoneData] = {}
        self._keys = KeyStore(data_dir / "keys" if data_dir else None)
        self.signer: Signer | None = None
        self.set_signing(signs)
        self.faults = Faults()
        self.queries = 0  # answered or not: how many queries reached the server
        self._stale: dict[Name, ZoneData] = {}
        self._lied: tuple[Any, Any, dict[Name, ZoneData]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = False
        self._transports: list[Any] = []
        self._udp_closed: asyncio.Future[None] | None = None  # set once the UDP socket is closed
        self._control: asyncio.AbstractServer | None = None

    # -- life cycle (any thread) ------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    def start(self) -> EmbeddedServer:
        """Load the data directory, bind UDP and TCP, serve in a background thread."""
        if self.running:
            return self
        self.zones = self._load()
        self.faults, self._stale, self._lied = Faults(), {}, None  # a server comes back healthy
        self._stopping = False
        started: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True,
                                        name=f"dnssync-embedded-{self.address}")
        self._thread.start()
        try:
            started.result(timeout=10)
        except BaseException:  # also Ctrl-C while starting: never leave a server behind
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Close every socket and end the thread; the zones stay in the data directory."""
        self._stopping = True  # before reading _loop: a loop starting now sees the flag
        if self._loop is not None and self._stop is not None and self.running:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = self._loop = self._stop = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_signing(self, signs: Callable[[str], bool] | bool) -> None:
        """Sign every zone (True), the zones `signs(name)` says, or none (False): online DNSSEC
        signing (signing.py), as a provider's console turns it on. Each zone keeps its keys."""
        self.signer = None if signs is False else Signer(
            self._keys, (lambda zone: True) if signs is True else signs, self.soa.dnskey_ttl)

    def set_faults(self, **changes: Any) -> Faults:
        """Change some faults (see `Faults`); returns them all. Safe from any thread."""
        return self._call(self.apply_faults(self.faults.changed(**changes)))

    def clear_faults(self) -> Faults:
        return self._call(self.apply_faults(Faults()))

    def _call(self, coroutine: Any) -> Any:
        if self._loop is None or not self.running:
            coroutine.close()
            raise ServerError(f"embedded server {self.address} is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    # -- the event loop thread ----------------------------------------------------------

    def _run(self, started: Future) -> None:
        try:
            asyncio.run(self._main(started))
        except BaseException as e:  # a bind failure is reported to start(), never lost
            if not started.done():
                started.set_exception(e)

    async def _main(self, started: Future) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        try:
            await self._open()
            if self.control_path is not None:
                self._control = await serve_control(self, self.control_path)
            started.set_result(True)
            if not self._stopping:
                await self._stop.wait()
        finally:
            await self._close()
            if self._control is not None:
                self._control.close()
                self._control = None
                self.control_path.unlink(missing_ok=True)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        tcp: asyncio.AbstractServer | None = None
        try:
            tcp = await asyncio.start_server(self._tcp_client, self.host, self.port,
                                             reuse_address=True)
            self.port = tcp.sockets[0].getsockname()[1]
            udp, protocol = await loop.create_datagram_endpoint(lambda: _Udp(self),
                                                                local_addr=(self.host, self.port))
        except OSError as e:
            if tcp is not None:  # TCP was bound, UDP was not: free the TCP port too
                tcp.close()
            raise ServerError(f"cannot listen on {self.address}: {e.strerror or e}"
                              " (is another server using it?)") from None
        self._transports = [tcp, udp]
        self._udp_closed = protocol.closed

    async def _close(self) -> None:
        """Close both sockets, and return only once they are closed (a `down` fault is
        an outage from the moment it is set; the address is free for another process)."""
        for transport in self._transports:
            transport.close()
        for transport in self._transports:
            if isinstance(transport, asyncio.AbstractServer):
                await transport.wait_closed()
        if self._udp_closed is not None:
            await self._udp_closed
        self._transports, self._udp_closed = [], None

    async def apply_faults(self, faults: Faults) -> Faults:
        """Switch to `faults` (on the loop): snapshot for `stale`, close or reopen for `down`."""
        if faults.stale and not self.faults.stale:
            self._stale = self.zones
        if faults.down and not self.faults.down:
            await self._close()
        elif not faults.down and self.faults.down:
            await self._open()
        self.faults = faults
        log.info("embedded %s: %s", self.address, faults.describe())
        return faults

    def serials(self) -> dict[str, int]:
        """Each zone served (its origin as text) and its SOA serial now."""
        return {str(origin): zone.serial for origin, zone in sorted(self.zones.items())}

    # -- data ------------------------------------------------------------------------

    def _load(self) -> dict[Name, ZoneData]:
        if self.data_dir is None:
            return dict(self.zones)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        zones = {}
        for path in sorted(self.data_dir.glob("*zone")):
            origin = origin_of(path)
            try:
                zones[origin] = ZoneData.load(path, origin)
            except (dns.exception.DNSException, OSError) as e:
                raise ServerError(f"cannot load {path}: {e}") from None
        return zones

    def _save(self, zone: ZoneData) -> None:
        if self.data_dir is not None:
            zone.save(self.data_dir / zone_file_name(zone.origin))

    def _view(self) -> dict[Name, ZoneData]:
        """The zones queries are answered from: live, or stale, with the lie told."""
        base = self._stale if self.faults.stale else self.zones
        lie = self.faults.lie
        if lie is None:
            return base
        if self._lied is None or self._lied[0] is not base or self._lied[1] != lie:
            self._lied = (base, lie, lie.apply(base))
        return self._lied[2]

    # -- messages -----------------------------------------------------------------------

    async def respond(self, wire: bytes, peer: Any, tcp: bool) -> list[bytes]:
        """The answer(s) to one message: none (dropped), one, or a zone transfer's many.
        A bug answers SERVFAIL (and is logged) instead of killing the server."""
        try:
            return await self._respond(wire, peer, tcp)
        except Exception:
            log.exception("embedded %s: failed to answer a message", self.address)
            return [_error(wire, dns.rcode.SERVFAIL)] if len(wire) >= 12 else []

    async def _respond(self, wire: bytes, peer: Any, tcp: bool) -> list[bytes]:
        if len(wire) < 12:
            return []
        flags = int.from_bytes(wire[2:4], "big")
        if flags & dns.flags.QR:
            return []
        opcode = dns.opcode.from_flags(flags)
        try:
            query = dns.message.from_wire(wire, one_rr_per_rrset=opcode == dns.opcode.UPDATE)
        except dns.exception.DNSException:
            return [_error(wire, dns.rcode.FORMERR)]
        if opcode == dns.opcode.UPDATE:
            return [self._update(query, peer)]
        if opcode != dns.opcode.QUERY:
            return [_rcode(query, dns.rcode.NOTIMP).to_wire()]
        if len(query.question) != 1:
            return [_rcode(query, dns.rcode.FORMERR).to_wire()]
        question = query.question[0]
        if question.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            return self._transfer(query, question.name, peer, tcp)
        self.queries += 1
        faults = self.faults
        if faults.drops(tcp):
            return []
        if faults.delay:
            await asyncio.sleep(faults.delay)
        if faults.rcode:
            return [_rcode(query, dns.rcode.from_text(faults.rcode)).to_wire()]
        response = _response(query)
        if query.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)
        elif question.rdclass == dns.rdataclass.CH and question.name in VERSION_NAMES:
            _version(response, question.name, question.rdtype)
        elif question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
        else:
            self._answer(query, question.name, question.rdtype).fill(response)
        if faults.lame:
            response.flags &= ~dns.flags.AA
        if tcp:
            return [response.to_wire(max_size=65535, prefer_truncation=True)]
        if faults.truncate or question.rdtype == dns.rdatatype.ANY:  # ANY: TCP only, as PowerDNS
            Sections(response.rcode(), bool(response.flags & dns.flags.AA)).fill(response)
            response.flags |= dns.flags.TC
        limit = min(max(512, query.payload), UDP_PAYLOAD) if query.edns >= 0 else 512
        return [response.to_wire(max_size=limit, prefer_truncation=True)]

    def _answer(self, query: dns.message.Message, qname: Name, qtype: int) -> Sections:
        """The answer from the zones as served now, signed when the zone is and DO is set."""
        zones = self._view()
        if self.signer is None:
            return answer(zones, qname, qtype)
        result = answer(self.signer.views(zones), qname, qtype)
        zone = zone_for(zones, qname)
        if zone is not None and query.ednsflags & dns.flags.DO and self.signer.signed(zone.origin):
            self.signer.zone(zone).add_dnssec(result, qname, qtype, self.faults.rrsig)
        return result

    def _update(self, query: dns.message.Message, peer: Any) -> bytes:
        response = dns.message.make_response(query)
        zone_section = query.question
        if len(zone_section) != 1 or zone_section[0].rdtype != dns.rdatatype.SOA:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        if not _loopback(peer):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        origin = zone_section[0].name
        zone = self.zones.get(origin) or ZoneData.new(origin, self.nameserver, settings=self.soa)
        assert isinstance(query, dns.update.UpdateMessage)
        try:
            changed = apply_update(zone, query)
        except UpdateRefused as e:
            log.info("embedded %s: update of %s refused: %s", self.address, origin, e)
            response.set_rcode(e.rcode)
            return response.to_wire()
        if changed is not self.zones.get(origin):
            self.zones = {**self.zones, origin: changed}
            self._save(changed)
        return response.to_wire()

    def _transfer(self, query: dns.message.Message, origin: Name, peer: Any,
                  tcp: bool) -> list[bytes]:
        """AXFR (IXFR is answered with the full zone, RFC 1995 4) over TCP, from loopback."""
        if not tcp or not _loopback(peer):
            return [_rcode(query, dns.rcode.REFUSED).to_wire()]
        zone = self.zones.get(origin)
        if zone is None:
            return [_rcode(query, dns.rcode.NOTAUTH).to_wire()]
        rrsets = [*zone.rrsets(), next(zone.rrsets())]
        messages, chunk, size = [], [], 0
        for rrset in rrsets:
            length = _wire_size(rrset)
            if chunk and size + length > XFR_CHUNK:
                messages.append(chunk)
                chunk, size = [], 0
            chunk.append(rrset)
            size += length
        messages.append(chunk)
        out = []
        for rrsets_of_message in messages:
            response = _response(query)
            response.flags |= dns.flags.AA
            response.answer = rrsets_of_message
            out.append(response.to_wire(max_size=65535))
        return out

    # -- sockets -------------------------------------------------------------------------

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                length = int.from_bytes(header, "big")
                wire = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE)
                for out in await self.respond(wire, peer, tcp=True):
                    writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: EmbeddedServer):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task] = set()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, data: bytes, addr: Any) -> None:
        for out in await self.server.respond(data, addr, tcp=False):
            if self.transport is not None and not self.transport.is_closing():
                self.transport.sendto(out, addr)


def _response(query: dns.message.Message) -> dns.message.Message:
    return dns.message.make_response(query, our_payload=UDP_PAYLOAD)


def _rcode(query: dns.message.Message, rcode: int) -> dns.message.Message:
    response = _response(query)
    response.set_rcode(rcode)
    return response


def _error(wire: bytes, rcode: int) -> bytes:
    """An answer to a message that does not parse: its id, QR, the rcode, nothing else."""
    message = dns.message.Message(id=int.from_bytes(wire[0:2], "big"))
    message.flags = dns.flags.QR
    message.set_rcode(rcode)
    return message.to_wire()


#: the CHAOS names servers answer their software and version at (BIND, PowerDNS, Knot do)
VERSION_NAMES = (dns.name.from_text("version.bind."), dns.name.from_text("version.server."))
VERSION = f"dnssync-embedded {__version__}"


def _version(response: dns.message.Message, name: Name, rdtype: int) -> None:
    """What software this is (`dig CH TXT version.bind`): how a plan knows which server
    it talks to, as for BIND, Knot and PowerDNS (see dnssync.dnssec_capability)."""
    if rdtype in (dns.rdatatype.TXT, dns.rdatatype.ANY):
        txt = dns.rrset.from_text(name, 0, dns.rdataclass.CH, dns.rdatatype.TXT, f'"{VERSION}"')
        response.answer.append(txt)
    response.flags |= dns.flags.AA


def _wire_size(rrset) -> int:
    buffer = io.BytesIO()
    rrset.to_wire(buffer)
    return buffer.tell()
