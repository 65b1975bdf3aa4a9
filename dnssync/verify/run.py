"""One verify run: every zone, every provider that serves it, every address of
every nameserver, all at once, and the findings.

Each nameserver is asked in parallel with the others (the engine bounds the
queries in flight per nameserver), and a failing one never stops the rest: its
failure is its finding. Answers are judged as they arrive and only what went
wrong is kept, so memory does not grow with the zone. Findings name a zone as
the repository keys it (`Repository.desired`: the IDNA form of an IDN zone).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rdatatype
from octodns.provider.base import BaseProvider
from octodns.zone import Zone

from dnssync.model.findings import Finding, Severity
from dnssync.query import axfr, tcpbatch
from dnssync.query.answer import FAILURES, Answer, Endpoint, Question
from dnssync.query.engine import Engine, resolve_all
from dnssync.repo.desired import nameserver_union
from dnssync.repo.repository import Repository
from dnssync.verify import aliases, compare, extra, zonechecks
from dnssync.verify.compare import Observed
from dnssync.verify.expect import ZoneExpectation, expectations

Progress = Callable[[int], None]
#: zones with at most this many expected RRsets are transferred on the event loop; a
#: larger one gets a thread that keeps reading however busy the loop is (query/axfr.py)
LOOP_TRANSFER_MAX = 1000
#: zone transfers at once from one nameserver address: a fleet's zones all become ready
#: to transfer within moments, and servers cap TCP connections (PowerDNS: 20 by default)
TRANSFERS_PER_ENDPOINT = 4


@dataclass
class Options:
    timeout: float = 3.0
    resends: int | None = None  # UDP re-sends per question; None: re-send until the timeout
    window: int = 64
    axfr: bool = False  # compare by zone transfer where the nameserver allows it
    extra: bool = True  # look for records git does not have


@dataclass
class ZoneEndpoint:
    """One address of one nameserver of one provider, for one zone."""

    zone: ZoneExpectation
    endpoint: Endpoint
    label: str = field(init=False)  # the endpoint's, made once: every answer is filed under it
    view: zonechecks.ApexView = field(init=False)  # what it answers at the zone's apex

    def __post_init__(self) -> None:
        self.label = self.endpoint.label
        self.view = zonechecks.ApexView(self.zone.provider, self.label)


@dataclass(frozen=True)
class Throttled:
    """A nameserver address the engine slowed down to (Engine.throttled), kept as data
    until every part of a run is in: the parts of a run spread over processes
    (verify/full.py) each slowed down to it, and the user is told once, in sum."""

    provider: str | None
    label: str
    smallest: int  # the smallest window used
    asked_again: int  # questions asked again after running out of time

    def merged(self, other: Throttled) -> Throttled:
        return Throttled(self.provider, self.label, min(self.smallest, other.smallest),
                         self.asked_again + other.asked_again)


@dataclass
class VerifyResult:
    findings: list[Finding]
    #: (zone, provider, nameserver) for everything that was asked, for reporters
    checked: list[tuple[str, str, str]]
    stats: dict[str, Any] = field(default_factory=dict)
    #: nameserver addresses slowed down to, made findings by `throttled_findings` at the end
    throttled: dict[Endpoint, Throttled] = field(default_factory=dict)


class _ZoneRun:
    """The state of one zone while its answers arrive."""

    def __init__(self, zone: Zone, plans: list[ZoneExpectation], repo: Repository):
        self.zone = zone
        self.plans = {p.provider: p for p in plans}
        self.verdicts = compare.Verdicts(zone.name, sorted(self.plans))
        self.views: list[zonechecks.ApexView] = []
        # nameserver -> detail of its last failure; of one really asked, when there is one
        # (not the breaker's "not asked", which says less than the timeouts that tripped it)
        self.details: dict[str, str] = {}
        self.listed: dict[str, list[extra.Listing]] = {}  # provider -> successful listings
        self.unlisted: dict[str, list[str]] = {}  # provider -> why listing failed
        self.union = nameserver_union(repo.config, zone.name)
        parity = repo.config.policy.parity_for(zone.name, "SOA")
        self.negative_severity = Severity.ERROR if parity == "error" else Severity.WARNING

    def failed(self, label: str, answer: Answer) -> None:
        """Keep a failed answer's detail for the nameserver's "answered none" finding."""
        if answer.attempts or label not in self.details:
            self.details[label] = answer.detail

    def take(self, target: ZoneEndpoint, answer: Answer) -> None:
        if answer.error:
            self.failed(target.label, answer)
        self.verdicts.add(target.zone.provider, target.label, compare.judge(answer.question.tag,
                                                                            answer))

    def take_transfer(self, target: ZoneEndpoint, served: extra.Listing) -> None:
        exp_plan = target.zone
        issues = []
        for exp in exp_plan.items:
            if exp.kind == "probe":
                continue  # a transfer holds the wildcard itself, not what it synthesises
            issues += compare.compare_rrset(exp, served.rrsets.get((exp.owner, exp.rdtype)),
                                            "verify.glue" if exp.kind == "glue" else "verify.values")
        self.verdicts.add(exp_plan.provider, target.label, issues,
                          asked=sum(e.kind != "probe" for e in exp_plan.items))

    def serves(self, provider: str, name: str, rtype: str) -> bool:
        """Whether the provider holds the record at all (one it serves adjusted, e.g. with
        a clamped TTL, still agrees or differs with git)."""
        return (name, rtype) not in self.plans[provider].unsupported

    def findings(self) -> list[Finding]:
        findings = [f for plan in self.plans.values() for f in plan.findings]
        findings += self.verdicts.findings(self.serves, self.details)
        down = self.verdicts.down()
        findings += zonechecks.zone_findings(
            self.zone.name, [v for v in self.views if v.nameserver not in down],
            self.union, {p: plan.apex_ns for p, plan in self.plans.items()},
            self.negative_severity)
        findings += self._extra_findings()
        return findings

    def _extra_findings(self) -> list[Finding]:
        origin = dns.name.from_text(self.zone.name).to_wire().lower()
        served_by: dict[tuple[str, int], dict[str, list[tuple[extra.Listing, Observed]]]] = {}
        for provider, listings in self.listed.items():
            known = self.plans[provider].known
            for served in listings:
                for owner, rdtype, observed in extra.extras(served, known, origin):
                    served_by.setdefault((owner, rdtype), {}).setdefault(provider, []).append(
                        (served, observed))
        findings = []
        zone = self.zone.name
        for (owner, rdtype), by_provider in sorted(served_by.items()):
            differ = sorted(by_provider)
            agree = sorted(set(self.listed) - set(differ))
            rtype = dns.rdatatype.to_text(rdtype)
            name = dns.name.from_text(owner).relativize(dns.name.from_text(self.zone.name))
            relative = "" if name == dns.name.empty else name.to_text()
            for provider in differ:
                for served, observed in by_provider[provider]:
                    findings.append(Finding(
                        Severity.ERROR, "verify.extra",
                        f"{owner} {rtype} is served ({served.source}) but git does not have it"
                        f" (agree with git: {', '.join(agree) or 'none'}; differ:"
                        f" {', '.join(differ)})",
                        zone=zone, name=relative, type=rtype, provider=provider,
                        nameserver=served.nameserver, observed=observed.values(),
                        extra={"agree": agree, "differ": differ, "source": served.source}))
        for provider, reasons in sorted(self.unlisted.items()):
            if provider not in self.listed:
                findings.append(Finding(
                    Severity.WARNING, "verify.extra-unchecked",
                    f"could not list what {provider} serves for {zone}, so records git does not"
                    f" have were not looked for: {'; '.join(reasons)}",
                    zone=zone, provider=provider))
        return findings


async def _endpoints(repo: Repository, names: set[str]
                     ) -> tuple[dict[str, list[Endpoint]], list[Finding]]:
    """Every address of every nameserver of the providers; one that has none is a finding."""
    endpoints: dict[str, list[Endpoint]] = {name: [] for name in sorted(names)}
    findings = []
    for row in await resolve_all({p: repo.config.providers[p].nameservers for p in endpoints}):
        endpoints[row.provider] += row.endpoints
        if row.problem:
            findings.append(Finding(Severity.ERROR, "verify.unresolvable",
                                    f"{row.nameserver.label}: {row.problem}", provider=row.provider,
                                    nameserver=row.nameserver.name))
    return endpoints, findings


class Verifier:
    """Runs the checks of every target and gathers the findings."""

    def __init__(self, repo: Repository, options: Options, progress: Progress | None):
        self.repo = repo
        self.options = options
        self.progress = progress or (lambda n: None)
        self.providers: dict[str, BaseProvider] = {}
        self.transfers: dict[str, float] = {}  # "zone nameserver" -> seconds of its AXFR
        self.transfer_slots: dict[Endpoint, asyncio.Semaphore] = {}
        self.connections = axfr.Connections()  # TCP connections kept between transfers
        self.tcp_gates: dict[Endpoint, asyncio.Event] = {}  # set: ask that address over TCP now

    async def run(self, zones: dict[str, list[str]]) -> VerifyResult:
        start, started = time.perf_counter(), time.time()
        built = self.repo.providers()
        used = {p for names in zones.values() for p in names}
        self.providers = {p: built[p] for p in used}
        endpoints, findings = await _endpoints(self.repo, used)
        runs = []
        targets = []
        for name, providers in sorted(zones.items()):
            zone = self.repo.desired[name]
            run = _ZoneRun(zone, expectations(zone, {p: self.providers[p] for p in providers}),
                           self.repo)
            runs.append(run)
            targets += [(run, ZoneEndpoint(plan, e)) for plan in run.plans.values()
                        for e in endpoints[plan.provider]]
        prepared, cpu, clock = time.perf_counter(), time.process_time(), time.time()
        options = self.options
        async with Engine(options.timeout, options.resends, options.window) as engine:
            tcp_checks = [asyncio.ensure_future(check) for check in self._tcp_checks(engine, targets)]
            try:
                await asyncio.gather(*(self._check(engine, run, target) for run, target in targets))
            finally:
                await self.connections.close()
            for gate in self.tcp_gates.values():
                gate.set()
            await asyncio.gather(*tcp_checks)
            await asyncio.gather(*(self._list_by_api(run) for run in runs))
            findings += await aliases.check(engine, self.repo, zones, endpoints)
            stats = dict(engine.stats)
            throttled = engine.throttled
        asked, cpu = time.perf_counter(), time.process_time() - cpu
        for run in runs:
            findings += run.findings()
        names = {t.endpoint: (t.zone.provider, t.label) for _, t in targets}
        slowed = {endpoint: Throttled(*names.get(endpoint, (None, f"{endpoint.address}:{endpoint.port}")),
                                      smallest, again)
                  for endpoint, (smallest, again) in throttled.items()}
        stats.update(transfer_seconds=self.transfers, prepare_seconds=round(prepared - start, 3),
                     query_seconds=round(asked - prepared, 3), query_cpu_seconds=round(cpu, 3),
                     seconds=round(time.perf_counter() - start, 3),
                     # when each phase ran (epoch seconds): workers' phases overlap (verify/full.py merge)
                     spans={"prepare_seconds": (started, clock),
                            "query_seconds": (clock, clock + asked - prepared)})
        if stats["query_seconds"]:
            stats["queries_per_second"] = round(stats["queries"] / stats["query_seconds"])
        checked = sorted({(run.zone.name, t.zone.provider, t.label) for run, t in targets})
        return VerifyResult(findings, checked, stats, slowed)

    def _tcp_checks(self, engine: Engine, targets: list[tuple[_ZoneRun, ZoneEndpoint]]
                    ) -> list[Coroutine[Any, Any, None]]:
        """Every zone's SOA over TCP, one connection per nameserver address for all its
        zones (tcpbatch), not one per zone. Each waits for its address's gate: opened when
        all the UDP rounds are done, as starting thousands of zones' checks holds the event
        loop for seconds and a TCP reply waiting behind that was taken for a timeout at
        2,000 zones; or as soon as the address let a zone's SOA over UDP time out, so that
        a silent nameserver's TCP timeout runs beside its breaker's two, not after them."""
        by_endpoint: dict[Endpoint, dict[Question, tuple[_ZoneRun, ZoneEndpoint]]] = {}
        for run, target in targets:
            by_endpoint.setdefault(target.endpoint, {})[zonechecks.tcp_question(run.zone.name)] = (
                run, target)
        self.tcp_gates = {endpoint: asyncio.Event() for endpoint in by_endpoint}

        async def batch(endpoint: Endpoint, asked: dict[Question, tuple[_ZoneRun, ZoneEndpoint]]) -> None:
            await self.tcp_gates[endpoint].wait()
            await tcpbatch.ask_tcp(endpoint, list(asked), lambda answer: self._file_apex(
                *asked[answer.question], answer), self.options.timeout, engine.payload, engine.stats)

        return [batch(endpoint, asked) for endpoint, asked in by_endpoint.items()]

    def _file_apex(self, run: _ZoneRun, target: ZoneEndpoint, answer: Answer) -> None:
        """File one answer at the zone's apex (SOA over UDP or TCP, NS)."""
        target.view.take(answer)
        if answer.error:
            run.failed(target.label, answer)
            run.verdicts.count_failure(target.zone.provider, target.label,
                                       FAILURES[answer.error].code)
        else:
            run.verdicts.count(target.zone.provider, target.label)
        self.progress(1)

    async def _check(self, engine: Engine, run: _ZoneRun, target: ZoneEndpoint) -> None:
        """Everything asked of one nameserver address for one zone over UDP (its SOA
        over TCP is asked with the other zones', `_tcp_checks`)."""
        run.views.append(target.view)
        soa: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        async def apex(question: Question) -> None:
            answer = await engine.ask(target.endpoint, question.name, question.rdtype,
                                      tag=question.tag)
            self._file_apex(run, target, answer)
            if question.rdtype == zonechecks.SOA:
                soa.set_result(answer)
                if answer.error == "timeout":
                    self.tcp_gates[target.endpoint].set()

        jobs = [apex(q) for q in zonechecks.udp_questions(run.zone.name)]
        if self.options.axfr:
            jobs.append(self._compare_transfer(engine, run, target, soa))
        else:
            jobs.append(self._ask_records(engine, run, target))
            if self.options.extra:
                jobs.append(self._transfer(run, target, soa))
        await asyncio.gather(*jobs)

    async def _transfer(self, run: _ZoneRun, target: ZoneEndpoint, soa: asyncio.Future[Answer]
                        ) -> extra.Listing:
        """AXFR from one nameserver address, filed for the extra-records check. Started
        only once the address has answered the zone's SOA: a transfer from a silent
        address would hold a thread for its whole timeout, and the transfers of the
        healthy ones would queue behind it."""
        answered = await soa
        if answered.error:
            served = extra.Listing(f"AXFR from {target.label}", {},
                                  f"not attempted: the SOA query got no usable answer"
                                  f" ({answered.error})", nameserver=target.label)
        else:
            # comparing needs every RRset; looking for extras only the ones git lacks
            skip = None if self.options.axfr else target.zone.known
            slots = self.transfer_slots.setdefault(target.endpoint,
                                                   asyncio.Semaphore(TRANSFERS_PER_ENDPOINT))
            async with slots:
                served = await extra.transfer(target.endpoint, run.zone.name,
                                              extra.tsig_of(self.providers[target.zone.provider]),
                                              self.options.timeout, skip,
                                              small=len(target.zone.items) <= LOOP_TRANSFER_MAX,
                                              connections=self.connections)
        if served.error:
            run.unlisted.setdefault(target.zone.provider, []).append(
                f"{served.source}: {served.error}")
        else:
            self.transfers[f"{run.zone.name} {target.label}"] = round(served.elapsed, 3)
            if self.options.extra:
                run.listed.setdefault(target.zone.provider, []).append(served)
        return served

    async def _compare_transfer(self, engine: Engine, run: _ZoneRun, target: ZoneEndpoint,
                                soa: asyncio.Future[Answer]) -> None:
        """--axfr: the whole zone in one stream; per-record queries where it is refused."""
        served = await self._transfer(run, target, soa)
        if served.error:
            await self._ask_records(engine, run, target)
        else:
            run.take_transfer(target, served)
            self.progress(len(target.zone.asked))

    async def _ask_records(self, engine: Engine, run: _ZoneRun, target: ZoneEndpoint) -> None:
        """Every expected RRset, asked and judged as the answers stream in. A nameserver
        that does not answer trips the engine's breaker: one timeout, not thousands."""

        def on_answer(answer: Answer) -> None:
            run.take(target, answer)
            self.progress(1)

        questions = (Question(None, e.rdtype, e, e.owner, e.reply) for e in target.zone.asked)
        await engine.ask_many(target.endpoint, questions, on_answer)

    async def _list_by_api(self, run: _ZoneRun) -> None:
        """Providers none of whose nameservers allowed a transfer: ask their API."""
        if not self.options.extra:
            return
        for provider in sorted(run.unlisted):
            if provider in run.listed:
                continue
            served = await extra.populate_async(provider, self.providers[provider], run.zone)
            if served.error:
                run.unlisted[provider].append(f"{served.source}: {served.error}")
            else:
                run.listed[provider] = [served]


