"""`dnssync demo`: the whole story in a minute, on embedded nameservers.

It starts the repository's embedded providers in this process (no root, no DNS
software, nothing left running afterwards, also on Ctrl-C), works on a scratch
copy of the repository (the user's files are never touched), and runs the real
commands, so what it shows is what plan, apply and verify do with any provider:

1. apply pushes the zones to every provider; verify proves over DNS that every
   nameserver answers what git says;
2. one provider's nameserver goes stale (its API still accepts changes): a zone
   edit applies "successfully" everywhere, and verify finds the one stale answer;
3. the same provider goes down: apply retries it, reports it, and applies the
   others; verify reports it unreachable;
4. it comes back: apply converges it, watches the change propagate until no
   cache can hold the old answer, and verify finds nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import yaml
from octodns.yaml import safe_dump
from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from dnssync.commands.base import Context, pass_ctx
from dnssync.embedded.fleet import Fleet, embedded_providers
from dnssync.embedded.zonedata import SoaSettings
from dnssync.model import interrupt
from dnssync.model.errors import UsageError
from dnssync.model.findings import Finding
from dnssync.repo.config import Config
from dnssync.repo.repository import load_settings
from dnssync.repo.zones import discover
from dnssync.report.text import print_verify, styled_summary

#: lines of a long command output shown before and after the part left out
HEAD, TAIL = 12, 14
#: the demo's servers create zones with a 5 s negative-cache TTL (a hosted provider's
#: is minutes), so watching a new name propagate ends within the minute
DEMO_SOA = SoaSettings(minimum=5, dnskey_ttl=2)


def scratch_copy(config: Config, root: Path) -> Path:
    """Copy dnssync.yaml, the provider files and the zones to `root`; return its config."""
    settings = yaml.safe_load(Path(config.file).read_text()) or {}
    settings.update({"zones": "zones", "providers": "providers", "state": ".dnssync"})
    (root / "providers").mkdir(parents=True)
    shutil.copytree(config.zones_dir, root / "zones")
    for provider in config.providers.values():
        shutil.copy(provider.file, root / "providers")
    (root / "dnssync.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return root / "dnssync.yaml"


class Story:
    """Narrates the demo and runs each command in-process, as a user would type it."""

    def __init__(self, out: Console, root: Path, color: bool, interrupts: Interrupts, program: click.Command):
        self.program = program  # dnssync's root command: given, as cli.py imports this module
        self.out = out
        self.root = root
        self.color = color
        self.interrupts = interrupts

    def step(self, title: str, *text: str) -> None:
        self.interrupts.check()
        self.out.print()
        self.out.print(Rule(Text(title, style="bold cyan"), align="left"))
        for paragraph in text:
            self.out.print(paragraph)

    def say(self, text: str, style: str = "") -> None:
        self.out.print(Text(text, style=style))

    def _invoke(self, args: tuple[str, ...], tty: bool) -> tuple[int, str]:
        """`dnssync ARGS` on the scratch repository, in this process: (exit code, output)."""
        buffer = _Capture(tty)
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = self._call(args, tty)
        return code, buffer.getvalue()

    def _call(self, args: tuple[str, ...], tty: bool) -> int:
        options = ["-c", str(self.root)] + ([] if self.color and tty else ["--no-color"])
        try:
            code = self.program.main([*options, *args], prog_name="dnssync", standalone_mode=False)
        except click.ClickException as e:
            e.show()
            code = e.exit_code
        except click.Abort:  # click's word for Ctrl-C outside the command itself
            code = 130
        # the command was interrupted (Ctrl-C): so is the demo. apply takes SIGINT itself while
        # it runs (it stops at a batch boundary); a Ctrl-C after its last batch leaves it
        # exiting 0, so its STOP flag is what says the user pressed Ctrl-C
        if code == 130 or interrupt.STOP.is_set():
            raise KeyboardInterrupt
        self.interrupts.check()
        return code if isinstance(code, int) else 0

    def run_live(self, *args: str) -> int:
        """Run `dnssync ARGS` straight on the terminal, not captured: a command that waits
        (apply --wait) shows its progress while it waits, and its end is never left out."""
        self.out.print(Text(f"$ dnssync {' '.join(args)}", style="bold"))
        self.out.file.flush()
        code = self._call(args, sys.stdout.isatty())
        self.say(f"(exit code {code})", "dim")
        return code

    def run(self, *args: str) -> tuple[int, str]:
        """Run `dnssync ARGS` as a user would type it; show its output; return its exit
        code and output."""
        self.out.print(Text(f"$ dnssync {' '.join(args)}", style="bold"))
        code, output = self._invoke(args, sys.stdout.isatty())
        self._show(output, code)
        return code, output

    def verify(self) -> tuple[int, list[dict[str, Any]]]:
        """`dnssync verify`, run once: with --format json, whose findings let the demo say
        whether verify found exactly what it broke and nothing else, and shown as the
        text report, rendered from that JSON by the reporter `verify` itself uses.
        Returns the exit code and the error findings."""
        self.out.print(Text("$ dnssync verify", style="bold"))
        code, output = self._invoke(("verify", "--format", "json"), tty=False)
        try:
            data = json.loads(output)
            findings = [Finding.from_dict(f) for f in data["findings"]]
        except (ValueError, KeyError, TypeError):
            self._show(output, code)
            return code, [{"code": "demo.unreadable", "message": f"verify exited {code}: {output[:200]}"}]
        tty = sys.stdout.isatty()
        report = _Capture(tty)
        console = Console(file=report, no_color=not (self.color and tty), highlight=False,
                          soft_wrap=False, width=None if tty else 200)
        print_verify(console, findings, styled_summary(data["summary"], findings))
        self._show(report.getvalue(), code)
        return code, [f for f in data["findings"] if f.get("severity") == "error"]

    def _show(self, output: str, code: int) -> None:
        """A command's output, its middle left out when long, and its exit code."""
        lines = output.rstrip("\n").splitlines()
        if len(lines) > HEAD + TAIL + 3:
            left_out = len(lines) - HEAD - TAIL
            lines = [*lines[:HEAD], f"   [... {left_out} more lines ...]", *lines[-TAIL:]]
        self.out.print(Text.from_ansi("\n".join(lines)))
        self.say(f"(exit code {code})", "dim")


