"""User-facing errors: one clear line saying what is wrong, where, and how to fix it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["InputError", "MissingExtraError", "require"]


class InputError(ValueError):
    """Bad input from the user (file, argument, configuration).

    The CLI prints ``error: <message>`` on one line and exits with status 2, never a traceback.
    The message must name what is wrong, where (file, option, key) and how to fix it.
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
