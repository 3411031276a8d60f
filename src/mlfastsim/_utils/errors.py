"""User-facing errors: one clear line saying what is wrong, where, and how to fix it."""

from __future__ import annotations

import importlib
from types import ModuleType

from mlfastsim._interrupts import Terminated

__all__ = ["FatalError", "InputError", "MissingExtraError", "Terminated", "require"]


class InputError(ValueError):
    """Bad input from the user (file, argument, configuration).

    The CLI prints ``error: <message>`` on one line and exits with status 2, never a traceback.
    The message must name what is wrong, where (file, option, key) and how to fix it.
    """


class FatalError(RuntimeError):
    """A run that cannot go on for a reason we can name (training diverged, a corrupt checkpoint found
    while writing, ...): the CLI prints ``error: <message>`` on one line and exits with status 1.

    The message says what happened, what was kept (e.g. the last good checkpoint) and what to do.
    """


class MissingExtraError(ImportError):
    """An optional dependency (an 'extra' of the package) is not installed."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module!r} is not installed; install the extra with: pip install 'mlfastsim[{extra}]'"
        ) from exc
