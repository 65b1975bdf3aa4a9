"""The engine's clock is its own process's: time the event loop could not run (a starved
CPU, a callback that blocks) is not counted against a question in flight, so a verifier
never reports a nameserver silent because it was itself late; yet a nameserver that
really stays silent is still reported, within a bounded time, and the breaker trips."""

from __future__ import annotations

import asyncio
import re
import time

from dnssync.query.answer import Answer, Endpoint, Question
from dnssync.query.channel import BREAKER, LAG_LIMIT, OUTBOX, Channel
from dnssync.query.engine import Engine
from tests.faultyns import FaultyNameserver

ORIGIN = "stall.test."
ZONE = "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 604800 5\n@ NS ns1\n" + "".join(
    f"h{i} A 192.0.{i // 256}.{i % 256}\n" for i in range(400))
TIMEOUT = 0.5


def test_a_stalled_loop_is_not_a_silent_nameserver():
    """The server shares the engine's loop; the loop blocks for 3 timeouts right after
    the questions are sent, and 3 more times, each once the questions in flight at the
    last stall were answered, so the replies cannot come until it runs again: no timeout,
    and no slowing down either (it was no congestion).

    The next stall waits for those replies, not for a fixed time: on a slow machine a
    question could otherwise outlive two stalls, more than a question is excused."""
    questions = [Question.of(f"h{i}.stall.test.", "A", i) for i in range(400)]
    got: list[Answer] = []

    async def go() -> tuple[float, dict]:
        loop = asyncio.get_running_loop()
        stalls = 4

        def stall() -> None:
            nonlocal stalls
            time.sleep(3 * TIMEOUT)
            stalls -= 1
            if stalls:
                loop.call_later(0.01, stall_after, len(got) + 16)  # the window's answers

        def stall_after(answers: int) -> None:
            if len(got) >= answers:
                stall()
            else:
                loop.call_later(0.01, stall_after, answers)

        server = FaultyNameserver(ORIGIN, ZONE)
        await server.serve_here()
        try:
            async with Engine(timeout=TIMEOUT, window=16) as engine:
                loop.call_soon(stall)
                start = time.monotonic()
                await engine.ask_many(Endpoint("127.0.0.1", server.port), questions, got.append)
                return time.monotonic() - start, engine.throttled
        finally:
            await server.stop_here()

    elapsed, throttled = asyncio.run(go())
    assert [(a.question.tag, a.error, a.detail) for a in got if a.error] == []
    assert sorted(a.question.tag for a in got) == list(range(400))
    assert throttled == {}
    assert elapsed < 4 * 3 * TIMEOUT + 2


def test_a_silent_nameserver_is_reported_in_bounded_time_while_the_loop_stalls():
    """The loop stalls again and again (0.2 s of every 0.21 s) while a nameserver drops
    every question: each question still times out within its timeout plus at most
    LAG_LIMIT timeouts of stalls, and the breaker trips (few questions are sent)."""
    questions = [Question.of(f"q{i}.stall.test.", "A", i) for i in range(100)]
    got: list[Answer] = []

    async def go() -> float:
        loop = asyncio.get_running_loop()
        stalls: list[asyncio.TimerHandle] = []

        def stall() -> None:
            time.sleep(0.2)
            stalls.append(loop.call_later(0.01, stall))

        with FaultyNameserver(ORIGIN, ZONE, mode="drop") as server:
            async with Engine(timeout=TIMEOUT, resends=0, window=16) as engine:
                stalls.append(loop.call_soon(stall))
                start = time.monotonic()
                await engine.ask_many(Endpoint("127.0.0.1", server.port), questions, got.append)
                elapsed = time.monotonic() - start
                stalls[-1].cancel()
            assert 16 <= server.queries <= 16 + BREAKER
        return elapsed

    elapsed = asyncio.run(go())
    assert {a.error for a in got} == {"timeout"}
    assert sorted(a.question.tag for a in got) == list(range(100))
    bound = TIMEOUT * (1 + LAG_LIMIT) + 0.5  # the first window's timeouts, then the probe's
    assert max(a.elapsed for a in got) < bound
    assert elapsed < 2 * bound


