"""The `iggt` command line: a thin dispatcher over subcommand modules in `app/commands/`.

Each module in `app/commands/` defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Exit codes: 0 ok, 1 user error (one-line message; a bad command line too), 2 internal error (traceback
with ``--debug``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from app import __version__
from app.errors import UserError

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 2
EXIT_INTERRUPTED = 130

log = logging.getLogger(__name__)


def _command_modules() -> list[ModuleType]:
    import app.commands as pkg

    modules = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"app.commands.{info.name}")
        if all(hasattr(module, attr) for attr in ("NAME", "HELP", "add_arguments", "run")):
            modules.append(module)
    return modules


class _UsageError(Exception):
    """A bad command line (unknown command or option, bad option value): a user error."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as user errors (exit 1, one line) instead of its own exit 2, which this
    CLI keeps for internal errors."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(message, self.prog)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="iggt",
        description="IGGT Viewer command line: semantic 3D reconstruction of rooms from photos.",
    )
    parser.add_argument("--version", action="version", version=f"iggt-viewer {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from app.display import for_terminal, safe_console

    safe_console()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        prog = exc.prog
        if prog == parser.prog:  # e.g. unrecognized arguments: point at the command's own help
            names = {m.NAME for m in _command_modules()}
            command = next((a for a in (sys.argv[1:] if argv is None else argv) if a in names), None)
            prog = f"{parser.prog} {command}" if command else prog
        print(f"error: {for_terminal(exc)} (see: {prog} --help)", file=sys.stderr)
        return EXIT_USER_ERROR
    from app.logging_setup import configure_logging

    configure_logging(debug=args.debug, console=True)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USER_ERROR
    from model.atomic_write import USER_ERRNOS
    from model.errors import IGGTError

    try:
        return int(args._run(args) or EXIT_OK)
    except (UserError, IGGTError) as exc:
        print(f"error: {for_terminal(exc)}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in USER_ERRNOS:
            # disk full, read-only, no permission: the user's to fix, not a bug
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {for_terminal(where)}{exc.strerror or exc}", file=sys.stderr)
            if args.debug:
                traceback.print_exc()
            return EXIT_USER_ERROR
        log.exception("internal error")
        print(f"internal error: {type(exc).__name__}: {for_terminal(exc)}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        else:
            print("run again with --debug for details", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
