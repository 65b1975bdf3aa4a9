"""Issue 10, the loading side, without the lab: the YAML loader keeps keys as written, zone
discovery follows octoDNS's YamlProvider, the key-order message names the real setting, and
the embedded nameserver serves what the real servers serve of such a repository."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from dnssync.cli import main
from dnssync.embedded.fleet import Fleet
from dnssync.repo.config import ZoneFiles
from dnssync.repo.repository import load_settings
from dnssync.repo.yamlfile import load_file
from dnssync.repo.zonefiles import scan
from tests.embedded_repo import ask, run, values, write_repo

ZONE_TEXT = "www:\n  value: 192.0.2.1\n  type: A\n"  # keys out of natural order (value before type)


def test_unquoted_keys_are_kept_as_written(tmp_path):
    path = tmp_path / "z.yaml"
    path.write_text("null: 1\n~: 2\non: 3\nYes: 4\n1.50: 5\n010: 6\n2024-01-01: 7\n'true': 8\nplain: 9\n")
    data, _ = load_file(path)
    assert list(data) == ["null", "~", "on", "Yes", "1.50", "010", "2024-01-01", "true", "plain"]
    assert data.typed_keys == {"null": "a null", "~": "a null", "on": "a boolean", "Yes": "a boolean",
                               "1.50": "a number", "010": "an integer", "2024-01-01": "a date"}
    assert data.line_of("2024-01-01") == 7


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("www:\n  type: A\n  value: 192.0.2.1\n")


def test_discovery_as_octodns_reads_zones(tmp_path):
    _touch(tmp_path, "example.com.yaml", "example.com._0_base.yaml", "example.com._1_canary.yaml",
           "canary.example.com.yaml", "lan.yaml", "example.org./www.yaml", "example.org./notes.txt",
           "scripts/build.yaml", "notes.md", ".hidden.yaml", "example.net.json")
    found = scan(tmp_path)
    assert {name: [p.name for p in files] for name, files in found.zones.items()} == {
        "canary.example.com.": ["canary.example.com.yaml"], "example.com.": ["example.com.yaml"],
        "example.net.": ["example.net.json"], "example.org.": ["www.yaml"], "lan.": ["lan.yaml"]}
    assert sorted(Path(f.file).name for f in found.skipped) == ["example.com._0_base.yaml",
                                                                "example.com._1_canary.yaml"]
    declared = scan(tmp_path, ZoneFiles(declared=["example.com."], suffixes=(".yaml",), split_extension=None))
    assert list(declared.zones) == ["example.com."]
    why = {Path(f.file).name: (f.severity, f.message) for f in declared.skipped}
    assert why["canary.example.com.yaml"] == ("info", "not a zone: canary.example.com.yaml: the octoDNS config"
                                              " does not list this zone")
    assert why["example.net.json"][1].endswith("octoDNS reads only .yaml zone files")
    assert "example.org." not in why  # without split_extension a folder is no zone, as in octoDNS


def _repo(tmp_path: Path, config: str) -> Path:
    (tmp_path / "zones").mkdir(parents=True)
    (tmp_path / "providers").mkdir()
    (tmp_path / "zones" / "example.com.yaml").write_text(ZONE_TEXT)
    (tmp_path / "providers" / "one.yaml").write_text(yaml.safe_dump({
        "class": "embedded", "host": "127.0.0.1", "port": 9,
        "nameservers": [{"name": "ns1.one.example.", "address": "127.0.0.1:9"}]}))
    (tmp_path / "dnssync.yaml").write_text("zones: zones\nproviders: providers\nparent: {check: false}\n" + config)
    return tmp_path


def _octodns(tmp_path: Path, options: str) -> Path:
    (tmp_path / "zones").mkdir(parents=True)
    (tmp_path / "zones" / "example.com.yaml").write_text(ZONE_TEXT)
    (tmp_path / "octodns.yaml").write_text(
        "providers:\n  config:\n    class: octodns.provider.yaml.YamlProvider\n"
        f"    directory: {tmp_path / 'zones'}\n"
        f"{options}  pdns:\n    class: octodns_powerdns.PowerDnsProvider\n    host: 127.0.0.1\n"
        "    api_key: k\nzones:\n  example.com.:\n    sources: [config]\n    targets: [pdns]\n")
    return tmp_path / "octodns.yaml"


def _order(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "validate"], catch_exceptions=False)
    lines = [line for line in result.output.splitlines() if "zone.key-order" in line]
    return result.exit_code, " ".join(lines)


def test_key_order_message_names_the_setting(tmp_path):
    code, line = _order(["-c", str(_repo(tmp_path / "a", ""))])
    assert code == 0 and line.endswith(
        "warning zone.key-order: keys out of octoDNS's natural order: expected 'type' before 'value'. Accepted:"
        " dnssync.yaml does not set defaults.enforce_order (off by default); octoDNS's YamlProvider refuses it"
        " unless its enforce_order is false")
    code, line = _order(["-c", str(_repo(tmp_path / "b", "defaults:\n  enforce_order: false\n"))])
    assert code == 0 and "Accepted: enforce_order is false (defaults.enforce_order in" in line
    assert "dnssync.yaml:5)" in line and "would refuse" not in line
    code, line = _order(["-c", str(_repo(tmp_path / "c", "defaults:\n  enforce_order: true\n"))])
    assert code == 2 and "error zone.key-order" in line
    assert "Refused: enforce_order is true (defaults.enforce_order in" in line and "accepts" not in line
    code, line = _order(["--octodns-config", str(_octodns(tmp_path / "d", "    enforce_order: false\n"))])
    assert code == 0 and "Accepted: enforce_order is false (enforce_order of YamlProvider 'config'," in line
    assert "octodns.yaml:5)" in line
    code, line = _order(["--octodns-config", str(_octodns(tmp_path / "e", ""))])
    assert code == 2 and "Refused: enforce_order is true (octoDNS's default for YamlProvider 'config'" in line
    assert "sort the keys, or set enforce_order: false there" in line


def test_octodns_config_lenient_zone_and_declared_zones(tmp_path):
    config = _octodns(tmp_path, "    enforce_order: false\n")
    text = config.read_text().replace("    targets: [pdns]\n", "    targets: [pdns]\n    lenient: true\n")
    config.write_text(text)
    zones = tmp_path / "zones"
    (zones / "example.com.yaml").write_text("sip.tcp:\n  type: SRV\n  value: {port: 5060, priority: 10,"
                                            " target: sip.example.org., weight: 5}\n")
    (zones / "example.org.yaml").write_text("www:\n  type: A\n  value: 192.0.2.1\n")
    result = CliRunner().invoke(main, ["--octodns-config", str(config), "validate", "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["zones"] == ["example.com."]  # example.org.yaml is no zone the config declares
    codes = {(f["code"], f["severity"]) for f in data["findings"]}
    assert ("zone.record", "warning") in codes and ("config.zone-skipped", "info") in codes


def test_embedded_servers_serve_what_the_lab_serves(tmp_path):
    """The same repository as the lab tests, on two embedded nameservers: relative targets
    absolute, unquoted keys as written, a lenient CNAME alone, data below a cut noted."""
    zone = "mig.test."
    text = ("null:\n  type: A\n  value: 192.0.2.2\n"
            "sub:\n  - type: NS\n    value: ns1.elsewhere.example.\n  - type: TXT\n    value: hidden\n"
            "www:\n  - type: CNAME\n    value: sendgrid.net\n    octodns: {lenient: true}\n"
            "  - type: TXT\n    value: beside\n    octodns: {lenient: true}\n")
    root = tmp_path / "repo"
    ports = write_repo(root, {f"{zone}yaml": text}, ["one", "two"])
    settings = yaml.safe_load((root / "dnssync.yaml").read_text())
    settings.update({"parent": {"check": False}, "policy": {"parity": "warn"}})
    (root / "dnssync.yaml").write_text(yaml.safe_dump(settings))
    with Fleet.for_config(load_settings(root), tmp_path / "data"):
        applied = run(root, "apply", "--yes")
        assert applied.exit_code == 0, applied.output
        for port in ports.values():
            assert values(ask(port, f"www.{zone}", "CNAME"), "CNAME") == {"sendgrid.net."}
            assert values(ask(port, f"www.{zone}", "TXT"), "TXT") == set()
            assert values(ask(port, f"null.{zone}")) == {"192.0.2.2"}
            assert values(ask(port, zone)) == set()
        verified = run(root, "verify", "--format", "json")
        assert verified.exit_code == 0, verified.output
        noted = {(f["code"], f.get("name")) for f in json.loads(verified.stdout)["findings"]}
        assert ("verify.occluded", "sub") in noted
        assert run(root, "plan", "--detailed-exitcode").exit_code == 0


def test_every_target_field_is_made_absolute(tmp_path):
    from dnssync.repo.targetnames import absolute_targets

    path = tmp_path / "z.yaml"
    path.write_text("a:\n  type: ALIAS\n  value: lb.example.org\n"
                    "d:\n  type: DNAME\n  value: other.example.org.\n"
                    "n:\n  type: NS\n  values: [ns1.example.org, ns2.example.org.]\n"
                    "m:\n  type: MX\n  value: {preference: 0, exchange: .}\n"
                    "s:\n  type: SRV\n  value: {port: 1, priority: 1, target: '.', weight: 1}\n"
                    "t:\n  type: TXT\n  value: no.dot.here\n")
    data, _ = load_file(path)
    made = {name: absolute_targets(item, item.line) for name, item in data.items()}
    assert made["a"][0]["value"] == "lb.example.org." and [r.line for r in made["a"][1]] == [3]
    assert made["n"][0]["values"] == ["ns1.example.org.", "ns2.example.org."]
    assert [(r.written, r.line) for r in made["n"][1]] == [("ns1.example.org", 9)]
    for name in ("d", "m", "s", "t"):  # absolute already, the null target ".", or no target at all
        assert made[name] == (data[name], [])


def test_dynamic_cname_pools_are_made_absolute(tmp_path):
    from dnssync.repo.targetnames import absolute_targets

    path = tmp_path / "z.yaml"
    path.write_text("www:\n  type: CNAME\n  value: fallback.example.org.\n  dynamic:\n    pools:\n"
                    "      one:\n        values:\n          - value: one.example.org\n"
                    "    rules:\n      - pool: one\n")
    data, _ = load_file(path)
    fixed, relative = absolute_targets(data["www"], 1)
    assert fixed["dynamic"]["pools"]["one"]["values"] == [{"value": "one.example.org."}]
    assert [(r.written, r.line) for r in relative] == [("one.example.org", 8)]


def test_octodns_layout_options_shared_file_and_no_zone_files(tmp_path):
    _touch(tmp_path, "example.com.yaml", "shared.yaml", "example.org./www.yaml")
    found = scan(tmp_path, ZoneFiles(shared="shared.yaml", suffixes=(".yaml",)))
    assert {n: sorted(p.name for p in f) for n, f in found.zones.items()} == {
        "example.com.": ["example.com.yaml", "shared.yaml"], "example.org.": ["shared.yaml", "www.yaml"]}
    assert [f.message for f in found.skipped] == [
        "not a zone: shared.yaml: it is the shared_filename every zone includes"]
    assert list(scan(tmp_path, ZoneFiles(zonefile=False)).zones) == ["example.org."]


def test_octodns_dynamic_zones_serve_every_zone_file(tmp_path):
    config = _octodns(tmp_path, "    enforce_order: false\n")
    config.write_text(config.read_text().replace("  example.com.:\n", "  '*':\n"))
    (tmp_path / "zones" / "example.org.yaml").write_text("www:\n  type: A\n  value: 192.0.2.1\n")
    result = CliRunner().invoke(main, ["--octodns-config", str(config), "validate", "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["zones"] == ["example.com.", "example.org."]
