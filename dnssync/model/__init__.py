"""Data every stage shares, with no I/O: findings and their codes, errors, secrets
masking, the meaning of "the same value", plan data. Any layer may import it; it
imports no other part of dnssync."""
