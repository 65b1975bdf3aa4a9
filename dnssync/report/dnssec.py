"""The multi-signer matrix as the text report shows it: for each zone, each provider's
signatures (rows) validated with each provider's DNSKEY set (columns). A red cell is
what a resolver meets when it cached the column's keys and then asked the row's provider."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dnssync.verify.dnssec import ZoneDnssec


def matrix_table(zone: ZoneDnssec) -> Table:
    table = Table(title=f"{zone.zone} DNSSEC: signatures (rows) validated with DNSKEY sets (columns)",
                  title_justify="left", expand=False)
    table.add_column("signer \\ keys of")
    for holder in zone.providers:
        table.add_column(holder, justify="right")
    for signer in zone.providers:
        cells = []
        for holder in zone.providers:
            cell = zone.matrix.get((signer, holder))
            if cell is None or not cell.total:
                cells.append(Text("-", style="dim"))
                continue
            style = "green" if cell.valid == cell.total else "bold red"
            cells.append(Text(f"{cell.valid}/{cell.total}", style=style))
        table.add_row(signer, *cells)
    return table


def print_matrices(console: Console, zones: list[ZoneDnssec]) -> None:
    for zone in zones:
        console.print(matrix_table(zone))


def matrices_data(zones: list[ZoneDnssec]) -> list[dict]:
    """The matrices for JSON output: zone -> signer -> key set -> {valid, total}."""
    return [{"zone": z.zone, "keys": z.keys, "ds": z.ds,
             "matrix": {s: {h: {"valid": c.valid, "total": c.total} for (s2, h), c in z.matrix.items() if s2 == s}
                        for s in z.providers}} for z in zones]