def question_count(repo: Repository, zones: dict[str, list[str]]) -> int:
    """An estimate of the questions a run asks, for the progress bar's total."""
    total = 0
    for name, providers in zones.items():
        records = len(repo.desired[name].records)
        for provider in providers:
            total += (records + 3) * max(1, len(repo.config.providers[provider].nameservers))
    return total


def verify(repo: Repository, zones: dict[str, list[str]], options: Options,
           progress: Progress | None = None) -> VerifyResult:
    """Verify the records of `zones` (zone -> the providers to check) in this process.
    The nameservers it slowed down to are data (`VerifyResult.throttled`), not yet
    findings: verify/full.py makes them findings once every part of a run is in."""
    return asyncio.run(Verifier(repo, options, progress).run(zones))


def throttled_findings(throttled: dict[Endpoint, Throttled], window: int) -> list[Finding]:
    """One finding per nameserver the engine slowed down to, so that the run's other
    findings about it are read knowing it was under load (or the path was lossy)."""
    found = []
    for _, slowed in sorted(throttled.items(), key=lambda item: str(item[0])):
        found.append(Finding(
            Severity.INFO, "verify.throttled",
            f"{slowed.label} was slow or lossy: dnssync slowed down to it (window {slowed.smallest} instead of"
            f" {window}, longer timeouts) and asked {slowed.asked_again} question(s) again; its findings in"
            " this run were made under that load", provider=slowed.provider, nameserver=slowed.label))
    return found
