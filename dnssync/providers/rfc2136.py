"""RFC 2136 (dynamic update) providers for BIND 9 and Knot, fixing octodns-bind.

octodns-bind's Rfc2136Provider is the plugin; this subclass fixes what breaks
against real servers (each fix has a test in tests/test_rfc2136_*):

* Order. octodns-bind sends changes sorted by name in batches of 1,000. BIND
  refuses (REFUSED) an update adding an MX whose in-zone exchange has no A/AAAA
  yet, so a zone whose MX target sorts later cannot be pushed. We send deletes
  first, then address records, then everything that may point at them.
* Size. A batch of 1,000 long TXT records exceeds the 64 KiB DNS message limit;
  batches here are bounded by wire size as well as by count.
* Apex NS. Servers ignore a delete of the whole apex NS RRset (RFC 2136 3.4.2.4),
  so octoDNS's replace leaves the union and plans the same change forever
  (octodns-bind issue 70). We change the apex NS value by value.
* Partial failure. When update message k of n fails, the error says how many
  changes were already applied, so no zone is left half-written silently.
* Refusals. A message the server refuses for its data (REFUSED, SERVFAIL...) is
  split until the refused changes are found (providers/refused.py); the rest is
  applied, and the error names each refused change with the server's answer.
  A name whose record changes type (CNAME->A: a delete and an add) is never
  split, by messages or halves: a refused add cannot leave the name deleted. A
  single change answered SERVFAIL is sent once more, and the server asked with an
  empty update, before it is blamed: a server failing now and then is transient
  (retried), not a refusal of the data.
* Deletes. A record gone from git is deleted as a whole RRset, not value by
  value: values re-rendered from what was read (a TXT of several strings that
  octoDNS joins) are not the server's RDATA, and RFC 2136 silently ignores a
  delete of RDATA that does not exist, so the record stayed forever.
* Errors. REFUSED, NOTAUTH and TSIG failures become messages that say what to
  check, and never contain the TSIG secret.
* Deprecations. Uses octoDNS's Rrset API instead of the deprecated Rr one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update
from octodns.record import Create, Delete, Record, Update
from octodns.record.rr import Rrset
from octodns_bind import Rfc2136Provider as _OctodnsRfc2136Provider

from dnssync.model import interrupt
from dnssync.model.address import format_address
from dnssync.model.errors import DnssyncException
from dnssync.model.records import ZoneIndex, shown_values
from dnssync.model.sameness import Rrsets, plain_name
from dnssync.providers import keptread
from dnssync.providers.aliaswire import octodns_type, rdata_from_text, rdata_text, wire_type
from dnssync.providers.refused import Deterministic, Refused, bisect
from dnssync.providers.updatewire import RawUpdate, name_wire, rdata_wire, rrset_rrs
from dnssync.query import axfr, wire
from dnssync.query.keptsockets import KeptSockets

#: bytes kept free in every update message for the header, zone section and TSIG
_MESSAGE_SLACK = 1024
_MAX_MESSAGE = 65535


class Rfc2136Error(DnssyncException):
    """An update or transfer failed. `transient` says whether a retry may help;
    `applied`/`total` count record changes already committed before the failure;
    `rcode` is the server's answer when it refused."""

    def __init__(self, message: str, transient: bool = False, applied: int = 0, total: int = 0,
                 rcode: int | None = None):
        super().__init__(message)
        self.transient = transient
        self.applied = applied
        self.total = total
        self.rcode = rcode


@dataclass(frozen=True)
class _Op:
    """One RRset-level operation of an update message."""

    phase: int  # 0 deletes, 1 address adds, 2 other adds (see module docstring)
    action: str  # add | replace | delete | apex-ns
    name: str
    ttl: int
    rtype: str
    rdatas: tuple[str, ...]
    old: tuple[str, ...] = ()  # apex-ns: the values and TTL the server has now
    old_ttl: int = 0


