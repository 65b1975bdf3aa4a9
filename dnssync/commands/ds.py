"""`dnssync ds ZONE`: the DS set (and the DNSKEYs) the parent must hold for a zone.

What a registrar is given after turning multi-signer on, or after a provider
rolls its KSK: one DS per KSK of every provider (dsset.py decides, from what
every nameserver serves), as zone-file lines, and the same KSKs as DNSKEY lines
for registrars that take keys instead of digests (they compute the DS).
"""

from __future__ import annotations

import json

import click

from dnssync.commands.base import Context, format_option, pass_ctx
from dnssync.model.dnskeys import describe, key_text
from dnssync.model.errors import UsageError
from dnssync.planning.dsset import read_ds_set
from dnssync.repo.config import zone_name


@click.command()
@click.argument("zone")
@click.option("--digest", type=click.Choice(["SHA256", "SHA384"]), default="SHA256", show_default=True,
              help="The DS digest type.")
@format_option("text", "json")
@pass_ctx
def ds(ctx: Context, zone: str, digest: str, fmt: str) -> None:
    """Print the DS set covering every provider's KSK for ZONE, and those DNSKEYs.

    Exit 1 when a provider's keys could not be read or it does not sign ZONE
    (the set printed would then leave that provider out)."""
    name = zone_name(zone)
    repo = ctx.repo(offline=True)
    if name not in repo.desired:
        raise UsageError(f"no zone {name} in {repo.config.zones_dir} (zones: {', '.join(sorted(repo.desired))})")
    found = read_ds_set(repo.config, name, digest)
    if fmt == "json":
        ctx.emit(json.dumps({
            "zone": name, "digest": digest,
            "ds": [{"provider": p, "key": describe(k), "ds": d.to_text()} for (p, k), (_, d)
                   in zip(found.ksks, found.ds, strict=True)],
            "dnskeys": [{"provider": p, "key": describe(k), "dnskey": key_text(k)} for p, k in found.ksks],
            "problems": found.problems}, indent=2))
    else:
        ctx.out.print(f"; DS set for {name} covering every provider's KSK ({digest}): give these to the registrar",
                      soft_wrap=True, highlight=False)
        for (provider, key), (_, record) in zip(found.ksks, found.ds, strict=True):
            ctx.out.print(f"{name} IN DS {record.to_text()} ; {describe(key)} of {provider}",
                          soft_wrap=True, highlight=False)
        ctx.out.print("; the same KSKs as DNSKEY records, for registrars that take keys", soft_wrap=True,
                      highlight=False)
        for provider, key in found.ksks:
            ctx.out.print(f"{name} IN DNSKEY {key_text(key)} ; {describe(key)} of {provider}",
                          soft_wrap=True, highlight=False)
        for problem in found.problems:
            ctx.say(f"not covered: {problem}")
    if found.problems:
        raise click.exceptions.Exit(1)
