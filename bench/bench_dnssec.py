"""DNSSEC signatures validated per second during `verify --dnssec`, against BIND's
`dnssec-verify` on the same signed zone in the same run.

Knot signs a zone of RECORDS RRsets itself (automatic signing, ECDSA P-256 KSK + ZSK,
NSEC). dnssync asks Knot for every RRset with the DO bit and validates every RRSIG it
gets (plus the DNSKEY set and the NXDOMAIN/NODATA proofs); the rate is signatures
validated over the DNSSEC check's wall time (queries included). dnssec-verify gets the
same zone, transferred from Knot (AXFR with TSIG), and validates every RRSIG in it from
a file: its rate is the zone's RRSIGs over its wall time. The ratio compares the two.

    python bench/run.py dnssec
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.zone
from common import Row, push, verify, write_repo, zone_yaml

from tests.lab import Lab

BENCH = "dnssec"
RECORDS = 1000
ZONE = "signed-bench.test."


def transfer(lab: Lab, zone: str, path: Path) -> int:
    """The signed zone as Knot serves it, written to `path`; returns its RRSIG count."""
    knot = lab.knot
    keyring = dns.tsigkeyring.from_text({knot.key_name: knot.key_secret})
    for attempt in range(3):  # Knot may close a transfer while it is still signing the changes
        try:
            xfr = dns.query.xfr(knot.address, zone, port=knot.port, keyring=keyring, keyname=knot.key_name,
                                keyalgorithm=dns.tsig.HMAC_SHA256, lifetime=60, relativize=False)
            signed = dns.zone.from_xfr(xfr, relativize=False)
            break
        except EOFError:
            if attempt == 2:
                raise
            time.sleep(1)
    signed.to_file(str(path), relativize=False)
    return sum(len(rdataset) for _, node in signed.nodes.items() for rdataset in node
               if rdataset.rdtype == dns.rdatatype.RRSIG)


def wait_signed_records(lab: Lab, zone: str, count: int, timeout: float = 60) -> None:
    """Knot signs changes a moment after they arrive: wait until the last record is signed."""
    name = f"h{count - 1:06d}.{zone}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        query = dns.message.make_query(name, "A" if (count - 1) % 20 < 10 else "ANY", want_dnssec=True)
        reply = dns.query.tcp(query, lab.knot.address, timeout=5)
        if any(r.rdtype == dns.rdatatype.RRSIG for r in reply.answer):
            return
        time.sleep(0.2)


def run(workdir: Path) -> list[Row]:
    rows = []
    with Lab(workdir / "lab") as lab:
        lab.add_signed_zone(ZONE, providers=["knot"])
        root = workdir / "repo"
        env = write_repo(lab, root, {ZONE: zone_yaml(ZONE, RECORDS)}, ["knot"])
        (root / "dnssync.yaml").write_text((root / "dnssync.yaml").read_text()
                                           + "policy: {dnssec: multi-signer}\n")
        push(root, env)
        wait_signed_records(lab, ZONE, RECORDS)
        elapsed, report = verify(root, env, "--dnssec")
        stats = report["stats"]["dnssec"]
        ours = stats["validated"] / stats["seconds"]
        errors = [f["code"] for f in report["findings"] if f["severity"] == "error"]
        rows.append(Row(BENCH, f"verify --dnssec: signatures validated per second ({RECORDS} RRsets, Knot)",
                        round(ours), "sig/s", detail={**stats, "wall": round(elapsed, 3), "errors": errors}))
        binary = shutil.which("dnssec-verify")
        if binary is None:
            rows.append(Row(BENCH, "dnssec-verify: not installed", None))
            return rows
        path = workdir / "signed.zone"
        rrsigs = transfer(lab, ZONE, path)
        start = time.perf_counter()
        done = subprocess.run([binary, "-q", "-o", ZONE, str(path)], capture_output=True, text=True, timeout=600)
        theirs_seconds = time.perf_counter() - start
        theirs = rrsigs / theirs_seconds
        rows.append(Row(BENCH, "dnssec-verify (BIND 9.18) on the same zone: signatures per second",
                        round(theirs), "sig/s",
                        detail={"rrsigs": rrsigs, "seconds": round(theirs_seconds, 3), "exit": done.returncode,
                                "stderr": done.stderr[-500:]}))
        rows.append(Row(BENCH, "ratio dnssync / dnssec-verify (signatures per second)", round(ours / theirs, 3), "x",
                        detail={"note": "dnssync's rate includes asking every RRset over DNS"}))
    return rows
