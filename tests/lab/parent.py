"""The parent zone's server: a second Knot instance on {net}.5 holding the test TLD `test.`.

Delegation is checked the way the internet does it: the parent's nameserver is
asked for the child zone and answers with a referral (NS in the authority
section, glue in the additional section). Tests write the delegation they want,
right or broken, with `delegate()` (an RFC 2136 update signed with the parent's
own TSIG key), so each test's child zone (`tN-PID.test.`) gets its own.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def __post_init__(self) -> None:
        self.nameserver = self.nameserver or f"ns.{TLD}"
        super().__post_init__()

    def zone_file(self, zone: str, nameservers: list[str]) -> str:
        return super().zone_file(zone, nameservers) + f"{self.nameserver} {DELEGATION_TTL} IN A {self.address}\n"

    def start(self) -> None:
        if TLD not in self.zones:
            self.add_zone(TLD, [self.nameserver])
        super().start()

    def delegate(self, child: str, nameservers: list[str], glue: dict[str, list[str]] | None = None) -> None:
        """Make the parent's delegation of `child` exactly `nameservers` with `glue`
        (name -> addresses), replacing what was there."""
        keyring = dns.tsigkeyring.from_text({self.key_name: self.key_secret})
        update = dns.update.UpdateMessage(TLD, keyring=keyring, keyname=self.key_name,
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