class _Capture(io.StringIO):
    """Captured command output that looks like the demo's own stdout (a terminal or not),
    so the commands choose the same colours and width as when typed by hand."""

    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM stop the demo, so its servers are stopped either way.

    The signal raises KeyboardInterrupt, and is also remembered: a KeyboardInterrupt
    that lands in a weakref callback or in a library's broad `except` is swallowed,
    so the story checks `seen` after every command as well."""

    def __init__(self) -> None:
        self.seen = False

    def _handler(self, *_: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupts]:
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._handler) for sig in signals}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def edit_zone(path: Path) -> tuple[str, str, str]:
    """Change one address in a zone file as a pull request would: (name, old, new)."""
    data = yaml.safe_load(path.read_text()) or {}
    for name, value in sorted(data.items(), key=lambda item: str(item[0])):
        if name and "*" not in str(name) and isinstance(value, dict) and value.get("type") == "A" \
                and "value" in value:
            old = str(value["value"])
            head, _, last = old.rpartition(".")
            value["value"] = new = f"{head}.{(int(last) + 100) % 254 + 1}"
            break
    else:
        name, old, new = "demo-edit", "(none)", "192.0.2.123"
        data[name] = {"type": "A", "value": new}
    with open(path, "w") as handle:
        safe_dump(data, handle)
    return str(name), old, new


def add_record(path: Path, name: str, value: str) -> None:
    data = yaml.safe_load(path.read_text()) or {}
    data[name] = {"type": "A", "value": value}
    with open(path, "w") as handle:
        safe_dump(data, handle)


def alias_apex(path: Path, zone: str) -> str | None:
    """Make the zone's apex an ALIAS (as a site behind a CDN has it) to a name of the same
    zone holding the apex's addresses, so the target is served locally and the demo needs
    no internet; returns the target, or None when the apex is not one plain A record."""
    data = yaml.safe_load(path.read_text()) or {}
    apex = data.get("")
    if not (isinstance(apex, dict) and apex.get("type") == "A") or "edge" in data:
        return None
    target = f"edge.{zone}"
    ttl = apex.get("ttl", 3600)
    data["edge"] = [{"type": "A", "ttl": ttl, "values": apex.get("values") or [apex["value"]]},
                    {"type": "AAAA", "ttl": ttl, "value": "2001:db8:1::80"}]
    data[""] = {"type": "ALIAS", "ttl": ttl, "value": target}
    with open(path, "w") as handle:
        safe_dump(data, handle)
    return target


def apex_answers(fleet: Fleet, zone: str) -> Table:
    """What each provider's nameserver answers for the apex A and AAAA, asked directly."""
    table = Table(title_justify="left", expand=False)
    for column in ("provider", f"{zone} A", f"{zone} AAAA"):
        table.add_column(column)
    for name, server in fleet.servers.items():
        cells = []
        for rtype in ("A", "AAAA"):
            try:
                reply = dns.query.udp(dns.message.make_query(zone, rtype), server.host, port=server.port, timeout=2)
                cells.append(", ".join(sorted(r.to_text() for rrset in reply.answer for r in rrset
                                              if rrset.rdtype == dns.rdatatype.from_text(rtype))) or "-")
            except (OSError, dns.exception.DNSException) as e:
                cells.append(f"no answer ({type(e).__name__})")
        table.add_row(name, *cells)
    return table


