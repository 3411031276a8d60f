"""The run directory's guards: one run per directory, one training at a time, and a resume that continues
the same run.

* A directory that holds another run's files (``last.pt``, ``best.pt``, ``config.json``,
  ``metrics.jsonl``) is refused unless the user resumes that run or asks to overwrite it (then those files
  go first, so a stale ``best.pt`` can never outlive its run).
* A lock (``fcntl.flock`` on ``RUN/.lock``, released by the kernel when the process dies, even by
  ``kill -9``) stops a second process training into the same directory (a torchrun job's ranks are one
  training: rank 0 holds the lock).
* ``--resume`` refuses what would change what is trained: the family, the data kind, the data file
  (:func:`file_fingerprint`), the ``[data]`` settings, the model settings and the fitted normaliser. The
  trainer applies or refuses changed training settings (:mod:`.trainer`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlfastsim._utils import InputError, jsonable
from mlfastsim._utils.atomic import check_writable_dir

__all__ = [
    "RUN_FILES",
    "check_same_model",
    "check_same_run",
    "check_training_data",
    "claim_run_dir",
    "file_fingerprint",
    "first_difference",
]

#: The files a training run writes into its directory.
RUN_FILES = ("last.pt", "best.pt", "config.json", "metrics.jsonl")

_FINGERPRINT_BYTES = 4 << 20


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    """Size and SHA-256 of the first and last 4 MiB of a data file (cheap for large files; any rewrite
    of the events changes the size or the hashed bytes in practice, as the trailing index moves)."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(_FINGERPRINT_BYTES))
        if size > 2 * _FINGERPRINT_BYTES:
            fh.seek(size - _FINGERPRINT_BYTES)
        h.update(fh.read(_FINGERPRINT_BYTES))
    return {"size": size, "sha256_ends": h.hexdigest()}


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (documented)
        yield
        return
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise InputError(
                f"--out {out}: another process (pid {holder}) is training into this directory; "
                "wait for it to finish or choose another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def claim_run_dir(out: str | Path, resume: bool, overwrite: bool) -> Iterator[Path]:
    """Hold ``out`` for one training: writable (checked before any data is read), locked, and either
    free of another run's files, being resumed (``last.pt`` present), or cleared (``overwrite``).

    One-line InputError otherwise. The lock is held until the block ends; a directory this call created is
    removed again when the block fails before writing anything into it (bad data: no debris). Under
    torchrun only rank 0 (the one that writes) claims the directory; the other ranks pass through.
    """
    created = not Path(out).exists()
    out = check_writable_dir(out, "--out")
    if int(os.environ.get("RANK", "0")) != 0:
        yield out
        return
    try:
        with _lock(out):
            _check_contents(out, resume, overwrite)
            yield out
    except BaseException:
        if created and {p.name for p in out.iterdir()} <= {".lock"}:
            (out / ".lock").unlink(missing_ok=True)
            out.rmdir()
        raise


def _check_contents(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse another run's files (unless ``overwrite``: they are removed) or a resume without ``last.pt``."""
    present = [name for name in RUN_FILES if (out / name).exists()]
    if resume:
        if overwrite:
            raise InputError("--resume and --overwrite contradict each other; give one of them")
        if not (out / "last.pt").exists():
            raise InputError(f"--resume: {out}/last.pt not found; train without --resume first")
    elif present:
        if not overwrite:
            raise InputError(
                f"--out {out} holds another run ({', '.join(present)}); continue it with --resume, "
                "choose a new --out, or replace it with --overwrite"
            )
        for name in present:
            (out / name).unlink()


def first_difference(old: Any, new: Any, where: str = "") -> tuple[str, Any, Any] | None:
    """The first (dotted key, old value, new value) where two JSON-like values differ, or None."""
    old, new = jsonable(old), jsonable(new)
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            found = first_difference(old.get(key), new.get(key), f"{where}.{key}" if where else key)
            if found is not None:
                return found
        return None
    return None if old == new else (where, old, new)


def check_same_run(
    ckpt: Mapping[str, Any], family: str, kind: str, data: Any, data_path: str | Path, train: Any = None
) -> None:
    """Refuse (one line) to resume ``ckpt`` with another family, data kind, ``[data]`` settings, data
    file or a training setting that cannot change (:data:`.resume.REFUSED`); called before the data is
    read."""
    from mlfastsim.training.resume import changed_train_settings

    extra = ckpt.get("extra") or {}
    old = extra.get("run_config") or {}
    if train is not None:
        changed_train_settings((ckpt.get("config") or {}).get("train", {}), train)
    for key, value in (("family", family), ("kind", kind)):
        if key in old and old[key] != value:
            raise InputError(
                f"--resume: the run trained {key} {old[key]!r}, not {value!r}; resume it as it was"
            )
    diff = first_difference(old.get("data", {}), data, "data") if "data" in old else None
    if diff is not None:
        raise InputError(
            f"--resume: {diff[0]}={json.dumps(diff[2])} differs from the run's {json.dumps(diff[1])}; "
            "it changes what is trained: start a new run (new --out or --overwrite)"
        )
    stored = extra.get("data_fingerprint")
    if stored is not None and stored != file_fingerprint(data_path):
        raise InputError(
            f"--resume: --data {data_path} is not the file the run was trained on "
            f"({extra.get('data_path', '?')}, {stored['size']} bytes); resume with that file or start a new run"
        )


def check_same_model(ckpt: Mapping[str, Any], model: Any, codec: Mapping[str, Any]) -> None:
    """Refuse (one line) to resume ``ckpt`` with other model settings or another fitted normaliser."""
    old = (ckpt.get("extra") or {}).get("run_config") or {}
    diff = first_difference(old.get("model", {}), model, "model") if "model" in old else None
    if diff is not None:
        raise InputError(
            f"--resume: {diff[0]}={json.dumps(diff[2])} differs from the run's {json.dumps(diff[1])}; "
            "resume with the run's model settings or start a new run"
        )
    stored = (ckpt.get("extra") or {}).get("codec")
    if stored is not None and first_difference(stored, codec) is not None:
        raise InputError(
            "--resume: the normaliser fitted on this data differs from the run's; "
            "resume with the run's data and [data] settings or start a new run"
        )


def check_training_data(tensors: Mapping[str, Any], where: str) -> None:
    """Refuse (one line) encoded training data with non-finite values (e.g. a normaliser fitted on
    degenerate events) or whose every floating tensor is constant (all-zero events: nothing to learn)."""
    import torch

    floats = {k: t for k, t in tensors.items() if isinstance(t, torch.Tensor) and t.is_floating_point()}
    for key, t in floats.items():
        bad = ~torch.isfinite(t.reshape(len(t), -1)).all(dim=1) if t.ndim else ~torch.isfinite(t)
        if bad.any():
            first = int(torch.nonzero(bad.reshape(-1))[0])
            raise InputError(
                f"{where}: the encoded training data '{key}' is not finite (training event {first}, "
                f"{int(bad.sum())} events); check the file for degenerate events (all zero, NaN)"
            )
    if floats and all(t.numel() == 0 or bool((t == t.reshape(-1)[0]).all()) for t in floats.values()):
        raise InputError(
            f"{where}: every training event is the same (e.g. all zero); nothing to learn — check the file"
        )
