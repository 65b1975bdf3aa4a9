"""The provider breaker (providers/breaker.py): what opens it, what it says, when it
lets a probe through, and that a request started while it is suspect waits for the
one in flight. The provider that is silent for real is in tests/test_breaker_lab.py."""

from __future__ import annotations

import socket
import threading

import dns.exception
import pytest
import requests

from dnssync.model import interrupt
from dnssync.providers import breaker as breaker_module
from dnssync.providers.breaker import COOL, Breaker, NotAsked, asking, breaker_of
from dnssync.providers.hints import describe_error, unreachable
from dnssync.query import axfr


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Provider:
    """A provider object as the breaker sees one: something to hang its state on."""

    id = "knot"


def http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.url = "http://127.0.0.1:8081/api/v1/servers/localhost/zones/a.test."
    return requests.HTTPError(f"{status} Client Error", response=response)


def fail(provider: object, error: Exception, what: str = "a.test.") -> None:
    with pytest.raises(type(error)), asking(provider, what):
        raise error


def test_only_silence_counts_as_no_answer():
    assert unreachable(ConnectionRefusedError(111, "Connection refused"))
    assert unreachable(dns.exception.Timeout())
    assert unreachable(axfr.Silent(timeout=1.0))
    assert unreachable(requests.ConnectTimeout("HTTPConnectionPool(host='127.0.0.2', port=8081): timed out"))
    assert not unreachable(http_error(404))
    assert not unreachable(http_error(503))  # an answer, however bad
    assert not unreachable(axfr.TransferRefused("transfer refused (REFUSED)"))


def test_two_misses_in_a_row_open_it_and_the_next_request_is_not_sent():
    provider = Provider()
    fail(provider, dns.exception.Timeout(), "a.test.")
    with asking(provider, "b.test."):
        pass  # one miss is not enough: asked
    fail(provider, dns.exception.Timeout(), "c.test.")
    fail(provider, ConnectionRefusedError(111, "Connection refused"), "d.test.")
    sent = []
    with pytest.raises(NotAsked) as raised, asking(provider, "e.test."):
        sent.append("e.test.")
    assert sent == []
    message = str(raised.value)
    assert "connection refused" in message and "not asked for e.test." in message
    assert "its last 2 requests got no answer" in message
    assert raised.value.transient
    assert describe_error(raised.value, provider) == message  # kept as worded, not re-explained


def test_an_error_the_provider_answers_with_resets_the_count():
    provider = Provider()
    for _ in range(3):
        fail(provider, dns.exception.Timeout())
        fail(provider, http_error(404))  # the provider answered: it is there
    with asking(provider, "z.test."):
        pass


def test_one_probe_after_the_cool_down_and_an_answer_closes_it():
    clock = Clock()
    state = Breaker(clock)
    for _ in range(2):
        state.admit("a.test.")
        state.missed("provider knot: no answer")
    clock.now += COOL - 0.1
    with pytest.raises(NotAsked):
        state.admit("b.test.")
    clock.now += 0.2
    state.admit("c.test.")  # the probe
    with pytest.raises(NotAsked):
        state.admit("d.test.")  # while the probe is out
    state.missed("provider knot: no answer")  # the probe missed: open again, for COOL from now
    clock.now += COOL / 2
    with pytest.raises(NotAsked):
        state.admit("e.test.")
    clock.now += COOL
    state.admit("f.test.")
    state.answered()
    for zone in ("g.test.", "h.test."):  # closed: every request goes, at once
        state.admit(zone)
    state.answered()
    state.answered()


def test_a_probe_waits_twice_as_long_as_the_last_miss_took():
    """A miss that waited out a 5 s timeout is probed 10 s later; a refused connection
    (milliseconds) after COOL: a probe never holds more than a third of the time."""
    clock = Clock()
    state = Breaker(clock)
    for _ in range(2):
        state.admit("a.test.")
        state.missed("no answer (timed out)", seconds=5.0)
    clock.now += 9.9
    with pytest.raises(NotAsked) as raised:
        state.admit("b.test.")
    assert "it is tried again 10 s after the last" in str(raised.value)
    clock.now += 0.2
    state.admit("c.test.")  # the probe
    state.missed("connection refused", seconds=0.002)
    clock.now += COOL
    state.admit("d.test.")  # the next probe, COOL after a fast miss


def _opened(state: Breaker, seconds: float = 0.0) -> None:
    for _ in range(2):
        state.admit("a.test.")
        state.missed("provider knot: connection refused", seconds)


