"""One module per CLI command; cli.py assembles them into the `dnssync` group."""
