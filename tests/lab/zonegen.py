"""Generated zones for tests and benchmarks: large, valid, and hard on providers.

`big_zone(n)` mixes address, MX, SRV, TXT and CNAME records. Every MX/SRV owner
sorts *before* its in-zone target (`a-mx-7` -> `zz-host-7`), which is what made
octodns-bind's name-sorted batches unpushable to BIND.
"""

from __future__ import annotations

import io

from octodns.yaml import safe_dump


def big_zone_data(n: int, zone: str, txt_length: int = 40) -> dict:
    data: dict[str, object] = {}
    kinds = 5
    for i in range(n // kinds):
        data[f"zz-host-{i}"] = {"type": "A", "ttl": 300, "value": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}
        data[f"a-mx-{i}"] = {"type": "MX", "ttl": 300,
                             "value": {"exchange": f"zz-host-{i}.{zone}", "preference": 10}}
        data[f"_svc{i}._tcp"] = {"type": "SRV", "ttl": 300,
                                 "value": {"priority": 10, "weight": 5, "port": 443, "target": f"zz-host-{i}.{zone}"}}
        data[f"txt-{i}"] = {"type": "TXT", "ttl": 300, "value": (f"record {i} " + "x" * txt_length)[:txt_length]}
        data[f"www-{i}"] = {"type": "CNAME", "ttl": 300, "value": f"zz-host-{i}.{zone}"}
    return data


def big_zone(n: int, zone: str, txt_length: int = 40) -> str:
    """octoDNS YAML text for a zone of about `n` records."""
    out = io.StringIO()
    safe_dump(big_zone_data(n, zone, txt_length), out)
    return out.getvalue()


def long_txt_zone(n: int, length: int = 250) -> str:
    """`n` TXT records of `length` octets: ~n*290 bytes, far over one 64 KiB message."""
    out = io.StringIO()
    safe_dump({f"t{i:05d}": {"type": "TXT", "ttl": 300, "value": f"{i:05d}" + "y" * (length - 5)}
               for i in range(n)}, out)
    return out.getvalue()
