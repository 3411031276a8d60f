"""Particle-jet files (HDF5): our two-level JetNet layout, the public JetNet and HLS4ML files, and a sniffer.

Our layout (written by :mod:`.writer`)::

    gen/particle_features   float32 [N, P, 4]  (η_rel, φ_rel, pT_rel, mask)   } each level present;
    gen/jet_features        float32 [N, 4]     (pT GeV, η, mass GeV, n)       } attribute feature_names
    reco/particle_features, reco/jet_features   the same, detector level (NaN jet features: unmatched)
    y                       float32 [N]        label (0: g, q; 1: t, w, z)
    event_id                int64   [N]
    gen_axis                float64 [N, 2]     (η, φ) of the generator-level jet axis      } with the
    regions/particles       PARTICLE_DTYPE [M] every jet's detector input, one after another  } regions
    regions/offsets         int64   [N+1]      jet i's region is particles[offsets[i]:offsets[i+1]]
    file attribute ``mlfastsim``: the attributes as JSON (provenance; as in jet-image files)

every dataset chunked with Fletcher-32 checksums, the particle arrays gzip-compressed.

Public files read as the ``gen`` level:

* JetNet (Kansal et al. 2021, Zenodo 6975118): ``particle_features [N, P, 4]`` and ``jet_features [N, 4]``
  at the root; the jet type (g, q, t, w, z) from our attributes, a ``jet_type`` attribute or the file name
  (``t.hdf5``, ``g150.hdf5``), else the label is NaN.
* HLS4ML LHC jets (Zenodo 3602260): ``jetConstituentList [N, P, 16]`` with ``particleFeatureNames`` (17
  names for 16 columns, ``j1_pdgid`` last) and ``jets [N, 59]`` with ``jetFeatureNames``; columns found by
  name (``j1_etarel``, ``j1_phirel``, ``j1_ptrel``; ``j_pt``, ``j_eta``, ``j_mass``; labels ``j_g j_q j_w j_z
  j_t``). Real constituents have pT_rel > 0, sorted here by decreasing pT_rel. Each jet's class is kept in
  its event id: ``event_id = class · 2³² + row`` with class the index in :data:`HLS4ML_CLASSES` (5: none);
  :func:`jet_classes` decodes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.data.io.layout import ATTRS_KEY, detect_format
from mlfastsim.data.kinds.particle_jets.container import (
    JET_FEATURES,
    LEVELS,
    PARTICLE_FEATURES,
    ParticleJets,
    concatenate_particle_jets,
)
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = [
    "CLASS_STRIDE",
    "HLS4ML_CLASSES",
    "file_layout",
    "iter_particle_jets",
    "jet_classes",
    "label_of_class",
    "read_particle_jets",
    "region_counts",
    "sniff_particle_jets",
]

#: Jet classes of the HLS4ML one-hot columns ``j_g j_q j_w j_z j_t``, in this order.
HLS4ML_CLASSES = ("g", "q", "w", "z", "t")
#: HLS4ML event ids: ``class index · CLASS_STRIDE + row``.
CLASS_STRIDE = 2**32
_SIGNAL_CLASSES = ("t", "w", "z")
_MARKERS = ("gen/particle_features", "reco/particle_features", "particle_features", "jetConstituentList")
_HLS4ML_PARTICLE = ("j1_etarel", "j1_phirel", "j1_ptrel")
_HLS4ML_JET = ("j_pt", "j_eta", "j_mass")
_AXIS_NAMES = ("eta", "phi")


def label_of_class(name: str | None) -> float:
    """y of a jet class: 0 for g, q; 1 for t, w, z; NaN for anything else."""
    if name in _SIGNAL_CLASSES:
        return 1.0
    return 0.0 if name in ("g", "q") else float("nan")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@contextlib.contextmanager
def _open(path: Path) -> Iterator[h5py.File]:
    """The HDF5 file, read-only; one-line InputError when it cannot be opened or read."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(
            f"{path}: unreadable HDF5 file (truncated or corrupt: {_one_line(exc)}); regenerate it"
        ) from None
    with f:
        yield f


def sniff_particle_jets(path: str | os.PathLike[str]) -> bool:
    """True for HDF5 files with particle-jet data (ours, JetNet or HLS4ML) and no jet images (``X_jets``)."""
    if detect_format(Path(path)) != "hdf5":
        return False
    try:
        with h5py.File(path, "r") as f:
            return "X_jets" not in f and any(marker in f for marker in _MARKERS)
    except OSError:
        return False


