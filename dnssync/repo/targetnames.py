"""Target names written without a trailing dot are absolute, for every provider.

octoDNS accepts `value: sendgrid.net` in a CNAME (its trailing-dot check is only a
best-practice validator), and then each provider reads it its own way: Route53 takes
it as `sendgrid.net.`, PowerDNS refuses it (HTTP 422), and the RFC 2136 providers
fail with dnspython's "non-absolute name" error that names no record. A redundant
zone needs one meaning: dnssync treats such a name as absolute (as Route53 does, and
as the author of `sendgrid.net` meant), writes it so in the desired zone before any
provider or verify sees it, and the zone loader warns at the value's line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dnssync.repo.yamlfile import Mapping, Sequence

#: record type -> the keys of a value that hold a host name (None: the value is the name)
TARGET_FIELDS: dict[str, tuple[str, ...] | None] = {
    "CNAME": None, "ALIAS": None, "DNAME": None, "NS": None, "PTR": None,
    "MX": ("exchange", "value"), "SRV": ("target",),
}


@dataclass(frozen=True)
class Relative:
    """A target written without its trailing dot, and the line it is written on."""

    written: str
    line: int


def _is_relative(text: Any) -> bool:
    # "." is the null target (MX, SRV); `{...}` is a template some plugins fill in
    return isinstance(text, str) and text not in ("", ".") and not text.endswith(".") \
        and "{" not in text and " " not in text


def _pool(pool: Any, fix: Any) -> Any:
    """A dynamic record's pool with each value's target fixed (`values: [{value: ...}]`)."""
    values = pool.get("values") if isinstance(pool, Mapping) else None
    if not isinstance(values, Sequence):
        return pool
    fixed = [{**v, "value": fix(v["value"], v.value_lines.get("value", at))}
             if isinstance(v, Mapping) and "value" in v else v for v, at in zip(values, values.item_lines, strict=True)]
    return {**pool, "values": fixed}


def absolute_targets(item: Mapping, line: int) -> tuple[dict[str, Any], list[Relative]]:
    """The record's data with every relative target made absolute, and those targets.
    Returns `item` itself (unchanged) when there is none: the common case stays free."""
    fields = TARGET_FIELDS.get(str(item.get("type", "")), ())
    if fields == ():
        return item, []
    found: list[Relative] = []

    def fix(text: Any, at: int) -> Any:
        if not _is_relative(text):
            return text
        found.append(Relative(text, at))
        return text + "."

    def one(value: Any, at: int) -> Any:
        if fields is None:
            return fix(value, at)
        if not isinstance(value, dict):
            return value
        lines = value.value_lines if isinstance(value, Mapping) else {}
        return {k: fix(v, lines.get(k, at)) if k in fields else v for k, v in value.items()}

    data: dict[str, Any] = dict(item)
    dynamic = item.get("dynamic")
    if fields is None and isinstance(dynamic, Mapping) and isinstance(dynamic.get("pools"), Mapping):
        data["dynamic"] = {**dynamic, "pools": {name: _pool(pool, fix) for name, pool in dynamic["pools"].items()}}
    for key in ("value", "values"):
        if key not in item:
            continue
        at = item.value_lines.get(key, line)
        value = item[key]
        if isinstance(value, list):
            lines = value.item_lines if isinstance(value, Sequence) else [at] * len(value)
            data[key] = [one(v, v_line) for v, v_line in zip(value, lines, strict=True)]
        else:
            data[key] = one(value, at)
    return (data, found) if found else (item, [])
