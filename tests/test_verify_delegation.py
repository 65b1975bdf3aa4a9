"""Delegation checks without a server (the lab tests are in test_delegation_lab.py)."""

from __future__ import annotations

from dnssync.verify.delegation import managed_parent


def test_managed_parent_is_the_closest_enclosing_zone_of_the_repository():

    names = {"example.test.", "sub.example.test.", "other.test."}
    assert managed_parent("deep.sub.example.test.", names) == "sub.example.test."
    assert managed_parent("sub.example.test.", names) == "example.test."
    assert managed_parent("example.test.", names) is None  # test. itself is not managed
