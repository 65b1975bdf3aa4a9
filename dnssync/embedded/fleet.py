"""The embedded servers of a repository: one per provider of kind `embedded`.

`dnssync serve` and `dnssync demo` start them from the same provider files that
plan and apply read, so the server listens exactly where its provider pushes
(`host`/`port`) and where verify asks (the provider's nameserver address).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from dnssync.embedded.server import EmbeddedServer
from dnssync.embedded.zonedata import HOSTED_SOA, SoaSettings
from dnssync.model.address import format_address
from dnssync.model.errors import UsageError
from dnssync.repo.config import Config, Policy, ProviderConfig
from dnssync.repo.plugins import SHORT_NAMES, class_path

CONTROL_SOCKET = "control.sock"
MULTI_SIGNER = "multi-signer"


def is_embedded(provider: ProviderConfig) -> bool:
    return class_path(provider.cls) == SHORT_NAMES["embedded"]


def embedded_providers(config: Config, names: list[str] | None = None) -> list[ProviderConfig]:
    """The embedded providers (only those named, when names are given), by name."""
    found = [p for name, p in sorted(config.providers.items()) if is_embedded(p)]
    if names:
        unknown = sorted(set(names) - {p.name for p in found})
        if unknown:
            raise UsageError(f"no embedded provider named {', '.join(unknown)} (embedded:"
                             f" {', '.join(p.name for p in found) or 'none'})")
        found = [p for p in found if p.name in names]
    return found


def server_for(provider: ProviderConfig, data_dir: Path | None, control: bool = False,
               soa: SoaSettings = HOSTED_SOA, policy: Policy | None = None) -> EmbeddedServer:
    """The server an embedded provider pushes to; its nameserver must be that same address.
    It signs the zones `policy.dnssec` makes multi-signer, with keys of its own (signing.py),
    as an operator turns signing on at each provider of such a zone."""
    host = str(provider.options.get("host", "127.0.0.1"))
    port = int(provider.options.get("port", 53))
    for ns in provider.nameservers:
        if (ns.host, ns.port) != (host, port):
            where = format_address(ns.host, ns.port) if ns.host else "no address"
            listen = format_address(host, port)
            raise UsageError(f"embedded provider {provider.name!r} ({provider.file}): nameserver"
                             f" {ns.name} has {where}, but its server listens at {listen};"
                             f" give it 'address: {listen}'")
    signs = (lambda zone: policy.dnssec_for(zone) == MULTI_SIGNER) if policy is not None else False
    if "dnskey_ttl" in provider.options:  # how long resolvers keep its keys: a key exchange waits that long
        soa = dataclasses.replace(soa, dnskey_ttl=int(provider.options["dnskey_ttl"]))
    return EmbeddedServer(host, port, provider.nameservers[0].name, data_dir,
                          data_dir / CONTROL_SOCKET if control and data_dir else None, soa, signs)


def data_root(config: Config) -> Path:
    """Where the embedded servers of a repository keep their zones and control sockets."""
    return config.state_dir / "embedded"


@dataclass
class Fleet:
    """Servers by provider name, started and stopped together."""

    servers: dict[str, EmbeddedServer] = field(default_factory=dict)

    @classmethod
    def for_config(cls, config: Config, data_root: Path, names: list[str] | None = None,
                   control: bool = False, soa: SoaSettings = HOSTED_SOA) -> Fleet:
        providers = embedded_providers(config, names)
        if not providers:
            raise UsageError(f"{config.file} has no provider of class 'embedded' to run")
        return cls({p.name: server_for(p, data_root / p.name, control, soa, config.policy) for p in providers})

    def start(self) -> Fleet:
        try:
            for server in self.servers.values():
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