def file_layout(path: str | os.PathLike[str]) -> str:
    """The layout of a particle-jet file: ``"mlfastsim"``, ``"jetnet"`` or ``"hls4ml"`` (module docstring);
    one-line InputError for other files."""
    path = Path(path)
    if detect_format(path) != "hdf5":
        raise InputError(f"{path}: particle jets are read from HDF5 files (.h5), not Parquet")
    with _open(path) as f:
        return _layout(f, path)


def _layout(f: h5py.File, where: Path | str) -> str:
    if any(f"{level}/particle_features" in f for level in LEVELS):
        return "mlfastsim"
    if "particle_features" in f:
        return "jetnet"
    if "jetConstituentList" in f:
        return "hls4ml"
    raise InputError(
        f"{where}: no particle-jet data (has: {', '.join(list(f)[:8]) or 'nothing'}); expected gen/ and "
        "reco/ groups, JetNet's particle_features or HLS4ML's jetConstituentList"
    )


def _texts(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(np.asarray(values))]


def _attrs(f: h5py.File, where: Path) -> dict[str, Any]:
    raw = f.attrs.get(ATTRS_KEY)
    if raw is None:
        return {}
    try:
        attrs = json.loads(raw)
    except (TypeError, ValueError):
        raise InputError(f"{where}: attribute {ATTRS_KEY!r} is not valid JSON; regenerate the file") from None
    return attrs if isinstance(attrs, dict) else {}


def _dataset(f: h5py.File, name: str, where: Path, shape: tuple[int | None, ...]) -> h5py.Dataset:
    """Dataset ``name`` checked against ``shape`` (None: any size); one-line InputError otherwise."""
    ds = f.get(name)
    if not isinstance(ds, h5py.Dataset):
        raise InputError(f"{where}: no dataset {name!r}; the file is incomplete, regenerate it")
    if len(ds.shape) != len(shape) or any(
        s is not None and s != d for s, d in zip(shape, ds.shape, strict=True)
    ):
        want = ", ".join("*" if s is None else str(s) for s in shape)
        raise InputError(
            f"{where}: {name} has shape {list(ds.shape)}, expected [{want}]; not a particle-jet file"
        )
    return ds


def _check_names(ds: h5py.Dataset, expected: tuple[str, ...], where: Path) -> None:
    if "feature_names" in ds.attrs and tuple(_texts(ds.attrs["feature_names"])) != expected:
        raise InputError(
            f"{where}: {ds.name} has columns {_texts(ds.attrs['feature_names'])}, expected {list(expected)}"
        )


def _process_of(f: h5py.File, attrs: dict[str, Any], path: Path) -> str | None:
    """The JetNet jet type of a public file: from our attributes, a ``jet_type`` attribute or the name."""
    process = attrs.get("config", {}).get("process") if isinstance(attrs.get("config"), dict) else None
    if process is None and "jet_type" in f.attrs:
        process = _texts(f.attrs["jet_type"])[0]
    if process is None:
        match = re.fullmatch(r"([gqtwz])(\d*)", path.stem.lower())
        process = match.group(1) if match else None
    return None if process is None else str(process).lower()


