"""The DS set a multi-signer zone's parent must hold: one DS per KSK of every provider.

In a multi-signer zone (RFC 8901) each provider signs its DNSKEY RRset with its
own KSK, so a resolver arriving at any provider must find that provider's KSK
in the parent's DS set: the DS set covers every provider's KSK, or a share of
all resolutions fails validation. The KSKs are read over DNS from every
nameserver of every provider (servedkeys.py: a KSK is a SEP key that signs the
DNSKEY RRset there), so what `dnssync ds` prints is what the providers serve
now, and verify compares the same set with what the parent serves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from dnssync.model.dnskeys import DEFAULT_DIGEST, ds_for, unique
from dnssync.query.servedkeys import ServedKeys, read_all
from dnssync.repo.config import Config


@dataclass
class DsSet:
    """The DS set of one zone, with whose KSK each DS is and what could not be read."""

    zone: str
    served: dict[str, ServedKeys]
    digest: str = DEFAULT_DIGEST
    #: (provider, KSK) for every provider's key-signing keys, in a stable order
    ksks: list[tuple[str, DNSKEY]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a provider unreadable or not signing

    @property
    def ds(self) -> list[tuple[str, DS]]:
        return [(provider, ds_for(self.zone, key, self.digest)) for provider, key in self.ksks]


def ds_set(served: dict[str, ServedKeys], zone: str, digest: str = DEFAULT_DIGEST) -> DsSet:
    """The DS set covering the KSKs every provider serves (pure: from what was read)."""
    result = DsSet(zone, served, digest)
    for provider, keys in sorted(served.items()):
        if keys.error is not None:
            result.problems.append(f"{provider}: its DNSKEYs could not be read ({keys.error})")
        elif not keys.key_signing:
            result.problems.append(f"{provider}: serves no KSK signing its DNSKEY RRset (is {zone} signed there?)")
        for key in unique(keys.key_signing):
            if all(key.to_digestable() != k.to_digestable() for _, k in result.ksks):
                result.ksks.append((provider, key))
    return result


def read_ds_set(config: Config, zone: str, digest: str = DEFAULT_DIGEST) -> DsSet:
    """Ask every nameserver of every provider of `zone` for its keys; the DS set they need."""
    providers = {p.name: p.nameservers for p in config.providers_for(zone)}
    served = asyncio.run(read_all(providers, zone, config.defaults.timeout))
    return ds_set(served, zone, digest)
