"""What every command shares: the loaded repository, consoles, output, options."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console

from dnssync.model.errors import UsageError
from dnssync.model.secrets import redact
from dnssync.repo.config import Config, zone_name
from dnssync.repo.repository import Repository, Selection, load_settings, parse_shard


class Redacting(io.TextIOBase):
    """A text stream that masks every registered secret on its way out, so no report
    (tables, findings, events) can print one, whatever text a provider's error carries."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


@dataclass
class Context:
    config_path: Path
    octodns_config: Path | None
    debug: bool
    color: bool
    _repos: dict[tuple[Selection, bool], Repository] = field(default_factory=dict, repr=False)

    def repo(self, zones: tuple[str, ...] | list[str] = (), shard: str | None = None,
             offline: bool = False) -> Repository:
        """Load the user's repository (raises ConfigError, exit 2, on any bad input): the
        zones and shard asked for, with secrets unless `offline`; loaded once per such request."""
        selection = Selection(tuple(zone_name(z) for z in zones), parse_shard(shard))
        key = (selection, offline)
        if key not in self._repos:
            self._repos[key] = Repository.load(self.config_path, selection, self.octodns_config, offline)
        return self._repos[key]

    def settings(self, offline: bool = False) -> Config:
        """The settings alone, no zone loaded (restore, snapshots, import); `offline`
        when no provider will be contacted (no secret is needed then)."""
        return load_settings(self.config_path, self.octodns_config, offline)

    @cached_property
    def out(self) -> Console:
        """Where results go (stdout), secrets masked. Colour only on a terminal unless --no-color."""
        return Console(file=Redacting(sys.stdout), no_color=not self.color, highlight=False, soft_wrap=False,
                       width=None if sys.stdout.isatty() else 200)

    @cached_property
    def err(self) -> Console:
        return Console(file=Redacting(sys.stderr), no_color=not self.color, highlight=False,
                       width=None if sys.stderr.isatty() else 200)

    def say(self, text: str) -> None:
        """A notice on stderr, flushed at once (it may come from a signal handler)."""
        self.err.print(text)
        sys.stderr.flush()

    @contextmanager
    def text_report(self, path: Path | None) -> Iterator[Console]:
        """Where a text report goes: the terminal, or with `--out FILE` that file, plain
        (no colour, wide enough that no table breaks a word)."""
        if path is None:
            yield self.out
            return
        with path.open("w") as handle:
            yield Console(file=Redacting(handle), no_color=True, highlight=False, width=200)

    def emit(self, text: str, path: Path | None = None) -> None:
        """Write machine output (JSON, Markdown, XML) to stdout or a file, secrets masked."""
        text = redact(text)
        if path is None:
            click.echo(text, nl=not text.endswith("\n"))
        else:
            path.write_text(text)


pass_ctx = click.make_pass_decorator(Context)


def format_option(*choices: str, default: str = "text") -> Any:
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format.")


def out_option(what: str = "the report") -> Any:
    """`--out FILE`, with one meaning on every command: what --format prints goes to FILE
    instead of stdout; a one-line summary still goes to stdout."""
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                        help=f"Write {what} (in --format) to FILE instead of stdout.")


def deprecated(old: str, new: str) -> None:
    """One line on stderr for an old option spelling that still works."""
    click.echo(f"Note: {old} is deprecated; use {new} (same meaning).", err=True)


zone_option = click.option("--zone", "zones", multiple=True, metavar="ZONE",
                           help="Only this zone (repeatable).")
shard_option = click.option("--shard", metavar="I/N",
                            help="Only shard I of N of the zones (stable; for a CI matrix).")
provider_option = click.option("--provider", "providers", multiple=True, metavar="NAME",
                               help="Only this provider (repeatable).")


def confirm(ctx: Context, question: str, yes: bool) -> None:
    """Ask before changing providers; a non-interactive run must say --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("refusing to change providers without --yes in a non-interactive run")
    if not click.confirm(question, default=False):
        raise click.Abort()


DEFAULT_TIMEOUT = 3600.0


def deadline_options(f: Any) -> Any:
    """`--deadline SECONDS`: the whole wait, unlike verify's `--query-timeout` (one query).
    The old `--timeout` spelling still works, with a note."""
    f = click.option("--timeout", "old_timeout", type=click.FloatRange(min=0), default=None, hidden=True)(f)
    return click.option(
        "--deadline", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
        help=f"Give up (exit 1) when not fully propagated after this many seconds in all"
             f" [default: {DEFAULT_TIMEOUT:.0f}].")(f)


def deadline_of(command: str, deadline: float | None, old_timeout: float | None) -> float:
    if old_timeout is not None:
        deprecated(f"{command} --timeout", "--deadline")
    return next((s for s in (deadline, old_timeout) if s is not None), DEFAULT_TIMEOUT)


interval_option = click.option(
    "--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
    help="Seconds between polls of the nameservers and resolvers.")


def run_watch(ctx: Context, repo: Repository, record: Path, timeout: float, interval: float,
              fmt: str) -> int:
    """Watch the apply saved in `record`, print as `fmt` asks; returns the exit code.

    Watch's modules are imported here, not with this module: every command imports
    this one, and only apply and watch watch (plan's and verify's start-up was paying
    for them)."""
    import asyncio

    from rich.live import Live

    from dnssync.report.watch import event_line, live_view
    from dnssync.watch.changes import read_apply
    from dnssync.watch.poll import follow
    from dnssync.watch.propagation import Event, Propagation

    watched = read_apply(record)
    providers = sorted({p for t in watched.changed for p in t.new})
    missing = [p for p in providers if p not in repo.config.providers]
    if missing:
        raise UsageError(f"apply {watched.apply_id} changed providers that are no longer"
                         f" configured: {', '.join(missing)}")
    repo.read_nameservers()  # `nameservers: auto`
    nameservers = {p: repo.config.providers[p].nameservers for p in providers}
    out = ctx.out
    live: Live | None = None

    def on_events(prop: Propagation, events: list[Event]) -> None:
        if fmt == "json":
            for event in events:
                ctx.emit(json.dumps(event, default=str))
            return
        for event in events:
            line = event_line(event)
            if line is None:
                continue
            if live is None:
                out.print(line, soft_wrap=True)
            elif event["event"] in ("start", "finding", "done", "authoritative"):
                live.console.print(line)  # the rest shows in the live view
        if live is not None:
            live.update(live_view(prop), refresh=True)

    async def run() -> int:
        return await follow(watched, nameservers, repo.config.resolvers, on_events, timeout,
                            interval, repo.config.defaults.timeout)

    if fmt == "text" and out.is_terminal:
        with Live(console=out, auto_refresh=False, transient=False) as live:
            return asyncio.run(run())
    return asyncio.run(run())