class _Reader:
    """Rows ``lo:hi`` of one file as :class:`ParticleJets` (the layout checked once, on construction)."""

    def __init__(self, f: h5py.File, path: Path, regions: bool) -> None:
        self.f, self.path, self.layout = f, path, _layout(f, path)
        self.attrs = _attrs(f, path)
        getattr(self, f"_setup_{self.layout}")(regions)

    def _setup_mlfastsim(self, regions: bool) -> None:
        f, path = self.f, self.path
        self.levels = [lv for lv in LEVELS if f"{lv}/particle_features" in f]
        first = _dataset(f, f"{self.levels[0]}/particle_features", path, (None, None, 4))
        self.n, p = first.shape[:2]
        self.ds: dict[str, h5py.Dataset] = {}
        for lv in self.levels:
            self.ds[lv] = _dataset(f, f"{lv}/particle_features", path, (self.n, p, len(PARTICLE_FEATURES)))
            self.ds[f"{lv}_jets"] = _dataset(f, f"{lv}/jet_features", path, (self.n, len(JET_FEATURES)))
            _check_names(self.ds[lv], PARTICLE_FEATURES, path)
            _check_names(self.ds[f"{lv}_jets"], JET_FEATURES, path)
        self.ds["y"] = _dataset(f, "y", path, (self.n,))
        self.ds["event_id"] = _dataset(f, "event_id", path, (self.n,))
        self.axis = _dataset(f, "gen_axis", path, (self.n, 2)) if "gen_axis" in f else None
        self.offsets = None
        if regions and "regions" in f:
            if self.axis is None:
                raise InputError(f"{path}: regions stored without gen_axis; regenerate the file")
            self.offsets = _dataset(f, "regions/offsets", path, (self.n + 1,))
            self.particles = _dataset(f, "regions/particles", path, (None,))

    def _setup_jetnet(self, regions: bool) -> None:
        f, path = self.f, self.path
        self.pf = _dataset(f, "particle_features", path, (None, None, len(PARTICLE_FEATURES)))
        self.n = self.pf.shape[0]
        self.jf = _dataset(f, "jet_features", path, (self.n, len(JET_FEATURES)))
        process = _process_of(f, self.attrs, path)
        self.y = label_of_class(process)
        self.attrs = {**self.attrs, "source_layout": "jetnet", "source": str(path)}
        if process is not None:
            self.attrs["config"] = {**self.attrs.get("config", {}), "process": process}

    def _setup_hls4ml(self, regions: bool) -> None:
        f, path = self.f, self.path
        self.pf = _dataset(f, "jetConstituentList", path, (None, None, None))
        self.n = self.pf.shape[0]
        self.jf = _dataset(f, "jets", path, (self.n, None))
        self.cols = self._columns("particleFeatureNames", self.pf.shape[2], _HLS4ML_PARTICLE)
        jet_cols = self._columns("jetFeatureNames", self.jf.shape[1], _HLS4ML_JET)
        self.jet_cols = [jet_cols[name] for name in _HLS4ML_JET]
        self.class_cols = [jet_cols.get(f"j_{c}") for c in HLS4ML_CLASSES]
        classes = {"names": [*HLS4ML_CLASSES, "undef"], "event_id_stride": CLASS_STRIDE}
        self.attrs = {**self.attrs, "source_layout": "hls4ml", "source": str(path), "jet_classes": classes}

    def _columns(self, names_key: str, n_columns: int, needed: tuple[str, ...]) -> dict[str, int]:
        """Column of each name (HLS4ML lists one more name than columns: the trailing ``j1_pdgid``)."""
        if names_key not in self.f:
            raise InputError(f"{self.path}: no {names_key!r} dataset; cannot find the HLS4ML columns by name")
        columns = {n: i for i, n in enumerate(_texts(self.f[names_key][()])) if i < n_columns}
        missing = [n for n in needed if n not in columns]
        if missing:
            raise InputError(
                f"{self.path}: {names_key} lacks {', '.join(missing)} (has {', '.join(columns)})"
            )
        return columns

    def read(self, lo: int, hi: int) -> ParticleJets:
        """Jets ``lo … hi-1``; one-line InputError for unreadable or inconsistent data."""
        try:
            return getattr(self, f"_read_{self.layout}")(lo, hi)
        except InputError:
            raise
        except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise InputError(
                f"{self.path}: unreadable data in jets {lo}–{hi} (truncated or corrupt: {_one_line(exc)}); "
                "regenerate the file"
            ) from None

    def _read_mlfastsim(self, lo: int, hi: int) -> ParticleJets:
        levels = {name: self.ds[name][lo:hi] for lv in self.levels for name in (lv, f"{lv}_jets")}
        regions = axis = None
        if self.axis is not None:
            axis = self.axis[lo:hi]
        if self.offsets is not None:
            offsets = self.offsets[lo : hi + 1]
            if offsets[0] < 0 or np.any(np.diff(offsets) < 0) or offsets[-1] > self.particles.shape[0]:
                raise InputError(
                    f"{self.path}: regions/offsets inconsistent in jets {lo}–{hi}; regenerate it"
                )
            flat = self.particles[offsets[0] : offsets[-1]]
            if flat.dtype != PARTICLE_DTYPE:
                raise InputError(
                    f"{self.path}: regions/particles has fields {flat.dtype.names}; regenerate it"
                )
            rel = offsets - offsets[0]
            regions = [flat[rel[i] : rel[i + 1]] for i in range(hi - lo)]
        y, ids = self.ds["y"][lo:hi], self.ds["event_id"][lo:hi]
        return ParticleJets(**levels, y=y, event_id=ids, regions=regions, gen_axis=axis, attrs=self.attrs)

    def _read_jetnet(self, lo: int, hi: int) -> ParticleJets:
        ids = np.arange(lo, hi, dtype=np.int64)
        y = np.full(hi - lo, self.y, np.float32)
        return ParticleJets(gen=self.pf[lo:hi], gen_jets=self.jf[lo:hi], y=y, event_id=ids, attrs=self.attrs)

    def _read_hls4ml(self, lo: int, hi: int) -> ParticleJets:
        block = np.asarray(self.pf[lo:hi], dtype=np.float64)
        eta, phi, pt = (block[..., self.cols[name]] for name in _HLS4ML_PARTICLE)
        mask = pt > 0
        order = np.argsort(np.where(mask, -pt, np.inf), axis=1, kind="stable")
        feats = np.stack([eta, phi, pt, mask.astype(np.float64)], axis=-1) * mask[..., None]
        particles = np.take_along_axis(feats, order[..., None], axis=1)
        jets = np.asarray(self.jf[lo:hi], dtype=np.float64)
        jet_features = np.concatenate([jets[:, self.jet_cols], mask.sum(1, keepdims=True)], axis=1)
        onehot = np.stack(
            [jets[:, c] if c is not None else np.zeros(hi - lo) for c in self.class_cols], axis=1
        )
        cls = np.where(onehot.max(axis=1) > 0, onehot.argmax(axis=1), len(HLS4ML_CLASSES))
        y = np.array([label_of_class(c) for c in (*HLS4ML_CLASSES, None)], np.float32)[cls]
        ids = cls.astype(np.int64) * CLASS_STRIDE + np.arange(lo, hi)
        return ParticleJets(gen=particles, gen_jets=jet_features, y=y, event_id=ids, attrs=self.attrs)


