"""Real DNS servers on loopback, started and stopped by the pid we started.

PowerDNS Authoritative (sqlite3 backend, HTTP API), BIND 9 (RFC 2136 + TSIG,
AXFR with the key) and Knot DNS (RFC 2136 + TSIG) each listen on port 53 of
their own 127.0.0.x address, so each is a separate provider with its own
nameserver, as on the internet. Every zone's SOA keeps the negative-cache TTL
small (5 s) so cache tests run in seconds.
"""

from __future__ import annotations

import base64
import glob
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import requests

NEGATIVE_TTL = 5
SOA_TTL = 60
#: DNSKEY TTL of signed lab zones: short, as apply waits it out after publishing keys
DNSKEY_TTL = 5
NS_TTL = 3600  # dnssync's default apex NS TTL, so a fresh zone needs no apex NS change
PDNS_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")


#: one RRset as a server is given it: (owner, type, TTL, RDATA texts)
Rrset = tuple[str, str, int, list[str]]


class LabError(RuntimeError):
    pass


def ensure_address(address: str) -> None:
    """BIND and Knot bind only to configured addresses: add 127.0.0.x to lo if missing."""
    if address == "127.0.0.1":
        return
    shown = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True).stdout
    if f" {address}/" not in shown:
        done = subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], capture_output=True, text=True)
        if done.returncode != 0 and "File exists" not in done.stderr:
            raise LabError(f"cannot add {address} to lo (needs root): {done.stderr.strip()}")


def port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def answers_soa(address: str, port: int, zone: str, timeout: float = 0.5) -> bool:
    query = dns.message.make_query(zone, "SOA")
    try:
        response = dns.query.udp(query, address, port=port, timeout=timeout)
    except Exception:  # not up yet
        return False
    return response.rcode() == dns.rcode.NOERROR and bool(response.answer)


