"""`dnssync import`: a provider's current zone written into zones/, for onboarding.

An existing zone is adopted by importing it from the provider that serves it
today; the next plan then shows no changes for that provider, and shows exactly
what the other providers lack. The apex NS is left out when dnssync manages it
(it is the union of all providers' nameservers, whatever the file says)."""

from __future__ import annotations

import click
from octodns.zone import Zone

from dnssync.commands.base import Context, pass_ctx
from dnssync.model.errors import DnssyncError, UsageError
from dnssync.providers.hints import describe_error
from dnssync.repo.config import zone_name
from dnssync.repo.plugins import build_provider
from dnssync.repo.zones import discover, dump_zone, sub_zones_of


@click.command("import")
@click.option("--provider", "provider_name", required=True, metavar="NAME", help="Provider to read the zone from.")
@click.option("--zone", "zone", required=True, metavar="ZONE", help="Zone to import.")
@click.option("--force", is_flag=True, help="Overwrite an existing zone file.")
@pass_ctx
def import_zone(ctx: Context, provider_name: str, zone: str, force: bool) -> None:
    """Write provider NAME's current content of ZONE to zones/ in octoDNS YAML."""
    config = ctx.settings()
    if provider_name not in config.providers:
        raise UsageError(f"no provider named {provider_name} (known: {', '.join(sorted(config.providers))})")
    name = zone_name(zone)
    existing = discover(config.zones_dir, config.zone_files)
    path = config.zones_dir / f"{name}yaml"
    if name in existing and not force:
        raise UsageError(f"zones already has {name} ({', '.join(map(str, existing[name]))}); --force overwrites")
    provider = build_provider(config.providers[provider_name])
    live = Zone(name, sub_zones_of(name, [*existing, name]))
    try:
        exists = provider.populate(live, target=False, lenient=True)
    except Exception as e:  # whatever the plugin raises: a clear one-line error, exit 1 like plan
        raise DnssyncError(f"cannot read {name} from {provider_name}: {describe_error(e, provider)}") from None
    if exists is False:
        raise UsageError(f"provider {provider_name} has no zone {name}")
    if config.apex_ns.manage and live.root_ns is not None:
        live.remove_record(live.root_ns)
    dump_zone(live, path)
    ctx.out.print(f"Imported {len(live.records)} record(s) of {name} from {provider_name} into {path}.")
    ctx.out.print(f"Next: dnssync plan --zone {name.rstrip('.')}")
