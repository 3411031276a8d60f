"""In-memory data contracts: jet images (CMS end-to-end convention) and hit clouds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from mlfastsim.data.checks import ValueCheck
from mlfastsim.physics.detector.geometry import CHANNELS, IMAGE_SIZE
from mlfastsim.physics.particles import PARTICLE_DTYPE

__all__ = ["HitCloud", "JetImages", "check_event_id", "concatenate_jets"]


def check_event_id(event_id: np.ndarray | None, n: int) -> np.ndarray:
    """Event ids as int64 ``[n]`` (``0 … n−1`` when None); ValueError on a wrong shape."""
    if event_id is None:
        return np.arange(n, dtype=np.int64)
    out = np.asarray(event_id, dtype=np.int64)
    if out.shape != (n,):
        raise ValueError(f"event_id must have shape [{n}], got {list(out.shape)}")
    return out


@dataclass
class JetImages:
    """A set of jet images with per-jet scalars and, optionally, generator-level particles.

    Attributes:
        images: float32 ``[N, 3, 125, 125]`` energies in GeV, channels :data:`CHANNELS`
            = (tracks pT, ECAL, HCAL), rows along η, columns along φ, centred on the jet axis.
        pt: float32 ``[N]`` jet transverse momentum (GeV), particle level.
        m0: float32 ``[N]`` jet mass (GeV), particle level.
        y: float32 ``[N]`` label (qcd: 0 quark, 1 gluon; top/W samples: 1; unknown: NaN).
        eta: float32 ``[N]`` jet-axis pseudorapidity (NaN when unknown, e.g. public files).
        phi: float32 ``[N]`` jet-axis azimuth (rad; NaN when unknown).
        gen: per-jet structured arrays of :data:`PARTICLE_DTYPE` (the generator-level particles
            that reach the image window), or None when not stored.
        attrs: provenance and configuration (JSON types): producer, version, seed, preset,
            detector constants, wall time per event, ...
        event_id: int64 ``[N]`` identity of each jet's generator-level event, kept by resimulation, sampling
            with conditions and reconstruction, so that paired metrics match events by id (never by float
            equality). Files without stored ids get their row index; jets that belong to no reference event
            (prior samples) have −1. Default: ``0 … N−1``.
    """

    value_checks: ClassVar[Mapping[str, ValueCheck]] = {
        "images": ValueCheck(nonnegative=True, what="pixel energies [GeV]"),
        "pt": ValueCheck(nonnegative=True, what="jet pT [GeV]"),
        "m0": ValueCheck(nonnegative=True, what="jet mass [GeV]"),
        "y": ValueCheck(nan_ok=True),
        "eta": ValueCheck(nan_ok=True),
        "phi": ValueCheck(nan_ok=True),
    }

    images: np.ndarray
    pt: np.ndarray
    m0: np.ndarray
    y: np.ndarray
    eta: np.ndarray = None  # type: ignore[assignment]  # None → NaN array in __post_init__
    phi: np.ndarray = None  # type: ignore[assignment]
    gen: list[np.ndarray] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    event_id: np.ndarray = None  # type: ignore[assignment]  # None → 0 … N−1 in __post_init__

    def __post_init__(self) -> None:
        n = len(self.images)
        self.event_id = check_event_id(self.event_id, n)
        if self.images.ndim != 4 or self.images.shape[1:] != (len(CHANNELS), IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"images must be [N, 3, 125, 125], got {list(self.images.shape)}")
        self.images = np.asarray(self.images, dtype=np.float32)
        for name in ("pt", "m0", "y", "eta", "phi"):
            value = getattr(self, name)
            if value is None:
                value = np.full(n, np.nan, dtype=np.float32)
            value = np.asarray(value, dtype=np.float32)
            if value.shape != (n,):
                raise ValueError(f"{name} must have shape [{n}], got {list(value.shape)}")
            setattr(self, name, value)
        if self.gen is not None:
            if len(self.gen) != n:
                raise ValueError(f"gen must hold {n} particle arrays, got {len(self.gen)}")
            self.gen = [np.asarray(g).astype(PARTICLE_DTYPE, copy=False) for g in self.gen]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray | slice) -> JetImages:
        """The jets selected by ``index`` (a slice, boolean mask or integer array)."""
        idx = np.arange(len(self))[index]
        return JetImages(
            images=self.images[idx],
            pt=self.pt[idx],
            m0=self.m0[idx],
            y=self.y[idx],
            eta=None if self.eta is None else self.eta[idx],
            phi=None if self.phi is None else self.phi[idx],
            gen=None if self.gen is None else [self.gen[i] for i in idx],
            attrs=dict(self.attrs),
            event_id=self.event_id[idx],
        )


def concatenate_jets(parts: list[JetImages]) -> JetImages:
    """Jets of several sets one after the other (e.g. shards of one sample); attributes of the first,
    with ``"concatenated_from"`` listing each part's attributes."""
    if not parts:
        raise ValueError("nothing to concatenate")
    gens = [p.gen for p in parts]
    gen = None if any(g is None for g in gens) else [x for g in gens for x in g]  # type: ignore[union-attr]
    return JetImages(
        images=np.concatenate([p.images for p in parts]),
        pt=np.concatenate([p.pt for p in parts]),
        m0=np.concatenate([p.m0 for p in parts]),
        y=np.concatenate([p.y for p in parts]),
        eta=np.concatenate([p.eta for p in parts]),
        phi=np.concatenate([p.phi for p in parts]),
        gen=gen,
        attrs={**parts[0].attrs, "concatenated_from": [p.attrs for p in parts]},
        event_id=np.concatenate([p.event_id for p in parts]),
    )


@dataclass
class HitCloud:
    """Calorimeter hits of N jets as a padded point cloud.

    Attributes:
        features: float32 ``[N, n_max, F]``; default features (η_rel, φ_rel, E) in (units of η,
            rad, GeV) relative to the image centre, hits sorted by decreasing energy; padded slots are 0.
        mask: bool ``[N, n_max]``, True for real hits.
        feature_names: names of the F features, e.g. ("eta_rel", "phi_rel", "e") or with "channel".
    """

    features: np.ndarray
    mask: np.ndarray
    feature_names: tuple[str, ...] = ("eta_rel", "phi_rel", "e")

    def __post_init__(self) -> None:
        if self.features.ndim != 3 or self.mask.shape != self.features.shape[:2]:
            raise ValueError(
                f"features must be [N, n_max, F] and mask [N, n_max]; got {list(self.features.shape)}"
                f" and {list(self.mask.shape)}"
            )
        if self.features.shape[2] != len(self.feature_names):
            raise ValueError(f"{self.features.shape[2]} features but names {self.feature_names}")

    def __len__(self) -> int:
        return len(self.features)

    @property
    def n_hits(self) -> np.ndarray:
        """int64 ``[N]`` number of real hits per jet."""
        return self.mask.sum(axis=1)
