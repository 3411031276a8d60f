"""Atomic file writes: write to a temporary file beside the target, then rename over it.

Temporary names carry the writer's process id (``.NAME.PID.XXXX.tmp``, folders ``.NAME.PID.XXXX.tmpdir``),
so the next write to the same target removes the debris of a writer that was killed (``kill -9``, power
loss) while leaving a live writer's file alone. Nothing here creates a folder before the write itself:
:func:`check_writable` probes without leaving anything behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_dir",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable",
    "check_writable_dir",
    "reap_stale_temporaries",
    "scratch_dir",
]

#: A temporary of a writer without a process id in its name (older versions) is reaped after this age.
_ANONYMOUS_MAX_AGE_S = 24 * 3600


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def reap_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporaries of ``target`` left by writers that no longer run; returns what was removed."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(?:(\d+)\.)?[^.]+\.(tmp|tmpdir|old|probe)$")
    removed = []
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match is None:
            continue
        pid = match.group(1)
        try:
            stale = (
                not _alive(int(pid)) if pid else time.time() - entry.stat().st_mtime > _ANONYMOUS_MAX_AGE_S
            )
            if not stale:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:  # raced with another reaper, or not ours to remove
            continue
        removed.append(entry)
    return removed


def _prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``target``.

    On any exception (KeyboardInterrupt, a full disk included) the temporary file is removed and the
    target is left untouched, so a reader never sees a half-written file. Stale temporaries of the same
    target (their writer is dead) are removed first.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    reap_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(prefix=_prefix(target), suffix=".tmp", dir=folder)
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


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target`` as a whole.

    A reader sees the old folder or the new one, never a mix (an existing ``target`` is renamed aside,
    the new one renamed in, the old one removed). On any exception the temporary folder is removed and
    ``target`` is left as it was.
    """
    target = Path(target)
    tmp = _new_tmpdir(target)
    folder = tmp.parent
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".old", dir=folder))
            os.replace(target, old / "x")  # rename aside (same file system: atomic)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None:
                os.replace(old / "x", target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def scratch_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a private working folder beside ``target`` (files that become ``target``, e.g. native files
    converted into a ROOT output); it is removed when the block ends, whatever happens.

    Named like :func:`atomic_dir`'s temporaries (``.NAME.PID.XXXX.tmpdir``), so that after a ``kill -9``
    the next write to ``target`` reaps it (``tempfile.TemporaryDirectory`` would stay forever).
    """
    tmp = _new_tmpdir(Path(target))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _new_tmpdir(target: Path) -> Path:
    """A new ``.NAME.PID.XXXX.tmpdir`` folder beside ``target`` (its folder created, stale ones reaped)."""
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    reap_stale_temporaries(target)
    return Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".tmpdir", dir=folder))


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(folder: Path, target: Path, option: str) -> None:
    """Create and remove a file in ``folder`` (the nearest existing ancestor of ``target``)."""
    from mlfastsim._utils.errors import InputError

    if not folder.is_dir():
        raise InputError(
            f"{option} {target} cannot be written ({folder} is not a directory); choose another path"
        )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise InputError(
            f"{option} {target} cannot be written ({exc.strerror}); choose a writable path"
        ) from None


def check_writable(
    target: str | os.PathLike[str], option: str = "--out", overwrite: bool | None = None
) -> Path:
    """Fail early, with one line, when ``target`` cannot be written (before any long work starts).

    Probes the nearest existing folder of the target with a temporary file and creates nothing.
    ``overwrite=False`` also refuses an existing target (the user must say ``--overwrite``); None
    (library callers) does not look. Raises :class:`~mlfastsim._utils.errors.InputError` naming ``option``.
    """
    from mlfastsim._utils.errors import InputError

    target = Path(target)
    if target.is_dir():
        raise InputError(f"{option} {target} is a directory; give a file path inside it")
    if overwrite is False and target.exists():
        raise InputError(f"{option} {target} exists; give --overwrite to replace it, or choose another path")
    _probe(_existing_ancestor(target.parent if str(target.parent) else Path(".")), target, option)
    return target


def check_writable_dir(
    target: str | os.PathLike[str], option: str = "--out", create: bool = True, overwrite: bool | None = None
) -> Path:
    """Like :func:`check_writable` for an output folder; creates it when ``create`` (then probes inside).

    ``overwrite=False`` refuses an existing non-empty folder.
    """
    from mlfastsim._utils.errors import InputError

    target = Path(target)
    if target.exists() and not target.is_dir():
        raise InputError(f"{option} {target} is a file, not a directory; choose a directory path")
    if overwrite is False and target.is_dir() and any(target.iterdir()):
        raise InputError(f"{option} {target} exists; give --overwrite to replace it, or choose another path")
    _probe(_existing_ancestor(target), target, option)
    if create:
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"{option} {target} cannot be created ({exc.strerror}); choose another path"
            ) from None
        _probe(target, target, option)
    return target


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))
