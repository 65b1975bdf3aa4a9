"""The `dnssync` command line: options every command shares, error handling, exit codes.

Exit codes (all commands): 0 success; 1 error findings or a failed apply;
2 usage or configuration error (nothing was sent to any provider);
3 `plan --detailed-exitcode` with changes pending. Never a traceback for bad
input; unexpected errors print one line (the traceback with --debug).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path

import click

from dnssync import __version__
from dnssync.commands.base import Context
from dnssync.model.errors import ConfigError, DnssyncError
from dnssync.model.secrets import RedactingFilter, redact
from dnssync.report.text import print_findings

#: HTTP client libraries whose DEBUG lines hold request and response bodies and headers:
#: an STS AssumeRole answer, a signed request's security token. Only DNSSYNC_DEBUG_HTTP=1
#: lets them through, as the mask only knows the secrets dnssync resolved itself.
HTTP_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")


#: Python's cyclic garbage collector runs after every 700 net allocations by default; loading
#: a fleet's zones allocates millions of objects and almost no cycles, so it ran ~130 times
#: (one a full pass over everything) in a 200-zone load, ~6% of the load's CPU. Collecting
#: the young generation every 10,000 allocations keeps cycles collected, at a third of that.
GC_THRESHOLDS = (10_000, 20, 20)


def setup_logging(debug: bool) -> None:
    """Log to stderr through the secret-masking filter. Without --debug only
    dnssync's own warnings show: plugin warnings are already findings or plan rows.
    Even with --debug the HTTP libraries stay at INFO (see HTTP_LOGGERS)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("dnssync")
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "dnssync"] + [handler]
    root.setLevel(logging.DEBUG if debug else logging.ERROR)
    logging.getLogger("dnssync").setLevel(logging.DEBUG if debug else logging.WARNING)
    http = debug and os.environ.get("DNSSYNC_DEBUG_HTTP") == "1"
    for name in HTTP_LOGGERS:  # their DEBUG lines carry request bodies, signatures and tokens
        logging.getLogger(name).setLevel(logging.NOTSET if http else logging.INFO)
    if http:
        logging.getLogger("dnssync").warning(
            "DNSSYNC_DEBUG_HTTP=1: HTTP libraries log requests and responses; credentials dnssync does"
            " not know of (those an SDK fetches itself) may appear in this output")
    if not debug:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.captureWarnings(True)


#: command name -> "module:function" under dnssync.commands
COMMANDS = {name: target for name, target in (
    ("validate", "validate:validate"), ("plan", "plan:plan"), ("apply", "apply:apply"),
    ("verify", "verify:verify"), ("watch", "watch:watch"), ("drift", "drift:drift"),
    ("soa", "soa:soa"), ("ds", "ds:ds"), ("restore", "restore:restore"), ("snapshots", "restore:snapshots"),
    ("import", "import_zone:import_zone"), ("demo", "demo:demo"), ("serve", "serve:serve"),
    ("fault", "fault:fault"))}
#: the commands imported so far (each gets the global options once)
_LOADED: dict[str, click.Command] = {}


class Group(click.Group):
    """Turns dnssync's errors into messages and exit codes, never tracebacks.

    Commands are imported when invoked, not all at start-up: a CI job that runs
    `dnssync verify` over a fleet pays for verify's modules alone (importing every
    command, apply's and watch's stacks included, was a large share of its time)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        command = _LOADED.get(target)
        if command is None:
            module, function = target.split(":")
            command = _LOADED[target] = getattr(importlib.import_module(f"dnssync.commands.{module}"),
                                                function)
            command.params.extend(global_options())
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            err = click.get_current_context().find_object(Context)
            console = err.err if err else None
            if console is not None:
                print_findings(console, e.findings, "configuration errors")
            else:
                click.echo(redact(str(e)), err=True)
            click.echo("Nothing was sent to any provider.", err=True)
            ctx.exit(e.exit_code)
        except DnssyncError as e:
            click.echo(f"Error: {redact(str(e))}", err=True)
            ctx.exit(e.exit_code)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as e:
            obj = ctx.find_object(Context)
            if obj and obj.debug:  # the traceback, through the same mask as everything else
                click.echo(redact(traceback.format_exc()), err=True)
            else:
                click.echo(f"Internal error: {type(e).__name__}: {redact(str(e))} (run with --debug for"
                           " the traceback)", err=True)
            ctx.exit(1)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config_path", default="dnssync.yaml", show_default=True,
              envvar="DNSSYNC_CONFIG", type=click.Path(path_type=Path),
              help="dnssync.yaml, or the folder holding it.")
@click.option("--octodns-config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read an octoDNS config instead (its YamlProvider zones and its targets).")
@click.option("--debug", is_flag=True,
              help="Log everything (secrets stay masked; HTTP libraries only with DNSSYNC_DEBUG_HTTP=1).")
@click.option("--no-color", is_flag=True, help="Plain output even on a terminal.")
@click.version_option(__version__, prog_name="dnssync")
@click.pass_context
def main(ctx: click.Context, config_path: Path, octodns_config: Path | None, debug: bool,
         no_color: bool) -> None:
    """dnssync: serve every zone from several DNS providers at once, and prove they answer alike."""
    gc.set_threshold(*GC_THRESHOLDS)
    setup_logging(debug)
    ctx.obj = Context(config_path, octodns_config, debug, not no_color)


def run() -> None:
    """The `dnssync` console script and `python -m dnssync`: `main`, then leave at once.

    Why: a command over hundreds of zones ends holding a large heap, and the
    interpreter's orderly teardown of it took a quarter of a second at 200 zones, for
    nothing: every command has closed what it opened (files, servers, worker pools,
    scratch folders) before it returns, and the log and the streams are flushed here.
    Tests call `main` through click's runner, which this does not change."""
    try:
        main.main()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away (`| head`)
            stream.flush()
    os._exit(code or 0)


def all_commands() -> dict[str, click.Command]:
    """Every command, imported (for tests and documentation that look at them all)."""
    ctx = click.Context(main)
    return {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}


def _late_global(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """A global option typed after the command (`dnssync validate --no-color`): it
    overrides what was given before the command, as people expect."""
    obj = ctx.find_object(Context)
    if obj is None or value in (None, False):
        return
    if param.name == "config_path":
        obj.config_path = value  # type: ignore[assignment]
    elif param.name == "octodns_config":
        obj.octodns_config = value  # type: ignore[assignment]
    elif param.name == "debug":
        obj.debug = True
        setup_logging(True)
    elif param.name == "no_color":
        obj.color = False


def global_options() -> list[click.Parameter]:
    """The group's own options, again for every command (people type them after the
    command too, and read the command's --help), each applied by `_late_global`."""
    options = []
    for option in main.params:
        if not isinstance(option, click.Option) or option.name not in (
                "config_path", "octodns_config", "debug", "no_color"):
            continue
        late = click.Option([*option.opts, option.name], type=option.type, is_flag=option.is_flag,
                            default=None if not option.is_flag else False, expose_value=False,
                            help=f"{option.help} (also accepted before the command)", callback=_late_global)
        options.append(late)
    return options

