"""dnssync repositories whose providers are embedded nameservers on free loopback ports.

The repository's own dnssync.yaml uses fixed ports (5301-5303); tests copy it
with free ports instead, so they never collide with a running `dnssync serve`
or with another test run on the same machine.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import yaml
from click.testing import CliRunner, Result

from dnssync.cli import main
from tests.conftest import ROOT


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (as the embedded server needs)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


def copy_example_repo(root: Path) -> dict[str, int]:
    """Copy the repository's dnssync.yaml, providers/ and zones/ to `root`, each embedded
    provider moved to a free port. Returns provider name -> port."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dnssync.yaml", root / "dnssync.yaml")
    shutil.copytree(ROOT / "zones", root / "zones")
    (root / "providers").mkdir()
    ports = {}
    for path in sorted((ROOT / "providers").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        port = ports[path.stem] = free_port()
        data["port"] = port
        for ns in data["nameservers"]:
            ns["address"] = f"127.0.0.1:{port}"
        (root / "providers" / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    return ports


def write_repo(root: Path, zones: dict[str, str], names: list[str]) -> dict[str, int]:
    """A repository with `zones` (file name -> YAML) on embedded providers `names`."""
    (root / "zones").mkdir(parents=True)
    (root / "providers").mkdir()
    for filename, text in zones.items():
        (root / "zones" / filename).write_text(text)
    (root / "dnssync.yaml").write_text(yaml.safe_dump({
        "zones": "zones", "providers": "providers",
        "defaults": {"timeout": 1, "retries": 1, "backoff": 0.1}}))
    ports = {}
    for name in names:
        port = ports[name] = free_port()
        (root / "providers" / f"{name}.yaml").write_text(yaml.safe_dump({
            "class": "embedded", "host": "127.0.0.1", "port": port,
            "nameservers": [{"name": f"ns1.{name}.example.", "address": f"127.0.0.1:{port}"}]}))
    return ports


def run(root: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["-c", str(root), *args], catch_exceptions=False)


def ask(port: int, name: str, rtype: str = "A", tcp: bool = False, timeout: float = 2.0,
        **query_options) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, **query_options)
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", port=port, timeout=timeout)
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=timeout)


def values(response: dns.message.Message, rtype: str = "A") -> set[str]:
    wanted = dns.rdatatype.from_text(rtype)
    return {rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted
            for rdata in rrset}