def _program() -> str:
    """How this dnssync was started, so the commands to try next work as printed
    (`make demo` runs .venv/bin/dnssync, which is not on PATH)."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "dnssync":
        return "python -m dnssync"
    found = shutil.which("dnssync")
    if found and Path(found).resolve() == argv0.resolve():
        return "dnssync"
    return os.path.relpath(argv0)


def _providers_table(fleet: Fleet) -> Table:
    table = Table(title_justify="left", expand=False)
    for column in ("provider", "nameserver", "listens on"):
        table.add_column(column)
    for name, server in fleet.servers.items():
        table.add_row(name, str(server.nameserver), server.address)
    return table


def _codes(findings: list[dict[str, Any]]) -> str:
    return ", ".join(f"{f['code']} at {f.get('provider', '?')}" for f in findings) or "nothing"


def sign_with_every_provider(root: Path, zone: str) -> None:
    """dnssync.yaml with `policy.dnssec: multi-signer` for `zone` (the rest unsigned)."""
    path = root / "dnssync.yaml"
    settings = yaml.safe_load(path.read_text()) or {}
    policy = settings.setdefault("policy", {})
    policy["dnssec"] = {"default": "unsigned", "zones": {zone.rstrip("."): "multi-signer"}}
    path.write_text(yaml.safe_dump(settings, sort_keys=False))


def tell(story: Story, fleet: Fleet, zone_path: Path, zone: str,
         alias: tuple[str, str, list[str]] | None = None, signed: str | None = None) -> list[str]:
    """The story itself; returns what did not go as expected (nothing, normally).
    `alias`: (zone, target, providers holding ALIAS) of an apex ALIAS the story shows
    answered alike everywhere; `signed`: the zone the story signs at every provider."""
    names = list(fleet.servers)
    victim = names[1]
    others = ", ".join(n for n in names if n != victim)
    surprises: list[str] = []

    def expect(ok: bool, good: str, bad: str) -> None:
        story.say(("✓ " + good) if ok else ("✗ unexpected: " + bad), "green" if ok else "bold red")
        if not ok:
            surprises.append(bad)

    story.step(
        "1. Push the zones to every provider",
        f"{len(names)} providers, each with its own nameserver running in this process:",
    )
    story.out.print(_providers_table(fleet))
    story.say("They serve nothing yet. apply plans every provider against what it serves and"
              " pushes to all of them in parallel.")
    code, _ = story.run("apply", "--yes")
    expect(code == 0, "every provider now holds the zones", f"the first apply exited {code}")

    story.step("2. Prove it over DNS",
               "apply succeeding is not proof. verify asks every nameserver of every provider for"
               " every record and compares the answers with git and with each other.")
    code, errors = story.verify()
    expect(code == 0 and not errors,
           "zero findings: every nameserver answers exactly what git says",
           f"verify found problems on a freshly pushed zone: {_codes(errors)}")
    if alias:
        apex, target, native = alias
        flattened = ", ".join(n for n in names if n not in native) or "none"
        holds = (f"{', '.join(native)} holds the ALIAS and answers it itself (as PowerDNS does); "
                 if native else "")
        story.say(f"{apex}'s apex is an ALIAS to {target}, as a site behind a CDN has it. {holds}for"
                  f" {flattened}, which cannot hold ALIAS, plan resolved the target and flattened it"
                  " to A/AAAA. verify held every answer to a fresh resolution. Asked directly:")
        table = apex_answers(fleet, apex)
        story.out.print(table)
        columns = [[str(cell) for cell in column.cells] for column in table.columns[1:]]
        alike = all(len(set(cells)) == 1 for cells in columns) and columns[0][0] != "-"
        expect(alike, f"every provider answers the same A and AAAA at {apex}",
               f"the providers answer {apex} differently")

    story.step(f"3. {victim} serves stale data",
               f"{victim}'s nameserver is frozen: its API still accepts changes, but it keeps"
               " answering from the zone as it is now (an edge that lost sync with its control"
               " plane). Meanwhile a pull request changes one record:")
    fleet.servers[victim].set_faults(stale=True)
    name, old, new = edit_zone(zone_path)
    fqdn = f"{name}.{zone}"
    story.say(f"  {zone_path.name}: {name} A {old} → {new}", "yellow")
    code, _ = story.run("apply", "--yes")
    expect(code == 0, "apply reports success at every provider (each API accepted the change)",
           f"apply exited {code}")
    code, errors = story.verify()
    stale = [f for f in errors if f["code"] == "verify.values" and f.get("provider") == victim
             and fqdn in f.get("message", "")]
    expect(code == 1 and errors == stale and len(stale) == 1,
           f"verify found exactly that: {victim} still answers {old} for {fqdn}, the others {new}",
           f"verify should report only {fqdn} at {victim}, found: {_codes(errors)}")

    story.step(f"4. {victim} goes down",
               f"{victim}'s nameserver stops (its process is gone). Another change is merged:")
    fleet.servers[victim].stop()
    added = "added-during-outage"
    add_record(zone_path, added, "192.0.2.199")
    story.say(f"  {zone_path.name}: + {added} A 192.0.2.199", "yellow")
    code, _ = story.run("apply", "--yes")
    expect(code == 1, f"apply retried {victim}, reported it failed, and applied {others} anyway",
           f"apply exited {code} with {victim} down")
    code, errors = story.verify()
    down = [f for f in errors if f["code"] in ("verify.unreachable", "verify.timeout")
            and f.get("provider") == victim]
    expect(code == 1 and bool(down) and errors == down,
           f"verify reports {victim}'s nameserver unreachable; {others} answer correctly",
           f"verify should report only {victim} unreachable, found: {_codes(errors)}")

    story.step(f"5. {victim} is repaired",
               f"{victim}'s nameserver is back (its zones were kept on disk, its edge is fresh"
               " again). Re-running apply converges it, and --wait watches the change until"
               f" it has propagated: every nameserver serves {added}, and no resolver can still"
               " hold the 'does not exist' it may have cached from"
               f" {victim} before (the negative-cache TTL: {DEMO_SOA.minimum} s on the demo's"
               " servers, minutes on a hosted provider's):")
    fleet.servers[victim].start()
    code = story.run_live("apply", "--yes", "--wait", "--deadline", "30", "--interval", "0.2")
    expect(code == 0,  # watch's exit 0: every nameserver serves it and no cache can hold the old
           f"only {victim} had changes pending; it serves them now, and no cache can hold the"
           " old answer: fully propagated",
           f"apply --wait exited {code}")
    code, errors = story.verify()
    expect(code == 0 and not errors, "zero findings: all providers answer alike again",
           f"verify still finds problems after the repair: {_codes(errors)}")
    if signed:
        tell_multi_signer(story, fleet, signed, expect)
    return surprises


def tell_multi_signer(story: Story, fleet: Fleet, zone: str, expect: Callable[[bool, str, str], None]) -> None:
    """DNSSEC with every provider signing `zone` (RFC 8901 multi-signer): the key exchange
    in the plan, applied in the safe order, and the DS set the parent needs."""
    names = list(fleet.servers)
    story.step(f"6. Sign {zone.rstrip('.')} at every provider (DNSSEC, RFC 8901 multi-signer)",
               f"Each provider turns signing on for {zone.rstrip('.')} with keys of its own (as in each"
               " provider's console), and dnssync.yaml says policy.dnssec: multi-signer for it. A"
               " resolver that cached one provider's DNSKEYs must validate every other provider's"
               " signatures, so each provider must publish the others' zone-signing keys:")
    for server in fleet.servers.values():
        server.set_signing(lambda name: name == zone)
    sign_with_every_provider(story.root, zone)
    code, output = story.run("plan", "--zone", zone.rstrip("."))
    wanted = len(names) * (len(names) - 1)
    expect(code == 0 and output.count("DNSKEY") >= wanted,
           f"the plan shows the key exchange like any other change: {wanted} DNSKEYs to publish",
           f"plan exited {code} without the {wanted} DNSKEY changes")
    story.say(f"apply publishes them everywhere first, reads each back over DNS, then waits out the"
              f" DNSKEY TTL ({DEMO_SOA.dnskey_ttl} s here) so no resolver still holds a set without them:")
    code, output = story.run("apply", "--yes", "--zone", zone.rstrip("."))
    expect(code == 0 and "waiting" in output, "every provider now serves every provider's zone-signing key",
           f"the key exchange apply exited {code}")
    code, output = story.run("plan", "--zone", zone.rstrip("."), "--detailed-exitcode")
    expect(code == 0, "nothing left to exchange", f"plan after the key exchange exited {code}")
    story.say("The parent must hold a DS for every provider's KSK; dnssync ds prints the set for the registrar:")
    code, output = story.run("ds", zone.rstrip("."))
    expect(code == 0 and output.count(" IN DS ") == len(names),
           f"{len(names)} DS records, one per provider's KSK", f"dnssync ds exited {code}")
    story.say("verify checks every signature, and each provider's signatures against every provider's"
              " DNSKEY set: the matrix a resolver meets when it cached one provider's keys and asks another:")
    code, output = story.run("verify", "--dnssec", "--zone", zone.rstrip("."))
    expect(code == 0, "every provider's signatures validate against every provider's keys",
           f"verify --dnssec exited {code} after the key exchange")


@click.command()
@pass_ctx
def demo(ctx: Context) -> None:
    """Show what dnssync is for, in a minute, on embedded nameservers.

    Starts the repository's embedded providers on loopback (no root, no DNS
    software), pushes the zones, verifies, breaks one provider (stale data, then
    an outage), and repairs it. Works on a scratch copy: your files are untouched."""
    started = time.monotonic()
    config = ctx.repo(offline=True).config
    embedded = embedded_providers(config)
    others = sorted(set(config.providers) - {p.name for p in embedded})
    if others:  # the demo pushes to every provider and breaks one: never a real one
        raise UsageError(f"the demo runs only where every provider is 'embedded'; {config.file}"
                         f" also has {', '.join(others)}")
    if len(embedded) < 2:
        raise UsageError(f"the demo needs two or more providers of class 'embedded' in"
                         f" {config.file} (the repository's own dnssync.yaml has three)")
    zones = list(discover(config.zones_dir, config.zone_files))
    if not zones:
        raise UsageError(f"the demo needs a zone in {config.zones_dir}")
    victim = embedded[1]
    address = f"{victim.nameservers[0].host} -p {victim.nameservers[0].port}"
    out = ctx.out
    out.print(Text("dnssync demo: one set of zones in git, several DNS providers, and proof over"
                   " DNS that they all answer alike.", style="bold"))
    scratch = Path(tempfile.mkdtemp(prefix="dnssync-demo-"))
    fleet: Fleet | None = None
    try:
        with Interrupts().installed() as interrupts:
            root = scratch_copy(config, scratch / "repo").parent
            out.print(f"Working on a scratch copy of {config.root.resolve()} in {root}.")
            fleet = Fleet.for_config(load_settings(root), scratch / "servers", soa=DEMO_SOA).start()
            story = Story(out, root, ctx.color, interrupts, click.get_current_context().find_root().command)
            files = discover(root / "zones")
            alias = None
            if len(zones) > 1 and (target := alias_apex(files[zones[-1]][0], zones[-1])):
                alias = (zones[-1], target, [p.name for p in embedded if p.options.get("expand_alias")])
            surprises = tell(story, fleet, files[zones[0]][0], zones[0], alias, zones[-1] if len(zones) > 1 else None)
    except KeyboardInterrupt:
        out.print(Text("Interrupted: stopping the embedded nameservers.", style="yellow"))
        raise click.exceptions.Exit(130) from None
    finally:
        if fleet is not None:
            fleet.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    out.print()
    out.print(Rule(Text("Try it yourself", style="bold cyan"), align="left"))
    out.print(f"The demo took {time.monotonic() - started:.0f}s and stopped every server it"
              " started. In this repository:")
    program = _program()
    if ctx.config_path != Path("dnssync.yaml"):
        program += f" -c {ctx.config_path}"
    for command, why in (
        ("dnssync serve", "run the embedded nameservers (leave it running in one shell)"),
        ("dnssync plan", "what apply would change, per provider"),
        ("dnssync apply --yes", "push zones/ to every provider"),
        ("dnssync verify", "ask every nameserver and compare with git"),
        (f"dnssync fault {victim.name} --stale", "break a provider (--lie NAME TYPE VALUE,"
         " --rcode SERVFAIL, --drop 1, --down; --clear repairs)"),
        (f"dig @{address} {zones[0]} SOA", "ask a nameserver yourself"),
    ):
        if command.startswith("dnssync "):
            command = program + command[len("dnssync"):]
        out.print(Text.assemble((f"  $ {command}", "bold"), f"  # {why}"))
    if surprises:
        out.print(Text(f"{len(surprises)} step(s) did not go as expected: " + "; ".join(surprises),
                       style="bold red"))
        raise click.exceptions.Exit(1)
