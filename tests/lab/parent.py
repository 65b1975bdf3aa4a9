"""The parent zones' server: a second Knot instance on {net}.5 holding the test TLD `test.`
(and any other parent a lab zone needs, e.g. `com.` for example.com, added on demand).

Delegation is checked the way the internet does it: the parent's nameserver is
asked for the child zone and answers with a referral (NS in the authority
section, glue in the additional section). Every zone the lab creates is
delegated to the servers that hold it (`Lab.add_zone`); tests write the
delegation they want, right or broken, with `delegate()` (an RFC 2136 update
signed with the parent's own TSIG key).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import dns.update

from tests.lab.servers import Knot, LabError

TLD = "test."
DELEGATION_TTL = 3600


@dataclass
class ParentServer(Knot):
    """Knot serving `test.`; its own name is ns.test. (with an address record in the zone)."""

    delegations: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.nameserver = self.nameserver or f"ns.{TLD}"
        super().__post_init__()

    def zone_file(self, zone: str, nameservers: list[str]) -> str:
        own = f"{self.nameserver} {DELEGATION_TTL} IN A {self.address}\n" if zone == TLD else ""
        return super().zone_file(zone, nameservers) + own

    @staticmethod
    def parent_of(child: str) -> str:
        return child.split(".", 1)[1] or "."

    def ensure_parent(self, child: str) -> str:
        """The parent zone of `child`, created here first if this server lacks it."""
        parent = self.parent_of(child)
        if parent not in self.zones:
            self.add_zone(parent, [self.nameserver])
        return parent

    def start(self) -> None:
        if TLD not in self.zones:
            self.add_zone(TLD, [self.nameserver])
        super().start()

    def delegate(self, child: str, nameservers: list[str], glue: dict[str, list[str]] | None = None) -> None:
        """Make the parent's delegation of `child` exactly `nameservers` with `glue`
        (name -> addresses), replacing what was there."""
        self.delegations[child] = set(nameservers)
        keyring = dns.tsigkeyring.from_text({self.key_name: self.key_secret})
        update = dns.update.UpdateMessage(self.ensure_parent(child), keyring=keyring, keyname=self.key_name,
                                          keyalgorithm=dns.tsig.HMAC_SHA256)
        update.replace(child, DELEGATION_TTL, "NS", *nameservers)
        for name, addresses in (glue or {}).items():
            for rtype in ("A", "AAAA"):
                values = [a for a in addresses if (":" in a) == (rtype == "AAAA")]
                if values:
                    update.replace(name, DELEGATION_TTL, rtype, *values)
                else:
                    update.delete(name, rtype)
        response = dns.query.tcp(update, self.address, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise LabError(f"parent: delegating {child}: {dns.rcode.to_text(response.rcode())}")

    def delegate_also(self, child: str, nameservers: list[str]) -> None:
        """Add `nameservers` to the delegation of `child` (as a zone is created server by server)."""
        self.delegate(child, sorted(self.delegations.get(child, set()) | set(nameservers)))

    def delegate_many(self, children: list[str], nameservers: list[str], batch: int = 200) -> None:
        """Delegate many children of one parent to the same nameservers, `batch` to an
        update (a message stays far below 64 KiB)."""
        keyring = dns.tsigkeyring.from_text({self.key_name: self.key_secret})
        for start in range(0, len(children), batch):
            chunk = children[start:start + batch]
            update = dns.update.UpdateMessage(self.ensure_parent(chunk[0]), keyring=keyring,
                                              keyname=self.key_name, keyalgorithm=dns.tsig.HMAC_SHA256)
            for child in chunk:
                assert self.parent_of(child) == self.parent_of(chunk[0]), "one parent per call"
                self.delegations[child] = set(nameservers)
                update.replace(child, DELEGATION_TTL, "NS", *nameservers)
            response = dns.query.tcp(update, self.address, port=self.port, timeout=30)
            if response.rcode() != dns.rcode.NOERROR:
                raise LabError(f"parent: delegating {len(chunk)} zones: {dns.rcode.to_text(response.rcode())}")

    def undelegate(self, child: str) -> None:
        """Remove the delegation of `child` (as if the registrar had dropped it)."""
        self.delegations.pop(child, None)
        keyring = dns.tsigkeyring.from_text({self.key_name: self.key_secret})
        update = dns.update.UpdateMessage(self.ensure_parent(child), keyring=keyring,
                                          keyname=self.key_name, keyalgorithm=dns.tsig.HMAC_SHA256)
        update.delete(child, "NS")
        response = dns.query.tcp(update, self.address, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise LabError(f"parent: undelegating {child}: {dns.rcode.to_text(response.rcode())}")


@dataclass
class Cdn:
    """A zone on the parent's server standing for a CDN: its names' addresses change
    without any commit in the repositories that point an ALIAS at them."""

    server: ParentServer
    zone: str
    ttl: int = 1

    def fqdn(self, name: str) -> str:
        return f"{name}.{self.zone}" if name else self.zone

    def set(self, name: str, addresses: list[str]) -> str:
        """Make `name` (relative to the zone) resolve to `addresses`; returns its FQDN."""
        return self.set_many({name: addresses})[0]

    def set_many(self, names: dict[str, list[str]]) -> list[str]:
        """`set` for many names in one update (a benchmark's hundreds of targets)."""
        update = self._update()
        for name, addresses in names.items():
            for rtype in ("A", "AAAA"):
                values = [a for a in addresses if (":" in a) == (rtype == "AAAA")]
                if values:
                    update.replace(self.fqdn(name), self.ttl, rtype, *values)
                else:
                    update.delete(self.fqdn(name), rtype)
        self._send(update, ", ".join(names))
        return [self.fqdn(name) for name in names]

    def cname(self, name: str, target: str) -> str:
        """Make `name` a CNAME to `target` (a name of this zone, relative); returns its FQDN."""
        update = self._update()
        update.replace(self.fqdn(name), self.ttl, "CNAME", self.fqdn(target))
        return self._send(update, name)

    def _update(self) -> dns.update.UpdateMessage:
        keyring = dns.tsigkeyring.from_text({self.server.key_name: self.server.key_secret})
        return dns.update.UpdateMessage(self.zone, keyring=keyring, keyname=self.server.key_name,
                                        keyalgorithm=dns.tsig.HMAC_SHA256)

    def _send(self, update: dns.update.UpdateMessage, name: str) -> str:
        response = dns.query.tcp(update, self.server.address, port=self.server.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise LabError(f"cdn: changing {self.fqdn(name)}: {dns.rcode.to_text(response.rcode())}")
        return self.fqdn(name)
