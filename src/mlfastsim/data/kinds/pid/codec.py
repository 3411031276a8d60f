"""The codec of the ``pid`` kind: tracks ↔ normalised model tensors, with scikit-learn's ``QuantileTransformer``
to a normal distribution on inputs and outputs, as LHCb's RICH GANs use (Maevskiy et al., arXiv:1905.11825).

Model tensors (batch keys, :mod:`mlfastsim.models.base`):
  ``features [N, 5]``  the outputs in the codec's basis, quantile-transformed to N(0, 1) per column;
  ``mask [N]``         all True (one track per row; the key keeps the table compatible with the masked kinds);
  ``cond [N, C]``      quantile-transformed (P, η, nTracks), then the charge (±1) when ``data.use_charge``,
                       then the species one-hot (e, μ, π, K, p): one model for every species;
  ``weight [N]``       the per-track weights.

Output basis ``differences`` (default): (DLL_e, DLL_μ, DLL_K, DLL_p − DLL_K, DLL_bt − DLL_p). Below their
thresholds the K, p and below-threshold hypotheses predict the same (no) light, so DLL_K = DLL_p for p below
the kaon threshold and DLL_p = DLL_bt below the proton threshold — exactly, for a third and a half of the
tracks. In this basis each tie is the value 0 of one column, and the quantile transformer's inverse maps the
whole quantile interval of a tie back to that one value, so generated tracks reproduce the ties exactly.
In ``encode`` the tied training values are spread uniformly over their quantile interval (random tie-breaking,
fixed seed) so that the model learns a continuous target; the inverse is unchanged.

The transformers are fitted on the training split (unweighted: any monotone map serves, weights enter the
losses) and stored in the checkpoint as their fitted quantiles and references (lists of floats, no pickles).
"""

from __future__ import annotations

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
        n_quantiles: quantiles of each transformer (at most the number of training tracks).
        quantile_subsample: tracks the transformers are fitted on (a random subset of the training split).
        val_fraction: tracks held out for validation. max_events: read at most this many tracks.
    """

    species: tuple[str, ...] = ()
    use_charge: bool = False
    output_basis: Literal["differences", "dll"] = "differences"
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
    return qt.fit(values)


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


class PIDCodec:
    """Fitted transformers of one PID run (module docstring); stored in the checkpoint."""

    def __init__(self, data: PIDData, inputs: QuantileTransformer, outputs: QuantileTransformer) -> None:
        self.data, self.qt_in, self.qt_out = data, inputs, outputs

    @classmethod
    def fit(cls, train: PIDTable, data: PIDData) -> PIDCodec:
        """Fit both transformers on the training tracks (which need simulated DLLs)."""
        if not train.has_dll:
            raise InputError(
                "the training tracks have no DLLs; train on a file from 'mlfastsim generate pid'"
            )
        inputs = np.stack([getattr(train, k).astype(np.float64) for k in CONTINUOUS_INPUTS], axis=1)
        return cls(data, _fit(inputs, data), _fit(to_basis(train.dll, data.output_basis), data))

    @property
    def n_cond(self) -> int:
        """Condition columns: 3 transformed inputs, the charge if used, 5 species."""
        return len(CONTINUOUS_INPUTS) + int(self.data.use_charge) + len(SPECIES)

    def _cond(self, ev: PIDTable) -> torch.Tensor:
        if len(ev) and (ev.species.min() < 0 or ev.species.max() >= len(SPECIES)):
            raise InputError(f"tracks of unknown species: give species indices 0–4 ({', '.join(SPECIES)})")
        inputs = np.stack([getattr(ev, k).astype(np.float64) for k in CONTINUOUS_INPUTS], axis=1)
        parts = [self.qt_in.transform(inputs)]
        if self.data.use_charge:
            parts.append(ev.charge.astype(np.float64)[:, None])
        parts.append(np.eye(len(SPECIES))[ev.species.astype(np.int64)])
        return torch.as_tensor(np.concatenate(parts, axis=1), dtype=torch.float32)

    def encode(self, ev: PIDTable, keys: frozenset[str]) -> Batch:
        """Outputs (tie-broken, fixed seed), mask, conditions and weights of every track."""
        if not ev.has_dll:
            raise InputError("these tracks have no DLLs to encode; give a file from 'mlfastsim generate pid'")
        features = _tie_broken(self.qt_out, to_basis(ev.dll, self.data.output_basis), make_rng(0))
        return {
            "features": torch.as_tensor(features, dtype=torch.float32),
            "mask": torch.ones(len(ev), dtype=torch.bool),
            "cond": self._cond(ev),
            "weight": torch.as_tensor(ev.weight, dtype=torch.float32),
        }

    def conditions(self, ev: PIDTable, keys: frozenset[str]) -> Batch:
        """What a model is given to generate ``ev``'s DLLs: ``cond`` (when it reads it)."""
        return {"cond": self._cond(ev)} if "cond" in keys else {}

    def decode(self, out: Batch, like: PIDTable | None) -> PIDTable:
        """DLLs in physical units (inverse transform, then the basis back). With ``like``: its inputs, weights
        and ids. Without: the inputs of ``out["matched_cond"]`` (conditions a model drew) inverted when
        present, else NaN with unknown species; ids −1."""
        values = self.qt_out.inverse_transform(out["features"].double().numpy())
        dll = from_basis(values, self.data.output_basis)
        if like is not None:
            return PIDTable(
                p=like.p, eta=like.eta, n_tracks=like.n_tracks, charge=like.charge, species=like.species,
                dll=dll, weight=like.weight, event_id=like.event_id, collision=like.collision,
            )  # fmt: skip
        n = len(dll)
        ids = np.full(n, -1, np.int64)
        if "matched_cond" in out:
            return self._inputs_of(out["matched_cond"].double().numpy(), dll, ids)
        nan = np.full(n, np.nan, np.float32)
        return PIDTable(
            p=nan, eta=nan, n_tracks=np.zeros(n, np.int32), charge=np.zeros(n, np.int8),
            species=np.full(n, -1, np.int8), dll=dll, event_id=ids,
        )  # fmt: skip

    def _inputs_of(self, cond: np.ndarray, dll: np.ndarray, ids: np.ndarray) -> PIDTable:
        """Tracks whose conditions are ``cond [N, n_cond]`` (the inverse of :meth:`conditions`)."""
        k = len(CONTINUOUS_INPUTS)
        physical = self.qt_in.inverse_transform(cond[:, :k])
        charge = cond[:, k] if self.data.use_charge else np.zeros(len(cond))
        species = cond[:, k + int(self.data.use_charge) :].argmax(1)
        return PIDTable(
            p=physical[:, 0], eta=physical[:, 1], n_tracks=np.rint(physical[:, 2]), charge=np.sign(charge),
            species=species, dll=dll, event_id=ids,
        )  # fmt: skip

    def model_fields(self) -> dict[str, Any]:
        """Outputs per track, condition columns and the batch keys a model of this kind generates."""
        return {"n_features": len(DLL_NAMES), "n_cond": self.n_cond, "outputs": ("features", "mask")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": config_to_dict(self.data),
            "inputs": _state(self.qt_in),
            "outputs": _state(self.qt_out),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> PIDCodec:
        data = config_from_dict(PIDData, state["data"], "data")
        return cls(data, _restore(state["inputs"]), _restore(state["outputs"]))
