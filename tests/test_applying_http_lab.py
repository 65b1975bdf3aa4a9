"""apply against an HTTP API that fails: the real PowerDNS behind tests/httpfault.py.

Transient failures (5xx) are retried; a failure after part of a zone was sent is
reported as partial; a provider that could not be read when the plan was made is
gated and snapshotted on the retry like any other before anything is sent."""

from __future__ import annotations

import json

import pytest

from tests.conftest import unique_zone
from tests.httpfault import FaultyProxy
from tests.test_push_lab import ask


def zone_path(zone: str) -> str:
    return f"/api/v1/servers/localhost/zones/{zone}"


@pytest.fixture
def proxied(make_repo, lab):
    """make(zones, decide, **extra) -> (repo, proxy): PowerDNS reached through a FaultyProxy."""
    proxies = []

    def make(zones: dict[str, str], decide, create: bool = True, **extra):
        proxy = FaultyProxy(f"http://{lab.pdns.address}:{lab.pdns.api_port}", decide).__enter__()
        proxies.append(proxy)
        repo = make_repo(zones, providers=["pdns"], create=create,
                         provider_extra={"pdns": {"host": "127.0.0.1", "port": proxy.port, **extra}})
        return repo, proxy

    yield make
    for proxy in proxies:
        proxy.__exit__()


def outcome(repo) -> dict:
    record = sorted((repo.root / ".dnssync" / "applies").glob("*.json"))[-1]
    return json.loads(record.read_text())["outcomes"][0]


def test_http_5xx_is_retried_then_applied(proxied, lab):
    zone = unique_zone("h")
    repo, proxy = proxied({zone: "www:\n  type: A\n  value: 192.0.2.1\n"},
                          lambda method, path, n: 503 if method == "PATCH" and n == 0 else None)
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert outcome(repo)["attempts"] == 2
    assert [s for m, _, s in proxy.log if m == "PATCH"] == [503, 204]
    assert ask(lab, "pdns", f"www.{zone}", "A") == {"192.0.2.1"}


def test_http_api_failing_mid_run_is_reported_as_partial(proxied, lab):
    """Requests are bounded in size (max_request_bytes), so this zone takes several;
    the API refuses all but the first: the zone is left part-written, and apply says so."""
    zone = unique_zone("h")
    records = "".join(f"h{i:02d}:\n  type: TXT\n  value: {'x' * 200}\n" for i in range(20))
    repo, _ = proxied({zone: records},
                      lambda method, path, n: 400 if method == "PATCH" and n > 0 else None,
                      max_request_bytes=2000)
    result = repo.run("apply", "--yes")
    assert result.exit_code == 1
    failed = outcome(repo)
    assert failed["status"] == "failed" and failed["attempts"] == 1  # 4xx: not retried
    assert 0 < failed["pending"] < failed["changes"]
    assert "PARTIALLY APPLIED" in result.output


def test_provider_unreadable_when_planned_is_gated_on_the_retry(proxied, lab):
    zone = unique_zone("h")
    many = "".join(f"h{i:02d}:\n  type: A\n  value: 192.0.2.{i}\n" for i in range(20))
    repo, _ = proxied({zone: many}, lambda method, path, n: None)
    assert repo.run("apply", "--yes").exit_code == 0
    # PowerDNS cannot be read while the plan is made; by the retry it can, and the
    # change it then shows deletes 19 of 21 records: over the threshold, never reviewed
    repo2, _ = proxied({zone: "h00:\n  type: A\n  value: 192.0.2.0\n"},
                       lambda method, path, n: 503 if method == "GET" and path == zone_path(zone) and n == 0
                       else None, create=False)
    result = repo2.run("apply", "--yes")
    assert result.exit_code == 1
    assert "now needs --force" in result.output and "Too many deletes" in result.output
    assert ask(lab, "pdns", f"h05.{zone}", "A") == {"192.0.2.5"}  # nothing was sent


def test_provider_unreadable_when_planned_is_snapshotted_before_the_retry_sends(proxied, lab):
    zone = unique_zone("h")
    repo, _ = proxied({zone: "www:\n  type: A\n  value: 192.0.2.1\n"},
                      lambda method, path, n: 503 if method == "GET" and path == zone_path(zone) and n == 0
                      else None)
    result = repo.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    assert outcome(repo)["attempts"] == 2
    snapshot = json.loads(next((repo.root / ".dnssync" / "snapshots").glob("*/meta.json")).read_text())
    assert [(e["provider"], e["zone"]) for e in snapshot["entries"]] == [("pdns", zone)]


def test_reviewed_plan_never_applies_a_provider_it_could_not_read(proxied, make_repo, lab, tmp_path):
    zone = unique_zone("h")
    repo, _ = proxied({zone: "www:\n  type: A\n  value: 192.0.2.1\n"},
                      lambda method, path, n: 503 if method == "GET" and path == zone_path(zone) and n == 0
                      else None)
    plan_file = tmp_path / "plan.json"
    assert repo.run("plan", "--save-plan", str(plan_file)).exit_code == 1  # pdns unreadable: reviewed as an error
    result = repo.run("apply", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 1
    assert "never reviewed" in result.output
    assert ask(lab, "pdns", f"www.{zone}", "A") == set()