def tsig_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass
class Server:
    """One server process. Subclasses write the config and know the command line."""

    name: str
    address: str
    workdir: Path
    port: int = 53
    nameserver: str = ""  # its NS-record name, e.g. ns1.bind.lab.
    process: subprocess.Popen | None = field(default=None, repr=False)
    zones: dict[str, list[str]] = field(default_factory=dict)  # zone -> apex NS names
    #: more addresses the same process listens on, each a nameserver of its own
    #: (ns2.<name>.lab., ...): a provider with several nameservers, as on the internet
    extra_addresses: list[str] = field(default_factory=list)
    #: zones this server signs itself, with its own keys (tests/lab/signing.py)
    signed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.nameserver = self.nameserver or f"ns1.{self.name}.lab."

    @property
    def addresses(self) -> list[str]:
        return [self.address, *self.extra_addresses]

    @property
    def nameservers(self) -> list[tuple[str, str]]:
        """(NS-record name, address) of every address this server listens on."""
        extra = [(f"ns{i}.{self.name}.lab.", address)
                 for i, address in enumerate(self.extra_addresses, start=2)]
        return [(self.nameserver, self.address), *extra]

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        for address in self.addresses:
            ensure_address(address)
            if not port_free(address, self.port):
                raise LabError(f"{self.name}: {address}:{self.port} is in use"
                               " (another lab running?)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise LabError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise LabError(f"{self.name} not ready after {timeout}s: {self.log_tail()}")

    def ready(self) -> bool:
        probe = next(iter(self.zones), None)
        if probe is None:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                return s.connect_ex((self.address, self.port)) == 0
        return answers_soa(self.address, self.port, probe)

    def log_tail(self, lines: int = 15) -> str:
        path = self.workdir / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        """Stop the process we started (by its pid), politely first."""
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def soa_text(self, zone: str) -> str:
        return (f"{self.nameserver} hostmaster.{zone} 1 3600 600 604800 {NEGATIVE_TTL}")

    def zone_file(self, zone: str, nameservers: list[str]) -> str:
        lines = [f"$TTL {SOA_TTL}", f"{zone} IN SOA {self.soa_text(zone)}"]
        lines += [f"{zone} {NS_TTL} IN NS {ns}" for ns in nameservers]
        return "\n".join(lines) + "\n"

    def add_zone(self, zone: str, nameservers: list[str]) -> None:
        raise NotImplementedError

    def add_signed_zone(self, zone: str, nameservers: list[str]) -> None:
        """`zone`, signed by this server with keys it makes itself (online signing)."""
        self.signed.add(zone)
        self.add_zone(zone, nameservers)

    def add_zones(self, zones: list[str], nameservers: list[str],
                  content: dict[str, list[Rrset]] | None = None) -> None:
        """Many zones, each served with `content` (zone -> RRsets) already, as after a push."""
        raise NotImplementedError

    def wait_zone(self, zone: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not answers_soa(self.address, self.port, zone):
            if time.monotonic() > deadline:
                raise LabError(f"{self.name} does not serve {zone}: {self.log_tail()}")
            time.sleep(0.05)


@dataclass
class PowerDns(Server):
    api_port: int = 8081
    api_key: str = field(default_factory=lambda: secrets.token_hex(16))
    #: the resolver PowerDNS asks to answer an ALIAS itself (expand-alias), host:port
    resolver: str = ""

    def command(self) -> list[str]:
        return ["pdns_server", f"--config-dir={self.workdir}"]

    def write_config(self) -> None:
        db = self.workdir / "pdns.sqlite3"
        if not db.exists():  # a restart keeps the zones, like a real server
            with sqlite3.connect(db) as conn:
                conn.executescript(PDNS_SCHEMA.read_text())
        (self.workdir / "pdns.conf").write_text("\n".join([
            "launch=gsqlite3",
            f"gsqlite3-database={db}",
            "gsqlite3-dnssec=yes",  # DNSSEC only for zones secured (add_signed_zone)
            f"local-address={','.join(self.addresses)}",
            f"local-port={self.port}",
            "api=yes",
            f"api-key={self.api_key}",
            "webserver=yes",
            f"webserver-address={self.address}",
            f"webserver-port={self.api_port}",
            "webserver-allow-from=127.0.0.0/8",
            "daemon=no",
            "guardian=no",
            f"socket-dir={self.workdir}",
            "disable-syslog=yes",
            "loglevel=4",
            "cache-ttl=0",
            "negquery-cache-ttl=0",
            "query-cache-ttl=0",
            "disable-axfr=no",
            "allow-axfr-ips=127.0.0.0/8",
            f"default-ttl={SOA_TTL}",
            f"default-soa-content={self.nameserver} hostmaster.@ 0 3600 600 604800 {NEGATIVE_TTL}",
            *([f"resolver={self.resolver}", "expand-alias=yes"] if self.resolver else []),
            "default-ksk-algorithm=ecdsa256",
            "default-zsk-algorithm=ecdsa256",  # a KSK and a ZSK, as the other servers sign
            "",
        ]))

    def ready(self) -> bool:
        try:
            requests.get(self.api_url(""), headers={"X-API-Key": self.api_key}, timeout=0.5).raise_for_status()
        except requests.RequestException:
            return False
        return super().ready()

    def api_url(self, path: str) -> str:
        return f"http://{self.address}:{self.api_port}/api/v1/servers/localhost/{path}".rstrip("/")

    def add_zone(self, zone: str, nameservers: list[str], content: list[Rrset] = ()) -> None:
        rrsets = [(zone, "NS", NS_TTL, nameservers), *content]
        response = requests.post(self.api_url("zones"), headers={"X-API-Key": self.api_key}, timeout=30,
                                 json={"name": zone, "kind": "Native", "nameservers": [],
                                       **({"dnssec": True, "nsec3param": "1 0 0 -"} if zone in self.signed else {}),
                                       "rrsets": [{
                                     "name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE",
                                     "records": [{"content": value, "disabled": False} for value in values],
                                 } for name, rtype, ttl, values in rrsets]})
        if response.status_code != 201:
            raise LabError(f"powerdns: creating {zone}: HTTP {response.status_code} {response.text}")
        self.zones[zone] = nameservers
        self.wait_zone(zone)

    def add_zones(self, zones: list[str], nameservers: list[str],
                  content: dict[str, list[Rrset]] | None = None) -> None:
        for zone in zones:
            self.add_zone(zone, nameservers, (content or {}).get(zone, []))

    def remove_zones(self, zones: list[str]) -> None:
        for zone in zones:
            response = requests.delete(self.api_url(f"zones/{zone}"), headers={"X-API-Key": self.api_key},
                                       timeout=30)
            if response.status_code not in (204, 404):
                raise LabError(f"powerdns: deleting {zone}: HTTP {response.status_code} {response.text}")
            self.zones.pop(zone, None)

    def provider_options(self) -> dict:
        return {"class": "powerdns", "host": self.address, "port": self.api_port,
                "api_key": "env/DNSSYNC_LAB_PDNS_API_KEY", "timeout": 5}

    def env(self) -> dict[str, str]:
        return {"DNSSYNC_LAB_PDNS_API_KEY": self.api_key}


@dataclass
class _Rfc2136Server(Server):
    key_name: str = ""
    key_secret: str = field(default_factory=tsig_secret)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.key_name = self.key_name or f"dnssync-{self.name}"

    def zones_dir(self) -> Path:
        return self.workdir / "zones"

    def add_zone(self, zone: str, nameservers: list[str]) -> None:
        self.zones_dir().mkdir(parents=True, exist_ok=True)
        (self.zones_dir() / f"{zone}zone").write_text(self.zone_file(zone, nameservers))
        self.zones[zone] = nameservers
        if self.running:
            self.write_config()
            self.reload()
            self.wait_zone(zone)

    def add_zones(self, zones: list[str], nameservers: list[str],
                  content: dict[str, list[Rrset]] | None = None) -> None:
        """Many zones with one reload."""
        self.zones_dir().mkdir(parents=True, exist_ok=True)
        for zone in zones:
            lines = [f"{name} {ttl} IN {rtype} {value}"
                     for name, rtype, ttl, values in (content or {}).get(zone, []) for value in values]
            (self.zones_dir() / f"{zone}zone").write_text(
                self.zone_file(zone, nameservers) + "".join(line + "\n" for line in lines))
            self.zones[zone] = nameservers
        if self.running:
            self.write_config()
            self.reload()
            for zone in zones:
                self.wait_zone(zone, timeout=120)

    def remove_zones(self, zones: list[str]) -> None:
        """Stop serving `zones` and forget them (one reload): a benchmark's later sizes
        then run on servers holding as many zones as its earlier ones did."""
        for zone in zones:
            self.forget(zone)
            self.zones.pop(zone, None)
            self.signed.discard(zone)
        self.write_config()
        if self.running:
            self.reload()
        for zone in zones:
            for path in self.zones_dir().glob(f"{glob.escape(zone)}zone*"):  # the file, its journal
                path.unlink()

    def forget(self, zone: str) -> None:
        """What the server keeps of a zone beside its file, dropped before it stops serving it."""

    def reload(self) -> None:
        raise NotImplementedError

    def env_name(self) -> str:
        return f"DNSSYNC_LAB_{self.name.upper()}_TSIG"

    def provider_options(self) -> dict:
        return {"class": self.name, "host": self.address, "port": self.port, "key_name": self.key_name,
                "key_secret": f"env/{self.env_name()}", "key_algorithm": "hmac-sha256", "timeout": 5}

    def env(self) -> dict[str, str]:
        return {self.env_name(): self.key_secret}


@dataclass
class Bind(_Rfc2136Server):
    def command(self) -> list[str]:
        return ["named", "-g", "-u", "root", "-c", str(self.workdir / "named.conf")]

    def write_config(self) -> None:
        self.zones_dir().mkdir(parents=True, exist_ok=True)
        (self.workdir / "keys").mkdir(exist_ok=True)
        zones = "\n".join(
            f'zone "{zone}" {{ type primary; file "{self.zones_dir()}/{zone}zone";'
            f" allow-update {{ key {self.key_name}; }}; allow-transfer {{ key {self.key_name}; }};"
            + (" dnssec-policy lab;" if zone in self.signed else "") + " };"
            for zone in self.zones
        )
        (self.workdir / "named.conf").write_text(f"""
options {{
  directory "{self.workdir}";
  listen-on port {self.port} {{ {' '.join(a + ';' for a in self.addresses)} }};
  listen-on-v6 {{ none; }};
  pid-file "{self.workdir}/named.pid";
  session-keyfile "{self.workdir}/session.key";
  recursion no;
  dnssec-validation no;
  notify no;
  max-journal-size 64m;
  key-directory "{self.workdir}/keys";
}};
dnssec-policy "lab" {{
  keys {{ ksk lifetime unlimited algorithm ecdsap256sha256; zsk lifetime unlimited algorithm ecdsap256sha256; }};
  dnskey-ttl {DNSKEY_TTL};  // short: apply waits out the old DNSKEY TTL after publishing keys
}};
controls {{ }};
key "{self.key_name}" {{ algorithm hmac-sha256; secret "{self.key_secret}"; }};
{zones}
""")

    def reload(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)


@dataclass
class Knot(_Rfc2136Server):
    def command(self) -> list[str]:
        return ["knotd", "-c", str(self.workdir / "knot.conf")]

    def write_config(self) -> None:
        self.zones_dir().mkdir(parents=True, exist_ok=True)
        (self.workdir / "db").mkdir(parents=True, exist_ok=True)
        signing = "\n    dnssec-signing: on\n    dnssec-policy: lab"
        zones = "\n".join(f"  - domain: {zone}" + (signing if zone in self.signed else "")
                          for zone in self.zones) or "  []"
        zone_section = f"zone:\n{zones}\n" if self.zones else ""
        (self.workdir / "knot.conf").write_text(f"""
server:
    listen: [{', '.join(f"{a}@{self.port}" for a in self.addresses)}]
    rundir: {self.workdir}
    pidfile: {self.workdir}/knot.pid
log:
  - target: stderr
    any: info
database:
    storage: {self.workdir}/db
key:
  - id: {self.key_name}
    algorithm: hmac-sha256
    secret: {self.key_secret}
policy:  # Knot's default policy (ECDSA P-256 KSK + ZSK, NSEC) with a short DNSKEY TTL
  - id: lab
    dnskey-ttl: {DNSKEY_TTL}
acl:
  - id: dnssync
    key: {self.key_name}
    action: [update, transfer]
template:
  - id: default
    storage: {self.zones_dir()}
    file: "%s.zone"
    acl: dnssync
    zonefile-sync: -1
    journal-content: all
{zone_section}""")

    def reload(self) -> None:
        self.knotc("reload")

    def forget(self, zone: str) -> None:
        if self.running:  # its journal and timers, or the zone would come back with them
            self.knotc("-f", "zone-purge", zone)

    def knotc(self, *args: str) -> None:
        subprocess.run(["knotc", "-s", str(self.workdir / "knot.sock"), *args], check=True,
                       capture_output=True, timeout=10)


@dataclass
class Unbound(Server):
    """A real recursive resolver whose cache `dnssync watch` observes.

    It reaches the lab's zones through one stub zone per zone, pointing at the
    addresses of the servers that serve it (as a delegation would): a stub for
    the exact zone name wins over NS records Unbound cached from answers, whose
    names (ns1.bind.lab. ...) it could not resolve. Stubs are added to the running
    resolver with unbound-control, so tests create zones whenever they like.
    Caching is left at Unbound's defaults (no prefetch, no serve-expired): the
    TTL and negative-TTL behaviour watch predicts is what a default resolver does.
    """

    stubs: dict[str, list[str]] = field(default_factory=dict)  # zone -> server addresses

    def command(self) -> list[str]:
        return ["unbound", "-d", "-c", str(self.config_path)]

    @property
    def config_path(self) -> Path:
        return self.workdir / "unbound.conf"

    def write_config(self) -> None:
        stubs = "".join(
            f'stub-zone:\n    name: "{zone}"\n'
            + "".join(f"    stub-addr: {address}@53\n" for address in addresses)
            for zone, addresses in self.stubs.items()
        )
        self.config_path.write_text(f"""
server:
    interface: {self.address}@{self.port}
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{self.workdir}"
    pidfile: "{self.workdir}/unbound.pid"
    logfile: ""
    use-syslog: no
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    local-zone: "test." nodefault
remote-control:
    control-enable: yes
    control-interface: "{self.workdir}/unbound.ctl"
    control-use-cert: no
{stubs}""")

    def control(self, *args: str) -> str:
        done = subprocess.run(["unbound-control", "-c", str(self.config_path), *args],
                              capture_output=True, text=True, timeout=10)
        if done.returncode != 0 or done.stdout.startswith("error"):
            raise LabError(f"unbound-control {' '.join(args)}: {done.stdout.strip()}"
                           f" {done.stderr.strip()}")
        return done.stdout

    def add_stub(self, zone: str, addresses: list[str]) -> None:
        """Let the resolver reach `zone` at these authoritative servers."""
        self.stubs[zone] = addresses
        if self.running:
            self.control("stub_add", zone, *addresses)

    def flush(self, zone: str) -> None:
        """Forget everything cached under `zone`."""
        self.control("flush_zone", zone)
        self.control("flush_requestlist")


def require_binaries() -> None:
    missing = [b for b in ("pdns_server", "named", "knotd", "knotc", "unbound", "unbound-control")
               if shutil.which(b) is None]
    if missing:
        raise LabError(f"missing server binaries {missing}: run `make lab-deps` (apt-get install"
                       " pdns-server pdns-backend-sqlite3 bind9 knot unbound)")
    if os.geteuid() != 0:
        raise LabError("the lab needs root (port 53, loopback addresses)")
