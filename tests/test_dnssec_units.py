"""DNSSEC without servers: `policy.dnssec` as read from dnssync.yaml."""

from __future__ import annotations

from dnssync.repo.config import read_config


def test_policy_dnssec_default_per_zone_and_margin(tmp_path):
    (tmp_path / "zones").mkdir()
    (tmp_path / "providers").mkdir()
    (tmp_path / "dnssync.yaml").write_text(
        "policy:\n  dnssec:\n    default: unsigned\n    zones: {example.com: multi-signer}\n"
        "    expiry_margin: 12h\n")
    config, findings = read_config(tmp_path)
    assert not [f for f in findings if f.line is not None], findings  # only "no provider files"
    assert config.policy.dnssec_for("example.com.") == "multi-signer"
    assert config.policy.dnssec_for("example.org.") == "unsigned"
    assert config.policy.dnssec_expiry_margin == 12 * 3600
    (tmp_path / "dnssync.yaml").write_text("policy:\n  dnssec: multi-signer\n")
    config, _ = read_config(tmp_path)
    assert config.policy.dnssec_for("example.org.") == "multi-signer"
    assert config.policy.dnssec_expiry_margin == 3 * 86400  # the default: three days


def test_policy_dnssec_default_is_unsigned(tmp_path):
    (tmp_path / "zones").mkdir()
    (tmp_path / "providers").mkdir()
    (tmp_path / "dnssync.yaml").write_text("zones: zones\n")
    config, _ = read_config(tmp_path)
    assert config.policy.dnssec_for("example.com.") == "unsigned"