#: an operation with its owner name and each RDATA in wire form (updatewire.py)
_Sized = tuple[_Op, bytes, list[bytes]]
#: operations that go in one message, never split (see `_together`)
_Group = list[_Sized]


def _together(ops: list[_Op]) -> list[list[_Op]]:
    """`ops` in groups that must go in one message: the deletes and adds at a name whose
    record changes type (a delete applied without its add deletes the name), placed
    where the last of them was (after the addresses an added MX may point at); every
    other op alone, in order."""
    deleted = {op.name.lower() for op in ops if op.action == "delete"}
    paired = deleted & {op.name.lower() for op in ops if op.action != "delete"}
    last = {op.name.lower(): index for index, op in enumerate(ops) if op.name.lower() in paired}
    groups: list[list[_Op]] = []
    waiting: dict[str, list[_Op]] = {}
    for index, op in enumerate(ops):
        key = op.name.lower()
        if key not in paired:
            groups.append([op])
            continue
        waiting.setdefault(key, []).append(op)
        if last[key] == index:
            groups.append(waiting.pop(key))
    return groups


class Rfc2136Provider(_OctodnsRfc2136Provider):
    """octodns-bind's RFC 2136 provider with ordered, size-bounded, value-by-value updates."""

    #: BIND's check-integrity refuses an MX whose in-zone exchange has no address
    CHECK_INTEGRITY = False
    #: a server applies each zone's update in that zone's own transaction, so a fleet's
    #: apply workers may write different zones at once (planning/held.py: `writing`)
    CONCURRENT_WRITES = True
    #: what this server means by an answer to a single refused change (else `_REASONS`)
    REASONS: dict[str, str] = {}
    #: the acceptance rules every RFC 2136 server applies (see providers/acceptance.py)
    ACCEPTANCE = {"apex_cname": True}
    #: what an RFC 2136 server does when sent data beside a CNAME (BIND and Knot, seen on
    #: the lab; see planning/withheld.py)
    BESIDE_CNAME = ("would answer NOERROR yet keep only one side, the data it already holds or, sent together,"
                    " the CNAME (RFC 2136 3.4.2.2)")

    def __init__(self, id: str, host: str, *args, check_integrity: bool | None = None,
                 max_message_size: int = _MAX_MESSAGE, **kwargs):
        super().__init__(id, host, *args, **kwargs)
        self.check_integrity = self.CHECK_INTEGRITY if check_integrity is None else check_integrity
        self.max_message_size = min(int(max_message_size), _MAX_MESSAGE)
        self._reasons: dict[tuple[str, str], str] = {}

    # -- reading ---------------------------------------------------------------

    def _where(self) -> str:
        return format_address(self.host, self.port)

    def _transferred(self, zone_name: str) -> Iterator[tuple[wire.Reply, wire.RR]]:
        """The zone's records by AXFR (TSIG-signed when a key is configured; see
        dnssync.query.axfr), of the types this provider holds. Read inside
        `_transfer_errors`, which words every failure (the caller's parsing too)."""
        key = axfr.tsig_key(self.key_name, self.key_secret, self.key_algorithm)
        supported = {wire_type(t) for t in self.SUPPORTS}
        # a long transfer may take four timeouts; a server that says nothing, one
        for reply, rr in axfr.transfer(self.host, zone_name, self.port, key, self.timeout * 4, self.timeout):
            if rr.rdtype in supported:
                yield reply, rr

    @contextmanager
    def _transfer_errors(self, zone_name: str) -> Iterator[None]:
        """A failed transfer as Rfc2136Error, saying what to check."""
        where = f"zone transfer of {zone_name} from {self._where()}"
        try:
            yield
        except (OSError, EOFError, dns.exception.DNSException) as e:  # wire.Malformed is one too
            hint = (": is the zone configured there and is transfer allowed for this key?"
                    if isinstance(e, axfr.TransferRefused) else "")
            raise Rfc2136Error(f"{where}: {axfr.failure_text(e, self.timeout * 4)}{hint}",
                               transient=axfr.failure_transient(e), rcode=getattr(e, "rcode", None)) from None

    def transfer(self, zone_name: str) -> list[Rrset]:
        """The zone by AXFR as octoDNS RRsets of the types this provider holds."""
        grouped: dict[tuple[bytes, int], list[str]] = {}
        ttls: dict[tuple[bytes, int], int] = {}
        with self._transfer_errors(zone_name):
            for reply, rr in keptread.take(self, zone_name) or self._transferred(zone_name):
                grouped.setdefault((rr.owner, rr.rdtype), []).append(rdata_text(reply.rdata(rr)))
                ttls.setdefault((rr.owner, rr.rdtype), rr.ttl)
        names: dict[bytes, str] = {}
        rrsets = []
        for (owner, rdtype), rdatas in grouped.items():
            name = names.get(owner) or names.setdefault(owner, dns.name.from_wire(owner, 0)[0].to_text())
            rrsets.append(Rrset(name, octodns_type(rdtype), ttls[(owner, rdtype)], rdatas))
        return rrsets

    def read_names(self, zone_name: str, names: set[str] | None = None) -> Rrsets:
        """The RRsets the server holds at `names` (lower-case absolute names; None: the
        whole zone), of the types this provider holds, in DNS's meaning (sameness.Rrsets):
        what apply reads back and plan compares first (readback.py, planning/unchanged.py).
        One transfer; only these names' RDATA is looked at, never built into octoDNS
        records. Failures are Rfc2136Error, as populate's."""
        wanted = None if names is None else {plain_name(name) or dns.name.from_text(name).to_wire().lower(): name
                                             for name in names}
        seen: dict[bytes, str] = {}
        ttls: dict[tuple[str, str], int] = {}
        values: dict[tuple[str, str], set[bytes]] = {}
        with self._transfer_errors(zone_name):
            transferred: Iterable[tuple[wire.Reply, wire.RR]] = self._transferred(zone_name)
            if names is None and keptread.keeping():  # populate may want the same transfer
                transferred = list(transferred)
                keptread.keep(self, zone_name, transferred)
            for reply, rr in transferred:
                if wanted is not None:
                    name = wanted.get(rr.owner)
                    if name is None:
                        continue
                else:
                    name = seen.get(rr.owner) or seen.setdefault(rr.owner, wire.name_text(rr.owner).lower())
                rrset = (name, octodns_type(rr.rdtype))
                ttls.setdefault(rrset, rr.ttl)
                values.setdefault(rrset, set()).add(reply.rdata_key(rr))
        return {rrset: (ttls[rrset], frozenset(keys)) for rrset, keys in values.items()}

    def populate(self, zone, target=False, lenient=False):
        for record in Record.from_rrsets(zone, self.transfer(zone.name), lenient=lenient, source=self):
            zone.add_record(record, lenient=lenient)
        return True

    # -- planning ----------------------------------------------------------------

    def _process_desired_zone(self, desired):
        if self.check_integrity:  # BIND's update.c check_mx: an in-zone exchange needs an address
            targets = ZoneIndex(desired)
            for record in list(desired.records):
                if record._type != "MX":
                    continue
                missing = [v.exchange for v in record.values if targets.in_zone(v.exchange)
                           and not targets.below_delegation(v.exchange) and not targets.has_address(v.exchange)]
                if missing:
                    self._reasons[(desired.name, record.name, record._type)] = (
                        f"BIND refuses an MX whose in-zone exchange has no A/AAAA record"
                        f" (check-integrity): {', '.join(missing)}"
                    )
                    desired.remove_record(record)
        return super()._process_desired_zone(desired)

    def unsupported_reason(self, record) -> str | None:
        """Why this provider will not hold `record`, when it is for a reason of its own."""
        return self._reasons.get((record.zone.name, record.name, record._type))

    # -- writing -------------------------------------------------------------------

    def _operations(self, changes) -> list[_Op]:
        ops: list[_Op] = []
        for change in changes:
            record = (change.new if isinstance(change, Create | Update) else change.existing)
            name, ttl, rtype, values = record.fqdn, record.ttl, record._type, shown_values(record)
            add_phase = 1 if rtype in ("A", "AAAA") else 2
            if isinstance(change, Create):
                ops.append(_Op(add_phase, "add", name, ttl, rtype, values))
            elif isinstance(change, Delete):
                ops.append(_Op(0, "delete", name, ttl, rtype, values))
            elif rtype == "NS" and record.name == "":
                old = change.existing
                ops.append(_Op(add_phase, "apex-ns", name, ttl, rtype, values, shown_values(old), old.ttl))
            else:
                ops.append(_Op(add_phase, "replace", name, ttl, rtype, values))
        # deletes of what points (MX, CNAME...) before deletes of addresses
        ops.sort(key=lambda op: (op.phase, op.phase == 0 and op.rtype in ("A", "AAAA"), op.name, op.rtype))
        return ops

    @staticmethod
    def _size(op: _Op, owner: bytes, rdatas: list[bytes]) -> int:
        """An upper bound of the op's bytes in an update message (names uncompressed)."""
        name = len(owner) + 10  # its wire length, and type to rdlength
        size = sum(name + len(rdata) for rdata in rdatas)
        if op.action == "apex-ns":  # each value may be deleted and re-added, old ones deleted
            return 2 * size + len(op.old) * (name + 255)
        return size + (name if op.action == "replace" else 0)

    def _batches(self, ops: list[_Op]) -> list[list[_Group]]:
        """Consecutive runs of whole groups of `ops` (`_together`), each fitting one update
        message (count and size; a group over them goes alone), each op with its owner
        name and RDATA in wire form (once: reading their text is the cost of an update)."""
        budget = self.max_message_size - _MESSAGE_SLACK
        batches: list[list[_Group]] = []
        used = count = 0
        for group in _together(ops):
            sized = [(op, name_wire(op.name), [rdata_wire(op.rtype, t) for t in op.rdatas]) for op in group]
            size = sum(self._size(*one) for one in sized)
            if not batches or used + size > budget or count + len(sized) > self.update_batch_size:
                batches.append([])
                used = count = 0
            batches[-1].append(sized)
            used, count = used + size, count + len(sized)
        return batches

    def _message(self, zone_name: str, batch: Sequence[_Group]) -> dns.update.UpdateMessage:
        """One update message carrying a batch, signed when a key is configured: rendered
        directly (updatewire.py) unless it changes the apex NS value by value."""
        ops = [sized for group in batch for sized in group]
        if not any(op.action == "apex-ns" for op, _, _ in ops):
            return RawUpdate(zone_name, [rr for op, owner, rdatas in ops
                                         for rr in rrset_rrs(op.action, owner, wire_type(op.rtype), op.ttl, rdatas)],
                             **self._auth_params())
        update = dns.update.UpdateMessage(zone_name, **self._auth_params())
        for op, _, _ in ops:  # dnspython's objects: the rare message that changes the apex NS
            owner, rdatas = dns.name.from_text(op.name), [rdata_from_text(op.rtype, t) for t in op.rdatas]
            if op.action == "apex-ns":
                self._apex_ns(update, op, owner, rdatas)
            elif op.action == "add":
                update.add(owner, op.ttl, *rdatas)
            elif op.action == "replace":
                update.replace(owner, op.ttl, *rdatas)
            else:  # the whole RRset, whatever values the server holds (see module docstring)
                update.delete(owner, wire_type(op.rtype))
        return update

    @staticmethod
    def _apex_ns(update: dns.update.UpdateMessage, op: _Op, owner: dns.name.Name, rdatas: list) -> None:
        """Change the apex NS value by value: servers ignore a delete of the whole RRset.

        A TTL change is made by deleting and re-adding a value (Knot ignores the
        TTL of an add whose data already exists); gone values are deleted last,
        so the zone is never without an apex NS."""
        for text, rdata in zip(op.rdatas, rdatas, strict=True):
            if text in op.old and op.old_ttl != op.ttl:
                update.delete(owner, rdata)
            update.add(owner, op.ttl, rdata)
        for text in sorted(set(op.old) - set(op.rdatas)):
            update.delete(owner, dns.rdata.from_text(dns.rdataclass.IN, op.rtype, text))

    def _kept(self) -> KeptSockets:
        """The connections kept to this server (made on first use: tests and users may
        set the host and port after construction)."""
        kept = self.__dict__.get("_sockets")
        if kept is None or (kept.host, kept.port, kept.timeout) != (self.host, self.port, self.timeout):
            if kept is not None:
                kept.close()  # connections to where the provider no longer points
            kept = self._sockets = KeptSockets(self.host, self.port, self.timeout)
        return kept

    def _exchange(self, update: dns.update.UpdateMessage) -> dns.message.Message:
        """Send one update on a kept connection and read its answer (dnssync.query.keptsockets)."""
        kept = self._kept()
        deadline = time.monotonic() + self.timeout  # one timeout for all of it, as dnspython's own connect has
        sock = kept.lend()
        try:
            response = dns.query.tcp(update, self.host, port=self.port, sock=sock,
                                     timeout=max(0.001, deadline - time.monotonic()))
        except BaseException:
            sock.close()  # its state is unknown: never lent again
            raise
        kept.give_back(sock)
        return response

    def _send(self, update: dns.update.UpdateMessage, zone_name: str) -> None:
        try:
            response = self._exchange(update)
        except dns.tsig.PeerError as e:
            raise Rfc2136Error(f"update of {zone_name} at {self._where()} rejected: {axfr.tsig_problem(e)}") from None
        except (dns.exception.Timeout, OSError, EOFError) as e:
            raise Rfc2136Error(f"update of {zone_name} at {self._where()} failed: {type(e).__name__}"
                               f" {e}".rstrip(), transient=True) from None
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        hints = {
            dns.rcode.REFUSED: "the server refused it: check allow-update / the ACL for this key, and"
                               " the server's log for the record it objects to",
            dns.rcode.NOTAUTH: "the server is not authoritative for the zone, or the TSIG key is wrong",
            dns.rcode.NOTZONE: "a record lies outside the zone",
            dns.rcode.SERVFAIL: "the server failed internally",
        }
        hint = hints.get(rcode, "")
        raise Rfc2136Error(f"update of {zone_name} at {self._where()} answered {dns.rcode.to_text(rcode)}"
                           + (f": {hint}" if hint else ""), transient=rcode == dns.rcode.SERVFAIL, rcode=rcode)

    def _send_batch(self, zone_name: str, batch: Sequence[_Group], probed: list[bool]) -> None:
        """Send a batch in one message; an answer about the data (see `_DATA_RCODES`) is
        `Deterministic`, for `bisect` to split. The first such answer of an apply is
        checked once against an empty update (`_refuses_any_update`): a server that
        refuses even that refuses the key or is failing, and nothing is split. A single
        group answered SERVFAIL (any message of the apply) is sent once more and then
        the server checked the same way, before the group is blamed."""
        message = self._message(zone_name, batch)
        try:
            self._send(message, zone_name)
        except Rfc2136Error as e:
            if e.rcode not in _DATA_RCODES:
                raise
            if e.rcode == dns.rcode.SERVFAIL and len(batch) == 1:
                e = self._servfail_again(zone_name, message)
                if e is None:
                    return
            elif not probed:
                probed.append(True)
                self._refuses_any_update(zone_name)
            raise Deterministic(dns.rcode.to_text(e.rcode)) from None

    def _servfail_again(self, zone_name: str, message: dns.update.UpdateMessage) -> Rfc2136Error | None:
        """A single group answered SERVFAIL: send it once more (None: it went now); when
        it fails again, raise (transient) if even an empty update fails, else return the
        answer, which is then its data's."""
        try:
            self._send(message, zone_name)
        except Rfc2136Error as again:
            if again.rcode not in _DATA_RCODES:
                raise
            self._refuses_any_update(zone_name)
            return again
        return None

    def _refuses_any_update(self, zone_name: str) -> None:
        """Raise when the server refuses even an update that changes nothing (its ACL
        refuses this key, or it is failing): then no record is to blame."""
        try:
            self._send(dns.update.UpdateMessage(zone_name, **self._auth_params()), zone_name)
        except Rfc2136Error as e:
            raise Rfc2136Error(f"{e} (even to an update that changes nothing, so no record is to blame)",
                               e.transient, rcode=e.rcode) from None

    def _apply(self, plan):
        """Send the changes in ordered, bounded messages. A message the server refuses
        for its data is split down to the refused changes (providers/refused.py); the
        rest is applied, and `Refused` names each refused change with the answer."""
        zone_name = plan.desired.name
        ops = self._operations(plan.changes)
        batches = self._batches(ops)
        applied, refused, probed = 0, [], []
        for index, batch in enumerate(batches):
            interrupt.checkpoint()  # Ctrl-C stops here, between two whole messages
            try:
                _, rejected = bisect(batch, lambda part: self._send_batch(zone_name, part, probed))
            except Rfc2136Error as e:
                if index or refused:
                    e = Rfc2136Error(f"{e} (message {index + 1} of {len(batches)}; {applied} of"
                                     f" {len(ops)} RRset changes were already applied)",
                                     e.transient, applied, len(ops), e.rcode)
                raise e from None
            done = sum(map(len, batch)) - sum(len(group) for group, _ in rejected)
            applied += done
            refused += [(sized, why) for group, why in rejected for sized in group]
            self.log.debug("_apply: zone=%s, message %d/%d, %d rrsets, %d refused", zone_name, index + 1,
                           len(batches), done, len(rejected))
        if refused:
            raise Refused(f"{self._where()} ({zone_name})",
                          [(f"{_ACTIONS[op.action]} {_relative(op.name, zone_name)} {op.rtype}",
                            self.REASONS.get(why) or _REASONS.get(why, why)) for (op, *_), why in refused],
                          applied, len(ops))
        return True


