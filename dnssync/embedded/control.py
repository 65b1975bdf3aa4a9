"""The control channel of a running embedded server: one JSON line in, one out.

`dnssync serve` runs the servers in one process and `dnssync fault` breaks
them from another, so faults must be settable from outside. A Unix socket in
the server's data directory is that channel: only the local user can reach it,
it needs no port, and it lives exactly as long as the server.

Requests: {"op": "get"}, {"op": "set", "faults": {...}} (changes only the keys
given), {"op": "clear"}. Answers: {"ok": true, "faults": {...}, "describe": str,
"zones": {zone: serial}} or {"ok": false, "error": str}.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any, Protocol

from dnssync.embedded.faults import FaultError, Faults
from dnssync.model.errors import DnssyncError

#: a Unix socket path longer than this does not fit in sockaddr_un on Linux
MAX_PATH = 107


class ControlError(DnssyncError):
    """The server could not be reached, or refused the request."""


class Controlled(Protocol):
    """What the control channel asks of a server (embedded.server.EmbeddedServer): its
    faults, to switch them on its loop, and its zones' serials. Nothing else of it."""

    faults: Faults

    async def apply_faults(self, faults: Faults) -> Faults: ...

    def serials(self) -> dict[str, int]: ...


async def serve_control(server: Controlled, path: Path) -> asyncio.AbstractServer:
    if len(str(path)) > MAX_PATH:
        raise ControlError(f"control socket path too long for a Unix socket: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            reply = await _handle(server, line)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_unix_server(client, str(path))


async def _handle(server: Controlled, line: bytes) -> dict[str, Any]:
    try:
        request = json.loads(line)
        op = request.get("op")
        if op == "set":
            await server.apply_faults(server.faults.changed(**dict(request.get("faults") or {})))
        elif op == "clear":
            await server.apply_faults(Faults())
        elif op != "get":
            raise FaultError(f"unknown op {op!r} (get, set, clear)")
    except (ValueError, TypeError, AttributeError, DnssyncError) as e:
        # bad JSON, a bad fault, or one the server cannot take (--up where another
        # process took its address meanwhile): the client is told, the server goes on
        return {"ok": False, "error": str(e)}
    return {"ok": True, "faults": server.faults.to_dict(), "describe": server.faults.describe(),
            "zones": server.serials()}


def request(path: Path, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to the server listening at `path`; raises ControlError."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps(payload).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError(f"no embedded server is listening at {path} (is `dnssync serve`"
                           " running?)") from None
    except OSError as e:
        raise ControlError(f"control socket {path}: {e.strerror or e}") from None
    try:
        reply = json.loads(data)
    except ValueError:
        raise ControlError(f"control socket {path} answered {data[:80]!r}") from None
    if not reply.get("ok"):
        raise ControlError(reply.get("error", "request refused"))
    return reply
