"""A slow, lossy network in front of nameservers, for benchmarks (the kernel here has
no netem): every UDP datagram and TCP chunk is delayed by `--delay` seconds in each
direction, and `--loss` of UDP datagrams are dropped in each direction.

    python bench/relay.py --delay 0.04 --loss 0.01 127.0.1.21:53=127.0.1.2:53 ...

Each LISTEN=TARGET pair relays UDP and TCP. Prints READY once every listener is up
and runs until SIGTERM or SIGINT, then prints what it relayed and dropped. Losses come
from a seeded generator so runs are comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dnssync.model.address import parse_address
from tests.lab.servers import ensure_address

Address = tuple[str, int]


class Stats:
    def __init__(self) -> None:
        self.relayed = 0
        self.dropped = 0


class _Upstream(asyncio.DatagramProtocol):
    """The relay's socket towards the server, one per client address."""

    def __init__(self, relay: UdpRelay, client: Address):
        self.relay = relay
        self.client = client

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.relay.later(data, lambda d: self.relay.send_back(d, self.client))


class UdpRelay(asyncio.DatagramProtocol):
    def __init__(self, target: Address, delay: float, loss: float, rng: random.Random,
                 stats: Stats):
        self.target, self.delay, self.loss, self.rng, self.stats = target, delay, loss, rng, stats
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.DatagramTransport | None = None
        self.upstreams: dict[Address, asyncio.Future[asyncio.DatagramTransport]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def later(self, data: bytes, deliver) -> None:
        """Deliver after the delay, unless this datagram is lost."""
        if self.rng.random() < self.loss:
            self.stats.dropped += 1
            return
        self.stats.relayed += 1
        self.loop.call_later(self.delay, deliver, data)

    def datagram_received(self, data: bytes, client: Address) -> None:
        self.later(data, lambda d: self.loop.create_task(self.forward(d, client)))

    async def forward(self, data: bytes, client: Address) -> None:
        future = self.upstreams.get(client)
        if future is None:
            future = self.upstreams[client] = self.loop.create_future()
            transport, _ = await self.loop.create_datagram_endpoint(
                lambda: _Upstream(self, client), remote_addr=self.target)
            future.set_result(transport)
        (await future).sendto(data)

    def send_back(self, data: bytes, client: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, client)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy a TCP stream, each chunk delayed, order kept."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    task = loop.create_task(deliver())
    try:
        while chunk := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, chunk))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time() + delay, b""))
    with contextlib.suppress(ConnectionError):
        await task


def tcp_handler(target: Address, delay: float):
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pump(client_reader, server_writer, delay),
                             _pump(server_reader, client_writer, delay))
        for writer in (client_writer, server_writer):
            writer.close()

    return handle


async def serve(pairs: list[tuple[Address, Address]], delay: float, loss: float, seed: int
                ) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats()
    rng = random.Random(seed)
    closers = []
    for listen, target in pairs:
        ensure_address(listen[0])
        transport, _ = await loop.create_datagram_endpoint(
            lambda target=target: UdpRelay(target, delay, loss, rng, stats), local_addr=listen)
        server = await asyncio.start_server(tcp_handler(target, delay), *listen)
        closers += [transport.close, server.close]
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    print("READY", flush=True)
    await stop
    for close in closers:
        close()
    print(f"relayed {stats.relayed} dropped {stats.dropped} UDP datagrams", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.04, help="seconds, each direction")
    parser.add_argument("--loss", type=float, default=0.01, help="share of UDP datagrams lost")
    parser.add_argument("--seed", type=int, default=53)
    parser.add_argument("pairs", nargs="+", metavar="LISTEN=TARGET")
    args = parser.parse_args()
    pairs = []
    for pair in args.pairs:
        listen, _, target = pair.partition("=")
        pairs.append((parse_address(listen), parse_address(target)))
    asyncio.run(serve(pairs, args.delay, args.loss, args.seed))


if __name__ == "__main__":
    main()
