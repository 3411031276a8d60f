"""Format detection and layout checks shared by the Parquet and HDF5 readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.physics.detector.geometry import CHANNELS, HCAL_TOWER_CRYSTALS, IMAGE_SIZE

__all__ = ["ATTRS_KEY", "channels_first", "check_channel_order", "detect_format", "format_for_suffix"]

#: Key under which the attributes (JSON) are stored: Parquet schema metadata / HDF5 file attribute.
ATTRS_KEY = "mlfastsim"

_MAGIC = {b"PAR1": "parquet", b"\x89HDF\r\n\x1a\n": "hdf5", b"root": "root"}
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".h5": "hdf5", ".hdf5": "hdf5"}


def format_for_suffix(path: str | Path, fmt: str | None = None) -> str:
    """The output format for ``path``: ``fmt`` if given, else from the suffix; one-line InputError otherwise."""
    if fmt is not None:
        if fmt not in ("parquet", "hdf5"):
            raise InputError(f"--format {fmt!r}: choose parquet or hdf5")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(f"{path}: unknown suffix {suffix!r}; use .parquet, .h5 or .hdf5 (or give --format)")
    return _SUFFIXES[suffix]


def detect_format(path: str | Path) -> str:
    """``"parquet"``, ``"hdf5"`` or ``"root"`` from the file's first bytes (not its name)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give a data file (.parquet or .h5)")
    with path.open("rb") as f:
        head = f.read(8)
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    if not head:
        raise InputError(f"{path}: empty file; regenerate it")
    raise InputError(
        f"{path}: neither Parquet, HDF5 nor ROOT (first bytes {head[:4]!r}); "
        "give a data file written by mlfastsim or a public one"
    )


def channels_first(shape: tuple[int, ...], where: str) -> bool:
    """Whether an image block of ``shape`` (``[..., 3, 125, 125]`` or ``[..., 125, 125, 3]``) is channels-first."""
    c, s = len(CHANNELS), IMAGE_SIZE
    if tuple(shape[-3:]) == (c, s, s):
        return True
    if tuple(shape[-3:]) == (s, s, c):
        return False
    raise InputError(
        f"{where}: images have shape {list(shape)}; expected [N, 3, 125, 125] or [N, 125, 125, 3] "
        "(channels tracks pT, ECAL, HCAL on 125 × 125 crystals)"
    )


def _block_constancy(channel: np.ndarray) -> float:
    """Fraction of non-zero pixels equal to their right neighbour inside a 5 × 5 tower: ~0.8 for HCAL."""
    k = HCAL_TOWER_CRYSTALS
    left, right = channel[..., :, :-1], channel[..., :, 1:]
    inside = (np.arange(IMAGE_SIZE - 1) % k) != k - 1
    nonzero = (left != 0) & inside
    if nonzero.sum() == 0:
        return float("nan")
    equal = np.isclose(left, right, rtol=1e-5, atol=0.0) & nonzero
    return float(equal.sum() / nonzero.sum())


def check_channel_order(images: np.ndarray, where: str) -> None:
    """Check that channel 2 is the HCAL (tower-granular) channel and no other is; InputError if not.

    The HCAL channel spreads each tower evenly over its 5 × 5 crystals, so neighbouring pixels inside a
    tower are equal; tracks and ECAL pixels almost never are. Undecidable cases (empty channels, towers
    not aligned with the window) pass.

    Args:
        images: float ``[N, 3, 125, 125]`` (a few events suffice).
        where: file name for the message.
    """
    scores = [_block_constancy(images[:, c]) for c in range(images.shape[1])]
    best = int(np.nanargmax(scores)) if not np.all(np.isnan(scores)) else 2
    if best != 2 and scores[best] > 0.5 and not (scores[2] > 0.5):
        names = ", ".join(f"{CHANNELS[i]}={s:.2f}" for i, s in enumerate(scores))
        raise InputError(
            f"{where}: channel {best} looks like the HCAL (tower-granular; block constancy {names}); "
            f"expected channel order {CHANNELS}; reorder the channels of the file"
        )
