"""Atomic file writes: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "check_writable"]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``target``.

    On any exception (KeyboardInterrupt included) the temporary file is removed and the
    target is left untouched, so a reader never sees a half-written file.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a finished file gets the usual permissions
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(target: str | os.PathLike[str], option: str = "--out") -> Path:
    """Fail early, with one line, when ``target`` cannot be written (before any long work starts).

    Creates the parent folder if needed and probes it with a temporary file.
    Raises :class:`~mlfastsim._utils.errors.InputError` naming ``option`` and the reason.
    """
    from mlfastsim._utils.errors import InputError

    target = Path(target)
    if target.is_dir():
        raise InputError(f"{option} {target} is a directory; give a file path inside it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise InputError(
            f"{option} {target} cannot be written ({exc.strerror}); choose a writable path"
        ) from None
    return target


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))
