"""`python -m dnssync` runs the same CLI as the `dnssync` console script."""

from dnssync.cli import run

run()
