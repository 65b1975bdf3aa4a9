"""Zones loaded by forked processes beside this one (repo/spread.py): the same zones,
warnings and errors, in the same order, as one process loading them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnssync.model.errors import ConfigError
from dnssync.model.records import zone_content
from dnssync.repo import spread
from dnssync.repo.repository import checked_zones, read_settings
from dnssync.repo.spread import cut, zone_sizes
from dnssync.repo.zones import discover

PROVIDER = """class: powerdns
host: 127.0.0.1
api_key: env/TEST_SPREAD_KEY
nameservers:
  - name: ns1.example.net.
    address: 127.0.0.1:5300
"""


def _repo(root: Path, zones: dict[str, str]):
    (root / "zones").mkdir(parents=True)
    (root / "providers").mkdir()
    (root / "dnssync.yaml").write_text("zones: zones\nproviders: providers\n")
    (root / "providers" / "pdns.yaml").write_text(PROVIDER)
    for name, text in zones.items():
        (root / "zones" / f"{name}yaml").write_text(text)
    config, findings = read_settings(root, None, offline=True)
    assert config is not None, findings
    return config


def _zones(count: int) -> dict[str, str]:
    zones = {f"z{i:02d}.test.": "".join(f"h{j}:\n  type: A\n  value: 192.0.2.{j}\n" for j in range(i + 1))
             for i in range(count)}
    zones["z03.test."] = "www:\n  value: 192.0.2.1\n  type: A\n"  # keys out of order: a warning
    return zones


def _loaded(config, jobs: int):
    zones, findings = checked_zones(config, None, jobs)
    return [(z.name, zone_content(z.zone), z.locations, z.files) for z in zones], findings


def test_spread_load_equals_one_process(tmp_path, monkeypatch):
    config = _repo(tmp_path, _zones(9))
    monkeypatch.setattr(spread, "MIN_BYTES", 1)
    sources = discover(config.zones_dir, config.zone_files)
    assert len(cut(zone_sizes(sources, list(sources)), 3)) == 3  # two of them loaded by workers
    alone, spread_out = _loaded(config, 1), _loaded(config, 3)
    assert len(alone[0]) == 9 and [f.code for f in alone[1]] == ["zone.key-order"]
    assert spread_out == alone


def test_an_error_in_one_part_is_reported_with_every_other_parts_findings(tmp_path, monkeypatch):
    zones = _zones(9)
    zones["z01.test."] = "a:\n  type: A\n  value: 1.2.3.999\n"
    zones["z07.test."] = "b:\n  type: NOPE\n  value: x\n"
    config = _repo(tmp_path, zones)
    monkeypatch.setattr(spread, "MIN_BYTES", 1)
    with pytest.raises(ConfigError) as alone:
        checked_zones(config, None, 1)
    with pytest.raises(ConfigError) as spread_out:
        checked_zones(config, None, 3)
    assert [f.code for f in alone.value.findings] == ["zone.record", "zone.key-order", "zone.record-type"]
    assert spread_out.value.findings == alone.value.findings


def test_cut_keeps_order_and_balances_bytes():
    sizes = [(f"z{i}", 150_000) for i in range(4)] + [("big", 600_000)]
    assert cut(sizes, 2) == [["z0", "z1", "z2", "z3"], ["big"]]
    assert cut(sizes[:1], 4) == [["z0"]]  # one zone is never split
    assert cut([("a", 10), ("b", 10)], 8) == [["a", "b"]]  # too small to be worth a fork
    assert cut([], 2) == []


def _timed_part(seconds: float) -> tuple[int, float, float]:
    """A part that takes `seconds`: the worker's pid, when it started and ended."""
    import os
    import time

    started = time.time()
    time.sleep(seconds)
    return os.getpid(), started, time.time()


def test_rolling_starts_each_part_in_a_fresh_worker_as_soon_as_a_worker_is_free():
    """Two at once: while the first part takes 2 s, the three short ones run one after
    the other beside it (in rounds, the third waited for the first); results in order."""
    ticks = []
    results = spread.rolling(_timed_part, [2.0, 0.05, 0.05, 0.05], 2, tick=lambda: ticks.append(1))
    assert results is not None and len(results) == 4
    (_, _, first_end), *short = results
    assert len({pid for pid, _, _ in results}) == 4  # a fresh worker for every part
    assert all(start < first_end for _, start, _ in short)
    assert short[1][1] >= short[0][2] and short[2][1] >= short[1][2]  # one slot: one after the other
    assert len(ticks) >= 10  # about every 0.1 s while parts run


def test_rolling_gives_up_when_a_worker_is_killed_and_raises_what_a_part_raised():
    import os
    import signal

    def killed(part: int) -> int:
        if part == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return part

    def failing(part: int) -> int:
        if part == 2:
            raise ValueError(f"part {part} failed")
        return part

    assert spread.rolling(killed, [0, 1, 2], 2) is None  # the caller then does it all itself
    with pytest.raises(ValueError, match="part 2 failed"):
        spread.rolling(failing, [0, 1, 2, 3], 2)
    assert spread.rolling(lambda part: part * 2, [1, 2, 3], 8) == [2, 4, 6]


def test_a_plans_repository_identity_is_made_from_the_loads_scan(tmp_path, monkeypatch):
    """The zone names a saved plan is bound to are those the load found (every zone with
    files, also with --zone), without reading every file's head a second time."""
    from dnssync.model.binding import repository_digest
    from dnssync.repo import repository
    from dnssync.repo.repository import Repository, Selection

    monkeypatch.setenv("TEST_SPREAD_KEY", "k")
    zones = _zones(3)
    config = _repo(tmp_path, zones)
    scans = []
    real = repository.scan
    monkeypatch.setattr(repository, "scan", lambda *a: scans.append(a) or real(*a))
    loaded = Repository.load(tmp_path, Selection(zones=["z01.test."]), offline=True)
    assert list(loaded.desired) == ["z01.test."]
    assert loaded.identity == repository_digest(config, list(zones))
    assert loaded.identity != repository_digest(config, ["z01.test."])
    assert len(scans) == 1
