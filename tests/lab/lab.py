"""The lab: PowerDNS, BIND and Knot as three providers, an Unbound resolver, and dnssync
repositories for them.

`Lab.start()` starts each server on its own loopback address; `lab.add_zone()`
creates a zone on every server (as an operator would before the first push:
RFC 2136 cannot create zones); `lab.write_repo()` writes a dnssync repository
(dnssync.yaml, providers/, zones/) whose providers are the lab's servers and
returns the environment holding their secrets. The Unbound resolver (`{net}.6`)
reaches every zone added here through a stub zone. `Lab(second_addresses=True)`
makes each server listen on a second address too (`{net}.12`-`.14`), so that each
provider has two nameservers (ns1/ns2.<name>.lab.).
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.lab.parent import TLD, Cdn, ParentServer
from tests.lab.servers import Bind, Knot, PowerDns, Rrset, Server, Unbound, require_binaries
from tests.lab.signing import SignedZone, ValidatingUnbound, ds_texts, presign, set_ds, wait_signed

NET = os.environ.get("DNSSYNC_LAB_NET", "127.0.0")


class Lab:
    def __init__(self, workdir: Path | None = None, net: str = NET, second_addresses: bool = False):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="dnssync-lab-"))
        self.pdns = PowerDns("pdns", f"{net}.2", self.workdir / "pdns")
        self.bind = Bind("bind", f"{net}.3", self.workdir / "bind")
        self.knot = Knot("knot", f"{net}.4", self.workdir / "knot")
        self.servers: dict[str, Server] = {"pdns": self.pdns, "bind": self.bind, "knot": self.knot}
        if second_addresses:
            for server, last in zip(self.servers.values(), (12, 13, 14), strict=True):
                server.extra_addresses = [f"{net}.{last}"]
        self.unbound = Unbound("unbound", f"{net}.6", self.workdir / "unbound")
        self.parent = ParentServer("parent", f"{net}.5", self.workdir / "parent")  # not a provider
        self.pdns.resolver = self.resolver  # PowerDNS answers ALIAS itself, through Unbound
        #: a validating Unbound trusting the signed parent, started by the first signed zone
        self.validator = ValidatingUnbound("validator", f"{net}.7", self.workdir / "validator")

    def start(self) -> Lab:
        require_binaries()
        try:
            for server in [*self.servers.values(), self.unbound]:
                server.start()
            self.parent.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in [*self.servers.values(), self.unbound, self.validator]:
            server.stop()
        self.parent.stop()

    @contextmanager
    def stopped(self, name: str) -> Iterator[None]:
        """A provider's server down for the block (an outage), started again after it."""
        self.servers[name].stop()
        try:
            yield
        finally:
            self.servers[name].start()

    @contextmanager
    def frozen(self, name: str) -> Iterator[None]:
        """A provider's server that takes connections and datagrams and never answers, for
        the block (a hung process, a firewall dropping its packets): the process we started
        is stopped with SIGSTOP, and goes on (SIGCONT) after the block."""
        process = self.servers[name].process
        assert process is not None, f"{name} is not running"
        process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            process.send_signal(signal.SIGCONT)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def nameservers(self) -> list[str]:
        return sorted(name for s in self.servers.values() for name, _ in s.nameservers)

    @property
    def resolver(self) -> str:
        """The Unbound resolver as dnssync.yaml's `resolvers:` lists it."""
        return f"{self.unbound.address}:{self.unbound.port}"

    def add_zone(self, zone: str, providers: list[str] | None = None,
                 nameservers: list[str] | None = None, signed: bool | Collection[str] = False) -> None:
        """Create `zone` (with trailing dot) on the servers; its apex NS defaults to
        the union of those servers' nameservers, as dnssync will manage it. The resolver
        reaches it at every address of those servers. `signed`: every one of them signs it
        itself (True), or the ones named (see add_signed_zone)."""
        names = providers or list(self.servers)
        union = sorted(ns for name in names for ns, _ in self.servers[name].nameservers)
        signers = names if signed is True else signed or ()
        for name in names:
            server = self.servers[name]
            (server.add_signed_zone if name in signers else server.add_zone)(zone, nameservers or union)
        self.unbound.add_stub(zone, [a for name in names for a in self.servers[name].addresses])
        labels = zone.split(".")
        enclosing = {".".join(labels[i:]) for i in range(1, len(labels) - 1)}
        if not enclosing & {z for server in self.servers.values() for z in server.zones}:
            # as a registrar would; a zone below another lab zone is delegated by that zone
            self.parent.delegate_also(zone, nameservers or union)

    def add_signed_zone(self, zone: str, providers: list[str] | None = None, ds: bool = True) -> SignedZone:
        """Create `zone` (directly below `test.`) on the servers, each signing it with its own
        keys (online signing, as each provider does when DNSSEC is turned on there), and wait
        until each serves its DNSKEYs. `ds`: the signed parent holds the DS of every server's
        KSK. The validating resolver (`lab.validator`) reaches the zone at every server."""
        names = providers or list(self.servers)
        self.add_zone(zone, names, signed=True)
        keys = {name: wait_signed(self.servers[name], zone) for name in names}
        signed = SignedZone(zone, keys, sorted({ds for k in keys.values() for ds in ds_texts(k)}))
        self.start_validator()
        if ds:
            set_ds(self.parent, zone, signed.ds)
        self.validator.add_stub(zone, [a for name in names for a in self.servers[name].addresses])
        return signed

    def add_presigned_zone(self, zone: str, records: list[str], start: str = "now-3600", end: str = "+2592000",
                           tamper: tuple[str, str] | None = None, server: str = "knot",
                           algorithm: str = "ECDSAP256SHA256", nsec3: bool = False,
                           edit: Callable[[str], str] | None = None) -> SignedZone:
        """`zone` (directly below `test.`) with `records` (zone-file lines), signed offline by
        dnssec-signzone (signatures from `start` to `end`, see signing.presign) and served as
        it is by one server (Knot: it signs nothing itself unless told to), its KSK's DS at the
        parent; `algorithm` as dnssec-keygen names it (an old one no resolver should need:
        RSASHA1). `tamper` (old, new) replaces text in the signed zone: data that no longer
        matches its signature, as a broken signer or a corrupted transfer would serve it; `edit`
        rewrites the signed zone file's text (e.g. drops records). `nsec3`: NSEC3 denial."""
        host = self.servers[server]
        assert isinstance(host, Knot), "a presigned zone is served by Knot, written as its zone file"
        text = host.zone_file(zone, [host.nameserver]) + "".join(line + "\n" for line in records)
        signed = presign(zone, text, self.workdir, start, end, algorithm, nsec3)
        if tamper is not None:
            assert tamper[0] in signed, tamper
            signed = signed.replace(*tamper)
        if edit is not None:
            signed = edit(signed)
        host.zones_dir().mkdir(parents=True, exist_ok=True)
        (host.zones_dir() / f"{zone}zone").write_text(signed)
        host.zones[zone] = [host.nameserver]
        host.write_config()
        host.reload()
        host.wait_zone(zone)
        keys = wait_signed(host, zone)
        result = SignedZone(zone, {server: keys}, ds_texts(keys))
        self.parent.delegate_also(zone, [host.nameserver])
        self.unbound.add_stub(zone, host.addresses)
        self.start_validator()
        set_ds(self.parent, zone, result.ds)
        self.validator.add_stub(zone, host.addresses)
        return result

    def start_validator(self) -> None:
        """Sign the parent `test.` and start the validating resolver trusting its key (once)."""
        if self.validator.running:
            return
        if TLD not in self.parent.signed:
            self.parent.signed.add(TLD)
            self.parent.write_config()
            self.parent.reload()
        keys = wait_signed(self.parent, TLD)
        self.validator.trust_anchors = [f"{TLD} DS {ds}" for ds in ds_texts(keys)]
        self.validator.stubs[TLD] = [self.parent.address]
        self.validator.start()

    def add_zones(self, zones: list[str], providers: list[str] | None = None,
                  content: dict[str, list[Rrset]] | None = None) -> None:
        """Create many zones at once (benchmarks: thousands of zones): one reload per
        server and the parent's delegations in a few updates, instead of one of each
        per zone; `content` (zone -> RRsets) is served from the start, as if pushed.
        The resolver is not told about them (no stub zones)."""
        names = providers or list(self.servers)
        union = sorted(ns for name in names for ns, _ in self.servers[name].nameservers)
        for name in names:
            self.servers[name].add_zones(zones, union, content)
        self.parent.delegate_many(zones, union)

    def remove_zones(self, zones: list[str], providers: list[str]) -> None:
        """Stop serving `zones` (benchmarks: a fleet applied at one size, gone before the
        next). The parent keeps their delegations, which nothing asks for any more."""
        for name in providers:
            self.servers[name].remove_zones(zones)

    def add_cdn(self, zone: str, ttl: int = 1) -> Cdn:
        """A "CDN": `zone` served by the parent's server, outside any repository, delegated
        under `test.` and reachable through the resolver, whose addresses a test changes
        behind dnssync's back (`Cdn.set`). Its TTL is short so caches forget it quickly."""
        self.parent.add_zone(zone, [self.parent.nameserver])
        self.parent.delegate(zone, [self.parent.nameserver])
        self.unbound.add_stub(zone, [self.parent.address])
        return Cdn(self.parent, zone, ttl)

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for server in self.servers.values():
            env.update(server.env())
        return env

    def provider_file(self, name: str, zones: list[str] | None = None, **extra: object) -> dict:
        server = self.servers[name]
        data = dict(server.provider_options())
        data["nameservers"] = [{"name": ns, "address": f"{address}:{server.port}"}
                               for ns, address in server.nameservers]
        if zones is not None:
            data["zones"] = zones
        data.update(extra)
        return data

    def write_repo(self, root: Path, zones: dict[str, str], providers: list[str] | None = None,
                   config: dict | None = None, provider_extra: dict[str, dict] | None = None) -> dict[str, str]:
        """Write a dnssync repository at `root`; `zones` maps file name (e.g.
        'example.com.yaml') to its YAML text. Returns the environment to run dnssync in."""
        (root / "zones").mkdir(parents=True, exist_ok=True)
        (root / "providers").mkdir(parents=True, exist_ok=True)
        for filename, text in zones.items():
            (root / "zones" / filename).write_text(text)
        settings = {"zones": "zones", "providers": "providers",
                    "defaults": {"timeout": 3, "retries": 2, "backoff": 0.2},
                    "parent": {"nameservers": [self.parent.address]}}  # never the real root
        settings.update(config or {})
        (root / "dnssync.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
        for name in providers or list(self.servers):
            data = self.provider_file(name, **(provider_extra or {}).get(name, {}))
            (root / "providers" / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        return {**os.environ, **self.env()}
