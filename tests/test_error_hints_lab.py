"""Errors that say what to do, from the real PowerDNS of the lab: a refused API key
names the variable it came from; a server that is not running is one line naming the
provider, where and why (never urllib3's nested `HTTPConnectionPool(...)` text)."""

from __future__ import annotations

import json

from tests.conftest import unique_zone
from tests.embedded_repo import free_port

RAW = ("HTTPConnectionPool", "Max retries", "NewConnectionError", "object at 0x")


def test_powerdns_refusing_the_api_key_names_the_variable(make_repo, lab):
    zone = unique_zone("hint")
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"}, providers=["pdns"])
    repo.env["DNSSYNC_LAB_PDNS_API_KEY"] = "not-the-key"
    result = repo.run("plan")
    assert result.exit_code == 1
    shown = " ".join(result.output.replace("│", " ").split())
    assert (f"provider pdns (powerdns): HTTP 401 from http://{lab.pdns.address}:8081/api/v1/servers/localhost/zones/"
            f"{zone}: the API key from env DNSSYNC_LAB_PDNS_API_KEY was refused") in shown, result.output
    assert "not-the-key" not in result.output


def test_powerdns_not_running_is_one_line_with_the_next_step(make_repo, lab):
    zone = unique_zone("hint")
    port = free_port()
    repo = make_repo({zone: "www:\n  type: A\n  value: 192.0.2.1\n"}, providers=["pdns"],
                     provider_extra={"pdns": {"port": port}})
    result = repo.run("plan", "--format", "json")
    assert result.exit_code == 1
    error = next(p["error"] for p in json.loads(result.output)["providers"])
    assert error == (f"provider pdns (powerdns) at {lab.pdns.address}:{port}: connection refused:"
                     f" is the server at {lab.pdns.address}:{port} running?")
    assert not any(raw in result.output for raw in RAW)
