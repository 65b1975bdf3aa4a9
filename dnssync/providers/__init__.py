"""Provider plugins: dnssync's subclasses of octoDNS providers (each fixing a named
upstream bug) and what a provider can hold (capabilities, acceptance rules, hints).
Building providers from a repository's files is `dnssync.repo.plugins`."""