def test_a_patient_request_waits_for_the_probe_and_is_it(monkeypatch):
    """apply's sending: a provider that refused a moment ago (a restart) gets the next
    zone's update as its probe, instead of the rest of the apply failing at once."""
    monkeypatch.setattr(breaker_module, "COOL", 0.2)
    state = Breaker()
    _opened(state)
    with pytest.raises(NotAsked):
        state.admit("b.test.")  # a read is not patient
    state.admit("c.test.", patient=True)  # waited for the probe's time: it is the probe
    with pytest.raises(NotAsked):
        state.admit("d.test.", patient=False)
    outcome: list[str] = []
    waiter = threading.Thread(target=lambda: outcome.append(_admitted(state, "e.test.", patient=True)))
    waiter.start()
    waiter.join(0.1)
    assert waiter.is_alive()  # waits for the probe's outcome
    state.answered()  # the provider is back
    waiter.join(5)
    assert outcome == ["asked"]


def test_patience_runs_out_and_then_nothing_is_sent(monkeypatch):
    monkeypatch.setattr(breaker_module, "PATIENCE", 0.3)
    state = Breaker()
    _opened(state, seconds=5.0)  # a silent provider: the next probe is 10 s away
    with pytest.raises(NotAsked):
        state.admit("b.test.", patient=True)  # after waiting 0.3 s, not 10


def test_ctrl_c_ends_a_patient_wait(monkeypatch):
    state = Breaker()
    _opened(state, seconds=5.0)
    threading.Timer(0.2, interrupt.STOP.set).start()
    try:
        with pytest.raises(interrupt.Interrupted):
            state.admit("b.test.", patient=True)
    finally:
        interrupt.STOP.clear()


def test_while_suspect_a_new_request_waits_for_the_one_in_flight():
    state = Breaker()
    state.admit("a.test.")
    state.missed("no answer")  # suspect now
    state.admit("b.test.")  # in flight
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(_admitted(state, "c.test.")))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and outcome == []  # waits: b.test.'s outcome decides
    state.missed("no answer")  # the second miss in a row opens it
    waiter.join(5)
    assert outcome == ["not asked"]


def test_an_answer_lets_the_waiting_request_go():
    state = Breaker()
    state.admit("a.test.")
    state.missed("no answer")
    state.admit("b.test.")
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(_admitted(state, "c.test.")))
    waiter.start()
    waiter.join(0.2)
    assert outcome == []
    state.answered()
    waiter.join(5)
    assert outcome == ["asked"]


def _admitted(state: Breaker, what: str, patient: bool = False) -> str:
    try:
        state.admit(what, patient)
    except NotAsked:
        return "not asked"
    return "asked"


def test_a_forked_worker_starts_with_its_parents_state_and_a_lock_of_its_own(monkeypatch):
    """What the parent found (`nameservers: auto` reads every zone before plan forks)
    holds in the worker: a silent provider is not asked there again before its probe;
    the parent's lock, held by another of its threads at the fork, is not the worker's."""
    silent, healthy = Provider(), Provider()
    fail(silent, dns.exception.Timeout(), "a.test.")
    fail(silent, dns.exception.Timeout(), "b.test.")
    with asking(healthy, "a.test."):
        pass
    parent = breaker_of(silent)
    assert breaker_of(silent) is parent
    outcome: list[str] = []

    def in_the_child() -> None:
        with pytest.raises(NotAsked) as raised, asking(silent, "c.test."):
            outcome.append("asked")
        outcome.append(str(raised.value))
        with asking(healthy, "c.test."):
            outcome.append("asked healthy")

    monkeypatch.setattr(breaker_module.os, "getpid", lambda: -1)  # as in a forked child
    with parent._state:  # held by a thread of the parent's when it forked
        child = threading.Thread(target=in_the_child)
        child.start()
        child.join(timeout=5)
        assert not child.is_alive(), "the worker waited for the parent's lock"
    assert outcome[0].endswith("(not asked for c.test.: its last 2 requests got no answer; it is tried"
                               f" again {COOL:.3g} s after the last)") and "timed out" in outcome[0]
    assert outcome[1:] == ["asked healthy"]
    assert breaker_of(silent) is not parent and breaker_of(silent) is breaker_of(silent)


def test_a_transfer_from_a_server_that_says_nothing_gives_up_after_answer_within():
    with socket.socket() as quiet:  # listens, never accepts, never answers: connect succeeds
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(8)
        port = quiet.getsockname()[1]
        with pytest.raises(axfr.Silent) as raised:
            list(axfr.transfer("127.0.0.1", "a.test.", port, timeout=30, answer_within=0.3))
    assert axfr.failure_text(raised.value, 30) == "no answer within 0.3 s"
    assert axfr.failure_transient(raised.value)
