"""The ``mlfastsim`` command: parses arguments and hands over to the library; every failure is one line.

Exit status: 0 success, 1 a failure we can name (a full disk, a read-only file system, a diverged training,
an internal error), 2 bad input (arguments, configuration, files), 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM, handled like Ctrl-C). No traceback reaches the user unless ``--debug`` (or ``MLFASTSIM_DEBUG=1``)
asks for it.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from mlfastsim._interrupts import Terminated

__all__ = ["Terminated", "build_parser", "describe_os_error", "main"]

#: Subcommand modules in ``mlfastsim.cli``; each defines ``add_parser(subparsers)`` which
#: registers its parser and sets ``func=run`` where ``run(args) -> int``.
COMMANDS = ("generate", "inspect", "train", "sample", "score", "evaluate", "export", "bench", "merge", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the usage stays in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand whose module exists."""
    from mlfastsim._utils.provenance import package_version

    parser = _Parser(
        prog="mlfastsim",
        description="Machine-learning fast simulation of particle-physics detectors.",
    )
    parser.add_argument("--version", action="version", version=f"mlfastsim {package_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"mlfastsim.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mlfastsim.cli.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def describe_os_error(exc: OSError) -> str:
    """One line for a failed file operation: what, where and what to do."""
    text = " ".join(str(exc).split())
    code = exc.errno
    if code is None:  # h5py and others put the errno in the text
        for number in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
            if f"errno = {number}" in text or os.strerror(number) in text:
                code = number
                break
    where = f" ({exc.filename})" if exc.filename else ""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the device{where}; free space or choose another --out (no partial file kept)"
        )
    if code == errno.EROFS:
        return f"read-only file system{where}; choose a writable --out"
    if code == errno.EACCES:
        return f"permission denied{where}; choose a writable path"
    return f"{exc.strerror or text}{where}"


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the exit status (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[:1] or os.environ.get("MLFASTSIM_DEBUG", "") not in ("", "0")
    previous = signal.getsignal(signal.SIGTERM)
    in_main = _is_main_thread()
    if in_main:
        signal.signal(signal.SIGTERM, _terminate)
    try:  # the imports are inside: Ctrl-C while torch and the families load is one line too
        from mlfastsim._utils.errors import FatalError, InputError, MissingExtraError

        try:
            args = build_parser().parse_args(argv)
            debug = debug or args.debug
            return int(args.func(args) or 0)
        except (InputError, MissingExtraError) as exc:
            return _fail(debug, exc, str(exc), 2)
        except FatalError as exc:
            return _fail(debug, exc, str(exc), 1)
    except Terminated as exc:
        return _fail(
            debug, exc, "terminated (SIGTERM); cleaned up, nothing half-written was left behind", 143
        )
    except KeyboardInterrupt as exc:
        return _fail(debug, exc, "interrupted; nothing half-written was left behind", 130)
    except OSError as exc:
        return _fail(debug, exc, describe_os_error(exc), 1)
    except MemoryError as exc:
        return _fail(debug, exc, "out of memory; use fewer events (--max-events) or smaller batches", 1)
    except Exception as exc:
        first = " ".join(str(exc).split())[:300]
        message = f"internal error ({type(exc).__name__}: {first}); rerun with --debug for the traceback"
        return _fail(debug, exc, message, 1)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _fail(debug: bool, exc: BaseException, message: str, code: int) -> int:
    if debug:
        raise exc
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