def test_a_stall_longer_than_the_lag_limit_is_not_silence():
    """The whole process stalls once for 6 timeouts, more than a question's timers are
    moved on (LAG_LIMIT), with questions in flight: the engine's loop blocks, and the
    nameserver, a thread of the same process as the embedded ones are, blocks a little
    longer (it has its backlog to catch up on). It answered before the stall, so its
    silence is the process's stall, not its own: the questions are asked again and none
    is reported timed out."""
    questions = [Question.of(f"h{i}.stall.test.", "A", i) for i in range(400)]
    got: list[Answer] = []

    with FaultyNameserver(ORIGIN, ZONE) as server:
        def collect(answer: Answer) -> None:
            got.append(answer)
            if len(got) == 100:  # both stall once the next questions are sent
                server._loop.call_soon_threadsafe(time.sleep, 6 * TIMEOUT + 0.3)
                asyncio.get_running_loop().call_soon(time.sleep, 6 * TIMEOUT)

        async def go() -> None:
            async with Engine(timeout=TIMEOUT, window=16) as engine:
                await engine.ask_many(Endpoint("127.0.0.1", server.port), questions, collect)

        asyncio.run(go())
    assert LAG_LIMIT < 6  # the stall outlasts what a question is excused
    assert [(a.question.tag, a.error, a.detail) for a in got if a.error] == []
    assert sorted(a.question.tag for a in got) == list(range(400))


def test_a_round_trip_the_stall_stretched_is_not_timed():
    """The nameserver runs in a thread of its own and answers while the engine's loop
    stalls for 3 timeouts: the replies wait in the socket, and the reader may run before
    the late tick. Timed, they would set the round trip to the stall's length (so a lost
    datagram is not re-sent, and the one question the server never answers, asked near
    the end, looks like congestion and slows the endpoint down); and the questions their
    replies make room for would be excused a stall they never saw. The stall is counted
    first: only that question times out, in its own rounds, and nothing is throttled."""
    questions = [Question.of(f"h{i}.stall.test.", "A", i) for i in range(16)]
    questions += [Question.of("drop.stall.test.", "A", 16)]
    questions += [Question.of(f"h{i}.stall.test.", "A", i) for i in range(17, 27)]
    got: list[Answer] = []

    async def go() -> dict:
        loop = asyncio.get_running_loop()
        with FaultyNameserver(ORIGIN, ZONE) as server:
            async with Engine(timeout=TIMEOUT, window=16) as engine:
                loop.call_soon(time.sleep, 3 * TIMEOUT)
                await engine.ask_many(Endpoint("127.0.0.1", server.port), questions, got.append)
                return engine.throttled

    throttled = asyncio.run(go())
    assert [(a.question.tag, a.error) for a in got if a.error] == [(16, "timeout")]
    dropped = next(a for a in got if a.error)
    excused = re.search(r"not counting ([\d.]+) s this process could not run", dropped.detail)
    assert excused is None or float(excused.group(1)) < 2 * TIMEOUT, dropped.detail  # (its own stalls only)
    assert dropped.attempts > 2, dropped.detail  # re-sent within each round: no stretched round trip
    assert throttled == {}


def test_questions_go_out_after_a_burst_of_replies_not_one_per_reply(monkeypatch):
    """While a burst of replies is read, the questions they free are held and sent
    together (channel.OUTBOX): a send per reply woke the nameserver for each, and where
    it shares the CPU each wake-up took the CPU from the reader. The reader sleeps at
    the first reply while the server (a thread of its own) answers the whole window, so
    a burst of replies waits in the socket."""
    log: list[str] = []
    held: list[int] = []  # questions held after each reply was read
    received, put = Channel.datagram_received, Channel._put

    def logged_receive(self: Channel, data: bytes) -> None:
        if "r" not in log:
            time.sleep(0.3)
        log.append("r")
        received(self, data)
        held.append(len(self.outbox or ()))

    def logged_put(self: Channel, data: bytes) -> bool:
        log.append("s")
        return put(self, data)

    monkeypatch.setattr(Channel, "datagram_received", logged_receive)
    monkeypatch.setattr(Channel, "_put", logged_put)
    questions = [Question.of(f"h{i}.stall.test.", "A", i) for i in range(400)]
    got: list[Answer] = []

    async def go() -> None:
        with FaultyNameserver(ORIGIN, ZONE) as server:
            async with Engine(timeout=5, window=64) as engine:
                await engine.ask_many(Endpoint("127.0.0.1", server.port), questions, got.append)

    asyncio.run(go())
    assert len(got) == 400 and all(a.error is None for a in got)
    assert log.count("s") == 400 and log.count("r") == 400  # nothing lost, nothing re-sent
    sends = [len(run) for run in re.findall("s+", "".join(log)[log.index("r"):])]
    assert max(sends) >= OUTBOX, sends  # held while the burst was read, then sent together
    assert max(held) <= OUTBOX, held  # and never more than OUTBOX held
