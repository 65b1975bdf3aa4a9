"""A user's repository loaded: dnssync.yaml and providers/ (`config`, or an octoDNS
config), the zone files, the offline checks, and the desired zones every provider
must serve (`desired`). `repository.Repository` is where every command starts."""
