"""`levee`: the one entry point. It reads the environment once, configures logging, and runs a subcommand.

levee up [--port PORT] [--data DIR] [--host HOST]   everything on this machine, embedded servers included
levee serve NAME                                     one service against NATS_URL / DATABASE_URL
levee token create --role ROLE --name NAME           mint a staff API token (printed alone on stdout)
levee token list | levee token revoke TOKEN_ID       staff tokens by id; a revoked one is refused at once
levee deadletters list                               events workers set aside, with any retry's outcome
levee deadletters retry WORKER EVENT_POSITION        ask the worker to handle that event once more
levee stream upgrade                                 add new subjects to an older stream (NATS admin user)
levee stream get SEQ                                 print the message at one stream sequence, as JSON
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import structlog

from events.reference import configure_reference
from services import cli_deadletters, cli_stream, cli_tokens
from services.logging_setup import configure_logging
from services.runtime.collector import tune_collector
from services.runtime.metrics import metrics_server
from services.settings import Settings, SettingsError
from services.up import contact_secret, running

if TYPE_CHECKING:
    from services.api.tokens import TokenStore

log = structlog.get_logger("services.cli")  # not __name__: it is "__main__" under `python -m`

ServiceRun = Callable[[Settings, asyncio.Event], Awaitable[None]]

# Every service `levee serve NAME` can run, and `levee up` runs each one as a child process: the module whose
# async `run(settings, stop)` returns once `stop` is set and it has drained. A new service adds one line.
# Imported only by the process that runs it: each registers its own metrics, and a triage process showed
# dispatch's deadline watcher at 0 on its /metrics (found by a review).
SERVICES: dict[str, str] = {
    "api": "services.api.app",
    "triage": "services.triage.app",
    "dispatch": "services.dispatch.app",
    "notices": "services.notices.app",
    "projector": "projections.app",
}


def service(name: str) -> ServiceRun:
    run: ServiceRun = importlib.import_module(SERVICES[name]).run
    return run


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        settings = _apply_flags(Settings.from_env(environ, is_tty=sys.stderr.isatty()), args)
    except SettingsError as exc:
        parser.exit(2, f"levee: {exc}\n")
    if args.command not in (_up, _serve):
        settings = running.fill_in(settings)  # beside a running `levee up`: use its servers
    configure_logging(settings)
    configure_reference(settings.reference_file)  # LEVEE_REFERENCE for every layer of this process
    try:
        return asyncio.run(args.command(settings, args, environ))
    except SettingsError as exc:
        log.error("bad_settings", error=str(exc))
        return 2
    except Exception:
        log.exception("levee_crashed", command=_redacted(sys.argv[1:] if argv is None else list(argv)))
        return 1


_SECRET_FLAG = re.compile(r"^--?[\w-]*(token|password|secret)[\w-]*$", re.IGNORECASE)


def _redacted(args: list[str]) -> list[str]:
    """The command line for a log line: a token (lvt_...) or the value of a --...token/password/secret flag
    becomes "***" (`levee drill --operator-token lvt_...` once logged the token whole at a crash)."""
    out: list[str] = []
    for arg in args:
        name, eq, _ = arg.partition("=")
        if eq and _SECRET_FLAG.match(name):
            out.append(f"{name}=***")
        elif arg.startswith("lvt_") or (out and _SECRET_FLAG.match(out[-1])):
            out.append("***")
        else:
            out.append(arg)
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="levee", description="Levee: emergency complaint backend")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start everything on this machine (embedded NATS and PostgreSQL)")
    up.add_argument("--port", type=int, help="HTTP port of the API (default 8080, LEVEE_HTTP_PORT)")
    up.add_argument("--host", help="HTTP address of the API (default 127.0.0.1, LEVEE_HTTP_HOST)")
    up.add_argument("--data", type=Path, help="data directory (default ./.levee, LEVEE_DATA_DIR)")
    up.set_defaults(command=_up)

    drill = commands.add_parser("drill", help="feed a reproducible surge scenario through the public API")
    drill.add_argument("scenario", help="scenario name, e.g. typhoon")
    drill.add_argument("--rate", type=float, default=50.0, help="complaints per second (default 50)")
    drill.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    drill.add_argument("--seed", type=int, default=1, help="same seed, same drill (default 1)")
    drill.add_argument("--url", help="API base URL (default: this machine's, from LEVEE_HTTP_HOST/PORT)")
    drill.add_argument(
        "--operator-token",
        help="record every call as this operator desk (default: a drill token minted for this run)",
    )
    drill.add_argument(
        "--public", action="store_true", help="submit as the public instead: rate-limited per address (429s)"
    )
    drill.add_argument("--concurrency", type=int, default=256, help="requests in flight at most")
    drill.add_argument(
        "--staff",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="simulate staff (the default; --no-staff when people play them): department desks (sign for, "
        "return, note progress, ask for time, resolve), command deciding extensions, an operator making "
        "follow-up calls",
    )
    drill.add_argument(
        "--staff-tail", type=float, default=120.0,
        help="seconds the simulated staff may work on after the last complaint, until nothing is left to do "
        "(default 120)",
    )  # fmt: skip
    drill.add_argument(
        "--retries", type=int, default=3,
        help="send a complaint answered 503 (or not at all) again, with its Idempotency-Key (default 3)",
    )  # fmt: skip
    drill.set_defaults(command=_drill)

    rebuild = commands.add_parser(
        "rebuild", help="replay the stream into fresh read-model tables and swap them in"
    )
    rebuild.add_argument("projection", choices=["read_models", "all"], help="which projection")
    rebuild.set_defaults(command=_rebuild)

    triage = commands.add_parser("triage", help="triage rules without a server")
    triage_commands = triage.add_subparsers(required=True, metavar="ACTION")
    explain = triage_commands.add_parser(
        "explain", help="read intake JSON lines on stdin, print level, score, category and factors for each"
    )
    explain.add_argument(
        "--rules",
        type=Path,
        help="a triage rules file instead of the packaged one (default LEVEE_TRIAGE_RULES)",
    )
    explain.set_defaults(command=_triage_explain)

    serve = commands.add_parser("serve", help="run one service in this process")
    serve.add_argument("name", choices=sorted(SERVICES))
    # Set by `levee up` for its children: exit when the launcher is gone instead of living on as an orphan.
    serve.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(command=_serve)

    cli_tokens.add_parser(commands)  # levee token create --role ROLE --name NAME | list | revoke TOKEN_ID
    cli_deadletters.add_parser(commands)  # levee deadletters list | retry WORKER EVENT_POSITION
    cli_stream.add_parser(commands)  # levee stream upgrade (NATS_URL with the admin user)
    return parser


def _apply_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    flags = {"http_port": getattr(args, "port", None), "http_host": getattr(args, "host", None),
             "data_dir": getattr(args, "data", None), "triage_rules": getattr(args, "rules", None)}  # fmt: skip
    changes = {key: value for key, value in flags.items() if value is not None}
    if getattr(args, "name", None) and settings.service_name == Settings().service_name:
        changes["service_name"] = args.name
    return settings.replace(**changes) if changes else settings


async def _up(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from services.cli_preflight import data_file_problem
    from services.up import launch  # only `levee up` needs the launcher

    return await launch(
        settings, services=list(SERVICES), environ=environ, stop=stop_on_signals(),
        data_file_problem=data_file_problem,
    )  # fmt: skip


async def _serve(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if not settings.contact_hash_secret and (secret := contact_secret.load_existing(settings.data_dir)):
        settings = settings.replace(contact_hash_secret=secret)  # a service run by hand beside `levee up`'s
    stop = stop_on_signals()
    watcher = asyncio.create_task(_exit_with_parent(args.parent_pid, stop)) if args.parent_pid else None
    log.info("service_starting", pid=os.getpid())
    tune_collector()
    try:
        # Workers and the projector have no HTTP server of their own: LEVEE_METRICS_PORT gives them /metrics. The
        # API serves it on its own port, with the stream's gauges: a second one there had none of them.
        port = 0 if args.name == "api" else settings.metrics_port
        async with metrics_server(settings.http_host, port, args.name):
            await service(args.name)(settings, stop)
    finally:
        if watcher is not None:
            watcher.cancel()
    return 0


async def _rebuild(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from projections.rebuild import rebuild  # it sets the collector for its replay itself

    def progress(line: str) -> None:
        # One line, redrawn in place on a terminal: events done, events/s, time left.
        sys.stderr.write(("\r" if sys.stderr.isatty() else "") + line + ("" if sys.stderr.isatty() else "\n"))
        sys.stderr.flush()

    if not settings.nats_url or not settings.database_url:
        raise SettingsError(
            "levee rebuild needs NATS_URL and DATABASE_URL (beside `levee up`: found by itself)"
        )
    try:
        await rebuild(settings, args.projection, progress)
    except (ConnectionError, OSError, asyncpg.PostgresError) as exc:
        log.error("rebuild_not_done", reason=str(exc) or type(exc).__name__)
        return 1
    sys.stderr.write("\n" if sys.stderr.isatty() else "")
    return 0


async def _triage_explain(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from services.triage.app import default_deps
    from services.triage.explain import main as explain

    # The worker's own loading: --rules (or LEVEE_TRIAGE_RULES) checked against LEVEE_REFERENCE, if set.
    try:
        deps = default_deps(settings.triage_rules, settings.reference_file)
    except (
        OSError,
        ValueError,
    ) as exc:  # TOML's errors are ValueErrors: one line saying what, not a traceback
        log.error("triage_rules_refused", rules=str(settings.triage_rules or "packaged"), reason=str(exc))
        return 1
    return explain(sys.stdin, sys.stdout, rules=deps.rules, reference=deps.reference)


async def _drill(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    import json

    from services.drill.main import DrillOptions, drill

    options = DrillOptions(
        args.scenario, rate=args.rate, duration=args.duration, seed=args.seed,
        operator_token=args.operator_token, public=args.public, staff=args.staff, concurrency=args.concurrency,
        retries=max(0, args.retries), staff_tail=max(0.0, args.staff_tail),
    )  # fmt: skip
    async with contextlib.AsyncExitStack() as stack:
        minter = await stack.enter_async_context(_token_store(settings)) if options.needs_tokens else None
        summary = await drill(args.url or settings.base_url, options, minter)
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    return 0 if summary["created"] else 1


@contextlib.asynccontextmanager
async def _token_store(settings: Settings) -> AsyncIterator[TokenStore]:
    """The API's token store on DATABASE_URL, for the drill's own tokens (minted like `levee token create`)."""
    import asyncpg

    from services.api.tokens import TokenStore

    if settings.database_url is None:
        raise SettingsError(
            "`levee drill` mints its drill tokens in the database of a running `levee up` (start one; set "
            "LEVEE_DATA_DIR if it uses another data directory) or DATABASE_URL; or pass --operator-token "
            "with --no-staff (simulated staff need their own tokens), or --public --no-staff to drill as the "
            "rate-limited public"
        )
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1, timeout=10.0)
    try:
        yield TokenStore(pool)
    finally:
        await pool.close()


def stop_on_signals() -> asyncio.Event:
    """SIGINT, SIGTERM and SIGHUP set the returned event; whoever waits on it drains and returns. SIGHUP is a
    closed terminal or SSH session: without it `levee up` died at once and left its servers running."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, _on_signal, stop, sig)
    return stop


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    log.info("signal_received", signal=sig.name)
    stop.set()


async def _exit_with_parent(parent_pid: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.warning("launcher_gone", parent_pid=parent_pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


if __name__ == "__main__":
    sys.exit(main())
