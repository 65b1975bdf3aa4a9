"""Sending a plan: the safety gates, the isolated per-provider apply with read-back,
and the on-disk state (snapshots, apply records, the lock)."""