def iter_particle_jets(
    path: str | os.PathLike[str],
    max_events: int | None = None,
    batch_size: int | None = 4096,
    regions: bool = True,
) -> Iterator[ParticleJets]:
    """The first ``max_events`` jets (all when None) of a particle-jet file, in batches of ``batch_size``
    (None: one batch); ``regions=False`` skips the stored regions. Only the rows asked for are read."""
    path = Path(path)
    if max_events is not None and max_events <= 0:
        raise InputError(f"--max-events must be positive, got {max_events}")
    if detect_format(path) != "hdf5":
        raise InputError(f"{path}: particle jets are read from HDF5 files (.h5), not Parquet")
    with _open(path) as f:
        reader = _Reader(f, path, regions)
        stop = reader.n if max_events is None else min(max_events, reader.n)
        step = max(stop, 1) if batch_size is None else batch_size
        for lo in range(0, stop, step):
            yield reader.read(lo, min(lo + step, stop))


def read_particle_jets(path: str | os.PathLike[str], max_events: int | None = None) -> ParticleJets:
    """All jets (or the first ``max_events``) of a particle-jet file (any layout of the module docstring)."""
    parts = list(iter_particle_jets(path, max_events, batch_size=None))
    if not parts:
        raise InputError(f"{path}: holds no jets; regenerate it")
    if len(parts) == 1:
        return parts[0]
    out = concatenate_particle_jets(parts)
    out.attrs = parts[0].attrs
    return out


def region_counts(path: str | os.PathLike[str], max_events: int | None = None) -> np.ndarray | None:
    """Particles in each stored region (int64 ``[N]``), reading the offsets only; None when none stored."""
    path = Path(path)
    with _open(path) as f:
        if _layout(f, path) != "mlfastsim" or "regions/offsets" not in f:
            return None
        try:
            offsets = f["regions/offsets"][: None if max_events is None else max_events + 1]
        except OSError as exc:
            raise InputError(
                f"{path}: unreadable regions/offsets ({_one_line(exc)}); regenerate it"
            ) from None
        return np.diff(offsets.astype(np.int64))


def jet_classes(jets: ParticleJets) -> np.ndarray:
    """Each jet's class name (``[N]`` str): decoded from the event id for HLS4ML files, else the file's
    process (``attrs["config"]["process"]``), else ``""``."""
    classes = jets.attrs.get("jet_classes")
    if isinstance(classes, dict) and "names" in classes:
        names = np.array([*classes["names"], ""])
        index = jets.event_id // int(classes.get("event_id_stride", CLASS_STRIDE))
        return names[np.where((index >= 0) & (index < len(names) - 1), index, len(names) - 1)]
    config = jets.attrs.get("config")
    process = config.get("process", "") if isinstance(config, dict) else ""
    return np.full(len(jets), str(process or ""))
