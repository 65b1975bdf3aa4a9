"""What every command shares (commands/base.py): the repository a command asks for."""

from __future__ import annotations

from pathlib import Path

import yaml

from dnssync.commands.base import Context

ZONE = "www:\n  type: A\n  value: 192.0.2.1\n"


def two_zone_repo(root: Path) -> Path:
    (root / "zones").mkdir(parents=True)
    (root / "providers").mkdir()
    for zone in ("a.test", "b.test"):
        (root / "zones" / f"{zone}.yaml").write_text(ZONE)
    (root / "providers" / "one.yaml").write_text(yaml.safe_dump({
        "class": "embedded", "host": "127.0.0.1", "port": 9,
        "nameservers": [{"name": "ns1.one.example.", "address": "127.0.0.1:9"}]}))
    (root / "dnssync.yaml").write_text("zones: zones\nproviders: providers\nparent: {check: false}\nresolvers: []\n")
    return root


def test_a_later_request_for_other_zones_gets_those_zones(tmp_path):
    """Context.repo used to return the first repository loaded, whatever a later call
    asked for: a second call for other zones, or for all of them, got the first's zones."""
    ctx = Context(two_zone_repo(tmp_path), None, debug=False, color=False)
    only_a = ctx.repo(["a.test"], offline=True)
    assert sorted(only_a.desired) == ["a.test."]
    assert sorted(ctx.repo(["b.test"], offline=True).desired) == ["b.test."]
    assert sorted(ctx.repo(offline=True).desired) == ["a.test.", "b.test."]
    assert ctx.repo(["a.test."], offline=True) is only_a  # the same request (a zone's spellings): loaded once
    assert ctx.repo(["a.test"]) is not only_a  # with secrets is another request than without
