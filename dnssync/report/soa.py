"""The SOA of every provider side by side, as a rich table or Markdown."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from dnssync.verify.soa import NameserverSoa

COLUMNS = ("provider", "nameserver", "MNAME", "RNAME", "serial", "refresh", "retry", "expire",
           "minimum", "SOA TTL", "negative TTL")


def _cells(v: NameserverSoa) -> list[str]:
    if v.error:
        return [v.provider, v.nameserver, v.error, *[""] * (len(COLUMNS) - 3)]
    return [v.provider, v.nameserver, str(v.mname), str(v.rname),
            *(str(x) for x in (v.serial, v.refresh, v.retry, v.expire, v.minimum, v.ttl, v.negative_ttl))]


def soa_tables(views: list[NameserverSoa]) -> list[Table]:
    tables = []
    for zone in sorted({v.zone for v in views}):
        table = Table(title=f"SOA of {zone}", title_justify="left", expand=False)
        for column in COLUMNS:
            table.add_column(column, overflow="fold")
        for v in (v for v in views if v.zone == zone):
            cells = _cells(v)
            style = "bold red" if v.error else ""
            table.add_row(*(Text(c, style=style) for c in cells))
        tables.append(table)
    return tables


def soa_markdown(views: list[NameserverSoa]) -> str:
    out = []
    for zone in sorted({v.zone for v in views}):
        out += [f"### SOA of `{zone}`", "", "| " + " | ".join(COLUMNS) + " |",
                "|" + "---|" * len(COLUMNS)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(v)) + " |"
                for v in views if v.zone == zone]
        out.append("")
    return "\n".join(out) + "\n"