#: answers to an update that are about its data: the batch is split to find the change
#: (a SERVFAIL is split too; one that repeats for a single change is its data's)
_DATA_RCODES = {dns.rcode.REFUSED, dns.rcode.NOTZONE, dns.rcode.SERVFAIL, dns.rcode.YXDOMAIN,
                dns.rcode.YXRRSET, dns.rcode.NXRRSET, dns.rcode.FORMERR}
_ACTIONS = {"add": "create", "replace": "update", "delete": "delete", "apex-ns": "update"}
_REASONS = {
    "REFUSED": "REFUSED (a rule of the server's own; its log names it)",
    "SERVFAIL": "SERVFAIL for this record each time it was sent",
    "NOTZONE": "NOTZONE (the record lies outside the zone)",
}


def _relative(name: str, zone_name: str) -> str:
    """A record's name as zone files write it: `www`, `@` for the apex."""
    if name.lower() == zone_name.lower():
        return "@"
    return name[:-len(zone_name) - 1] if name.lower().endswith("." + zone_name.lower()) else name


class BindProvider(Rfc2136Provider):
    """BIND 9: like Rfc2136Provider, and knows BIND's check-integrity (on by default)
    and its other acceptance rules at their defaults (see providers/acceptance.py)."""

    CHECK_INTEGRITY = True
    ACCEPTANCE = {**Rfc2136Provider.ACCEPTANCE, "check_names": True, "max_records_per_type": 100}
    REASONS = {
        "REFUSED": "REFUSED (BIND's check-names or check-integrity; its log names the rule)",
        "SERVFAIL": "SERVFAIL for this record each time it was sent (BIND: max-records-per-type?)",
    }


class KnotProvider(Rfc2136Provider):
    """Knot DNS: plain RFC 2136."""

