"""Progress bars for long work (tqdm on stderr, quiet when not attached to a terminal unless asked)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

__all__ = ["progress"]

T = TypeVar("T")


def progress(
    iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None, **kw: Any
) -> tqdm:
    """A tqdm progress bar; disabled when ``MLFASTSIM_PROGRESS=0`` or stderr is not a terminal.

    Set ``MLFASTSIM_PROGRESS=1`` to force it on (e.g. in logs of batch jobs).
    """
    flag = os.environ.get("MLFASTSIM_PROGRESS")
    disable: bool | None = None if flag is None else flag == "0"
    return tqdm(iterable, desc=desc, total=total, disable=disable, dynamic_ncols=True, **kw)
