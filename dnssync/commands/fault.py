"""`dnssync fault`: break (or repair) a running embedded nameserver.

Talks to `dnssync serve` over the server's control socket, so what verify and
watch report about a misbehaving provider can be tried by hand.
"""

from __future__ import annotations

from typing import Any

import click

from dnssync.commands.base import Context, pass_ctx
from dnssync.embedded import control
from dnssync.embedded.fleet import CONTROL_SOCKET, data_root, embedded_providers


@click.command()
@click.argument("provider")
@click.option("--clear", is_flag=True,
              help="Repair everything first (then apply any other option).")
@click.option("--down/--up", default=None,
              help="Close the server's sockets (an outage), or reopen them.")
@click.option("--drop", type=click.FloatRange(0, 1),
              help="Share of queries never answered (1: all).")
@click.option("--delay", type=click.FloatRange(0, 60), help="Seconds before each answer.")
@click.option("--rcode",
              help="Answer every query with this rcode (SERVFAIL, REFUSED...); '' for none.")
@click.option("--stale/--fresh", default=None,
              help="Keep answering from the zones as they are now, while updates still succeed.")
@click.option("--lie", nargs=3, metavar="NAME TYPE VALUE",
              help="Answer VALUE for NAME/TYPE instead of the truth.")
@click.option("--truncate/--no-truncate", default=None, help="Set TC on every UDP answer.")
@click.option("--lame/--no-lame", default=None, help="Answer without the AA bit.")
@click.option("--rrsig", type=click.Choice(["broken", "expired", "none"]),
              help="Serve a signed zone's RRSIGs broken (they do not validate) or expired; none repairs.")
@pass_ctx
def fault(ctx: Context, provider: str, clear: bool, lie: tuple[str, str, str] | None,
          **options: Any) -> None:
    """Show or change what is wrong with PROVIDER's embedded nameserver.

    Without options, shows its faults. `dnssync serve` must be running."""
    embedded_providers(ctx.repo(offline=True).config, [provider])  # a clear error for an unknown name
    path = data_root(ctx.repo(offline=True).config) / provider / CONTROL_SOCKET
    changes = {key: value for key, value in options.items() if value is not None}
    if changes.get("rrsig") == "none":
        changes["rrsig"] = None
    if "rcode" in changes:
        changes["rcode"] = changes["rcode"] or None
    if lie:
        name, rtype, value = lie
        changes["lie"] = {"name": name, "type": rtype, "values": [value]}
    if clear:
        control.request(path, {"op": "clear"})
    reply = control.request(path, {"op": "set", "faults": changes} if changes else {"op": "get"})
    zones = ", ".join(f"{zone.rstrip('.')} (serial {serial})"
                      for zone, serial in reply["zones"].items())
    ctx.out.print(f"{provider}: {reply['describe']}; zones: {zones or 'none'}")
