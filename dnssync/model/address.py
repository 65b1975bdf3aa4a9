"""Where to ask a nameserver: `host[:port]` as users write it (IPv6 in brackets when a
port follows), and a provider's nameserver as configured. One parser for every place
that reads an address (config, the query engine, the embedded server, RFC 2136)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Nameserver:
    """One authoritative nameserver of a provider: its NS-record name and where to ask it."""

    name: str
    host: str | None = None
    port: int = 53

    @property
    def label(self) -> str:
        where = self.host or "resolve"
        if self.port != 53:
            where = format_address(where, self.port)
        return f"{self.name.rstrip('.')} ({where})"


def format_address(host: str, port: int) -> str:
    """`host:port` as `parse_address` reads it back: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str) -> tuple[str, int]:
    """`192.0.2.1`, `192.0.2.1:5300`, `[2001:db8::1]:5300`, `2001:db8::1`, `ns.example:53`."""
    text = str(text).strip()
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", text)
    if match:
        host, port = match.group(1), match.group(2)
        ipaddress.IPv6Address(host)
    else:
        try:
            ipaddress.IPv6Address(text)
            return text, 53
        except ValueError:
            pass
        host, _, port = text.partition(":")
        if not host:
            raise ValueError("empty address")
    number = int(port) if port else 53
    if not 0 < number < 65536:
        raise ValueError(f"port {number} out of range")
    return host, number
