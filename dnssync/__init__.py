"""dnssync: keep one DNS zone identical on several providers, and prove it over DNS."""

__version__ = "0.1.0"
