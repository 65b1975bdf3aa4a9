"""`dnssync serve`: run the repository's embedded nameservers in the foreground.

With them running, plan, apply and verify work on the example repository from
another shell, and `dnssync fault` breaks them. Zones are kept under the state
folder, so stopping and starting again is an outage, not a loss of data.
"""

from __future__ import annotations

import signal
import threading

import click
from rich.table import Table

from dnssync.commands.base import Context, pass_ctx, provider_option
from dnssync.embedded.fleet import Fleet, data_root
from dnssync.report.fit import Fitted


@click.command()
@provider_option
@pass_ctx
def serve(ctx: Context, providers: tuple[str, ...]) -> None:
    """Run the nameservers of the `embedded` providers until Ctrl-C."""
    config = ctx.repo(offline=True).config
    fleet = Fleet.for_config(config, data_root(config), list(providers) or None, control=True)
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        with fleet:
            table = Table(title="embedded nameservers", title_justify="left")
            for column in ("provider", "nameserver", "listens on", "zones"):
                table.add_column(column)
            for name, server in fleet.servers.items():
                zones = ", ".join(str(z).rstrip(".") for z in sorted(server.zones)) or "none yet"
                table.add_row(name, str(server.nameserver), server.address, zones)
            ctx.out.print(Fitted(table))
            ctx.out.print("Serving. In another shell: dnssync plan / apply / verify, dnssync fault"
                          " NAME --help. Ctrl-C stops.")
            try:
                while not stopped.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    ctx.out.print(f"Stopped {len(fleet.servers)} embedded nameserver(s); their zones are kept in"
                  f" {data_root(ctx.repo(offline=True).config)}.")
