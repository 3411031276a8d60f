"""The codec of the ``pid`` kind: tracks ↔ normalised model tensors, with scikit-learn's ``QuantileTransformer``
to a normal distribution on inputs and outputs, as LHCb's RICH GANs use (Maevskiy et al., arXiv:1905.11825).

Model tensors (batch keys, :mod:`mlfastsim.models.base`):
  ``features [N, 5]``  the outputs in the codec's basis, quantile-transformed to N(0, 1) per column;
  ``mask [N]``         all True (one track per row; the key keeps the table compatible with the masked kinds);
  ``cond [N, C]``      quantile-transformed (P, η, nTracks), then the charge (±1) when ``data.use_charge``,
                       then the species one-hot (e, μ, π, K, p): one model for every species, then (with
                       ``data.thresholds``) the seven threshold flags;
  ``weight [N]``       the per-track weights.

Output basis ``differences`` (default): (DLL_e, DLL_μ, DLL_K, DLL_p − DLL_K, DLL_bt − DLL_p). Below their
thresholds the K, p and below-threshold hypotheses predict the same (no) light, so DLL_K = DLL_p for p below
the kaon threshold and DLL_p = DLL_bt below the proton threshold — exactly, for a half and four fifths of the
tracks. In this basis each tie is the value 0 of one column, and the quantile transformer's inverse maps the
whole quantile interval of a tie back to that one value, so generated tracks reproduce the ties exactly.
With ``data.thresholds`` (the default) the ties are not learnt at all: they are a known function of (P, η)
and the detector (:mod:`.thresholds`: both hypotheses below their Cherenkov thresholds in every radiator that
sees the track). The output transformer is fitted on the untied values only, a tied entry is encoded as 0 and
decoded as an exact tie whatever the model gave, and the conditions carry seven 0/1 threshold flags (seen by
RICH1, by RICH2, the five tie flags) after the species. Without it, the tied training values are spread
uniformly over their quantile interval (random tie-breaking, fixed seed) so that the model learns a continuous
target, and the inverse maps that interval back to the tie.

With ``data.scale_bins`` (20 by default) each output column is first divided by its typical size at the
track's momentum and radiator pattern (:mod:`.scales`): the DLLs shrink by two orders of magnitude with P.

The transformers are fitted on the training split (unweighted: any monotone map serves, weights enter the
losses) and stored in the checkpoint as their fitted quantiles and references (lists of floats, no pickles).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from scipy import stats
from sklearn.preprocessing import QuantileTransformer

from mlfastsim._utils import InputError, config_from_dict, config_to_dict, make_rng
from mlfastsim.data.kinds.base import Batch
from mlfastsim.data.kinds.pid.container import DLL_NAMES, SPECIES, PIDTable
from mlfastsim.data.kinds.pid.scales import DLLScales
from mlfastsim.data.kinds.pid.thresholds import detector_of, radiator_pattern, threshold_flags, tie_mask
from mlfastsim.physics.detector.rich import RICHConfig

__all__ = ["CONTINUOUS_INPUTS", "PIDCodec", "PIDData", "from_basis", "to_basis"]

#: The inputs that are quantile-transformed, in this order in ``cond``.
CONTINUOUS_INPUTS = ("p", "eta", "n_tracks")
_BOUND = 1e-7  # sklearn's BOUNDS_THRESHOLD: uniform values kept in [1e-7, 1 − 1e-7] before Φ⁻¹


@dataclass(frozen=True)
class PIDData:
    """The ``[data]`` table of a PID run.

    Attributes:
        species: train on these species only (names of SPECIES; empty: all — one model conditioned on the
            species; one species: one model per species, LHCb's choice).
        use_charge: condition on the charge too.
        output_basis: ``differences`` (module docstring) or ``dll`` (the five DLLs as they are).
        thresholds: the ties from the Cherenkov thresholds by construction, and the threshold flags as
            conditions (module docstring; needs ``differences``).
        scale_bins: bins in ln P of the momentum scales each output is divided by before the quantile
            transform (:mod:`.scales`; 0: none).
        species_balance: α ≥ 0: training weights × f_s^−α, f_s the species' fraction of the training tracks
            (normalised to a mean of 1): more of the model's attention to the rare species. A weight that
            depends on the conditions only leaves the best conditional model p(DLLs | inputs) unchanged.
        n_quantiles: quantiles of each transformer (at most the number of training tracks).
        quantile_subsample: tracks the transformers are fitted on (a random subset of the training split).
        val_fraction: tracks held out for validation. max_events: read at most this many tracks.
    """

    species: tuple[str, ...] = ()
    use_charge: bool = False
    output_basis: Literal["differences", "dll"] = "differences"
    thresholds: bool = True
    scale_bins: int = 20
    species_balance: float = 0.0
    n_quantiles: int = 1000
    quantile_subsample: int = 200_000
    val_fraction: float = 0.1
    max_events: int | None = None

    def __post_init__(self) -> None:
        for name in self.species:
            if name not in SPECIES:
                raise InputError(f"data.species: unknown species {name!r}; choose from {', '.join(SPECIES)}")
        if self.n_quantiles < 10 or self.quantile_subsample < 10:
            raise InputError("data.n_quantiles and data.quantile_subsample must be >= 10")
        if self.species_balance < 0:
            raise InputError("data.species_balance must be >= 0 (0: the tracks' own weights)")
        if self.scale_bins < 0:
            raise InputError("data.scale_bins must be >= 0 (0: no momentum scales)")
        if self.thresholds and self.output_basis != "differences":
            raise InputError(
                "data.thresholds needs data.output_basis = 'differences' (its ties are columns of that basis); "
                "set data.thresholds=false for the 'dll' basis"
            )


def to_basis(dll: np.ndarray, basis: str) -> np.ndarray:
    """``[N, 5]`` DLLs (:data:`DLL_NAMES`) in the output ``basis`` (float64)."""
    out = np.asarray(dll, dtype=np.float64).copy()
    if basis == "differences":
        out[:, 4] = out[:, 4] - out[:, 3]
        out[:, 3] = out[:, 3] - out[:, 2]
    return out


def from_basis(values: np.ndarray, basis: str) -> np.ndarray:
    """The inverse of :func:`to_basis`: float32 ``[N, 5]`` DLLs."""
    out = np.asarray(values, dtype=np.float64).copy()
    if basis == "differences":
        out[:, 3] = out[:, 2] + out[:, 3]
        out[:, 4] = out[:, 3] + out[:, 4]
    return out.astype(np.float32)


def _fit(values: np.ndarray, data: PIDData) -> QuantileTransformer:
    n = min(data.n_quantiles, len(values))
    qt = QuantileTransformer(
        n_quantiles=n, output_distribution="normal", subsample=data.quantile_subsample, random_state=0
    )
    qt.fit(values)  # NaN entries (tied, with data.thresholds) are left out of the fit
    qt.quantiles_ = np.nan_to_num(qt.quantiles_)  # a column tied on every track decodes to 0
    return qt


def _state(qt: QuantileTransformer) -> dict[str, Any]:
    return {"quantiles": qt.quantiles_.tolist(), "references": qt.references_.tolist()}


def _restore(state: Mapping[str, Any]) -> QuantileTransformer:
    """A fitted transformer from its quantiles ``[n_q, F]`` and references ``[n_q]`` (no pickle)."""
    quantiles = np.asarray(state["quantiles"], dtype=np.float64)
    references = np.asarray(state["references"], dtype=np.float64)
    if quantiles.ndim != 2 or references.shape != (len(quantiles),):
        raise InputError("stored quantile transformer: quantiles must be [n_q, F] with n_q references")
    qt = QuantileTransformer(n_quantiles=len(references), output_distribution="normal")
    qt.quantiles_, qt.references_ = quantiles, references
    qt.n_quantiles_, qt.n_features_in_ = len(references), quantiles.shape[1]
    return qt


def _tie_broken(qt: QuantileTransformer, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``qt.transform`` with each tied value spread uniformly over the quantile interval it occupies."""
    out = np.empty_like(values, dtype=np.float64)
    refs = qt.references_
    for j in range(values.shape[1]):
        q, x = qt.quantiles_[:, j], values[:, j]
        hi = np.interp(x, q, refs)
        lo = -np.interp(-x, -q[::-1], -refs[::-1])
        out[:, j] = lo + (hi - lo) * rng.random(len(x))
    return stats.norm.ppf(np.clip(out, _BOUND, 1.0 - _BOUND))


def _untied(values: np.ndarray, ev: PIDTable, data: PIDData, rich: RICHConfig) -> np.ndarray:
    """``values [N, 5]`` in the output basis with the threshold ties as NaN (with ``data.thresholds``)."""
    if data.thresholds:
        values = values.copy()
        values[tie_mask(ev.p, ev.eta, rich)] = np.nan
    return values


def _fit_scales(values: np.ndarray, ev: PIDTable, data: PIDData, rich: RICHConfig) -> DLLScales | None:
    """The momentum scales of ``data.scale_bins`` bins (None: off) from untied ``values [N, 5]``."""
    if not data.scale_bins:
        return None
    return DLLScales.fit(values, ev.p, radiator_pattern(ev.eta, rich), data.scale_bins)


def _scales_at(
    scales: DLLScales | None, ev: PIDTable, rich: RICHConfig, pattern: np.ndarray | None = None
) -> np.ndarray:
    """``[N, 5]`` the momentum scales of ``ev``'s tracks (ones when off); ``pattern`` overrides theirs."""
    if scales is None:
        return np.ones((len(ev), len(DLL_NAMES)))
    return scales(ev.p, radiator_pattern(ev.eta, rich) if pattern is None else pattern)


class PIDCodec:
    """Fitted transformers of one PID run (module docstring); stored in the checkpoint."""

    def __init__(
        self,
        data: PIDData,
        inputs: QuantileTransformer,
        outputs: QuantileTransformer,
        rich: RICHConfig,
        scales: DLLScales | None = None,
        species_factor: list[float] | None = None,
    ) -> None:
        self.data, self.qt_in, self.qt_out, self.rich, self.scales = data, inputs, outputs, rich, scales
        self.species_factor = species_factor  # per species: the training-weight factor of species_balance

    def _scale(self, ev: PIDTable, pattern: np.ndarray | None = None) -> np.ndarray:
        return _scales_at(self.scales, ev, self.rich, pattern)

    @classmethod
    def fit(cls, train: PIDTable, data: PIDData) -> PIDCodec:
        """Fit both transformers on the training tracks (which need simulated DLLs)."""
        if not train.has_dll:
            raise InputError(
                "the training tracks have no DLLs; train on a file from 'mlfastsim generate pid'"
            )
        inputs = np.stack([getattr(train, k).astype(np.float64) for k in CONTINUOUS_INPUTS], axis=1)
        rich = detector_of(train.attrs)
        outputs = _untied(to_basis(train.dll, data.output_basis), train, data, rich)
        scales = _fit_scales(outputs, train, data, rich)
        outputs = outputs / _scales_at(scales, train, rich)
        factor = None
        if data.species_balance > 0:
            frac = np.bincount(train.species.astype(np.int64), minlength=len(SPECIES)) / len(train)
            raw = np.where(frac > 0, np.maximum(frac, 1e-12) ** -data.species_balance, 0.0)
            factor = (raw / (frac * raw).sum()).tolist()  # mean 1 over the training tracks
        return cls(data, _fit(inputs, data), _fit(outputs, data), rich, scales, factor)

    @property
    def n_cond(self) -> int:
        """Condition columns: 3 transformed inputs, the charge if used, 5 species."""
        return len(CONTINUOUS_INPUTS) + int(self.data.use_charge) + len(SPECIES) + 7 * self.data.thresholds

    def _cond(self, ev: PIDTable) -> torch.Tensor:
        if len(ev) and (ev.species.min() < 0 or ev.species.max() >= len(SPECIES)):
            raise InputError(f"tracks of unknown species: give species indices 0–4 ({', '.join(SPECIES)})")
        inputs = np.stack([getattr(ev, k).astype(np.float64) for k in CONTINUOUS_INPUTS], axis=1)
        parts = [self.qt_in.transform(inputs)]
        if self.data.use_charge:
            parts.append(ev.charge.astype(np.float64)[:, None])
        parts.append(np.eye(len(SPECIES))[ev.species.astype(np.int64)])
        if self.data.thresholds:
            parts.append(threshold_flags(ev.p, ev.eta, self.rich))
        return torch.as_tensor(np.concatenate(parts, axis=1), dtype=torch.float32)

    def encode(self, ev: PIDTable, keys: frozenset[str]) -> Batch:
        """Outputs (tie-broken, fixed seed), mask, conditions and weights of every track."""
        if not ev.has_dll:
            raise InputError("these tracks have no DLLs to encode; give a file from 'mlfastsim generate pid'")
        values = _untied(to_basis(ev.dll, self.data.output_basis), ev, self.data, self.rich) / self._scale(ev)
        features = np.nan_to_num(_tie_broken(self.qt_out, values, make_rng(0)))  # threshold ties: 0
        return {
            "features": torch.as_tensor(features, dtype=torch.float32),
            "mask": torch.ones(len(ev), dtype=torch.bool),
            "cond": self._cond(ev),
            "weight": torch.as_tensor(self._weights(ev), dtype=torch.float32),
        }

    def _weights(self, ev: PIDTable) -> np.ndarray:
        """The tracks' weights, × the species factor of ``data.species_balance``."""
        if self.species_factor is None:
            return ev.weight
        return ev.weight * np.asarray(self.species_factor, np.float32)[ev.species.astype(np.int64)]

    def conditions(self, ev: PIDTable, keys: frozenset[str]) -> Batch:
        """What a model is given to generate ``ev``'s DLLs: ``cond`` (when it reads it)."""
        return {"cond": self._cond(ev)} if "cond" in keys else {}

    def decode(self, out: Batch, like: PIDTable | None) -> PIDTable:
        """DLLs in physical units (inverse transform, then the basis back). With ``like``: its inputs, weights
        and ids. Without: the inputs of ``out["matched_cond"]`` (conditions a model drew) inverted when
        present, else NaN with unknown species; ids −1. With ``data.thresholds`` the tied columns of tracks of
        known inputs are exact zeros, whatever the model gave there."""
        values = self.qt_out.inverse_transform(out["features"].double().numpy())
        n = len(values)
        k = len(CONTINUOUS_INPUTS)
        species_at = k + int(self.data.use_charge)
        tied = np.zeros_like(values, dtype=bool)
        if like is not None:
            tracks = PIDTable(
                p=like.p, eta=like.eta, n_tracks=like.n_tracks, charge=like.charge, species=like.species,
                weight=like.weight, event_id=like.event_id, collision=like.collision,
            )  # fmt: skip
            if self.data.thresholds:
                tied = tie_mask(like.p, like.eta, self.rich)
            values *= self._scale(like)
        elif "matched_cond" in out:
            cond = out["matched_cond"].double().numpy()
            physical = self.qt_in.inverse_transform(cond[:, :k])
            charge = cond[:, k] if self.data.use_charge else np.zeros(n)
            tracks = PIDTable(
                p=physical[:, 0], eta=physical[:, 1], n_tracks=np.rint(physical[:, 2]), charge=np.sign(charge),
                species=cond[:, species_at : species_at + len(SPECIES)].argmax(1), event_id=np.full(n, -1),
            )  # fmt: skip
            pattern = None
            if self.data.thresholds:  # the flags the model was given, not recomputed from inverted inputs
                flags = cond[:, species_at + len(SPECIES) :] > 0.5
                pattern, tied = flags[:, 0] + 2 * flags[:, 1], flags[:, 2:]
            values *= self._scale(tracks, pattern)
        else:  # inputs unknown: no ties, no momentum scale
            nan = np.full(n, np.nan, np.float32)
            tracks = PIDTable(
                p=nan, eta=nan, n_tracks=np.zeros(n, np.int32), charge=np.zeros(n, np.int8),
                species=np.full(n, -1, np.int8), event_id=np.full(n, -1),
            )  # fmt: skip
        values[tied] = 0.0
        return dataclasses.replace(tracks, dll=from_basis(values, self.data.output_basis))

    def model_fields(self) -> dict[str, Any]:
        """Outputs per track, condition columns and the batch keys a model of this kind generates."""
        return {"n_features": len(DLL_NAMES), "n_cond": self.n_cond, "outputs": ("features", "mask")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": config_to_dict(self.data),
            "inputs": _state(self.qt_in),
            "outputs": _state(self.qt_out),
            "rich": dataclasses.asdict(self.rich),
            "scales": None if self.scales is None else self.scales.to_dict(),
            "species_factor": self.species_factor,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> PIDCodec:
        stored = dict(state["data"])
        if "rich" not in state:  # a run from before the threshold ties (its conditions have no flags)
            stored.setdefault("thresholds", False)
        if "scales" not in state:  # nor momentum scales
            stored.setdefault("scale_bins", 0)
        data = config_from_dict(PIDData, stored, "data")
        rich = detector_of({"config": {"rich": state.get("rich")}})
        scales = DLLScales.from_dict(state["scales"]) if state.get("scales") else None
        factor = state.get("species_factor")
        return cls(data, _restore(state["inputs"]), _restore(state["outputs"]), rich, scales, factor)
