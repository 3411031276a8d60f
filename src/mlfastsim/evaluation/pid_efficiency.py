"""Seed 004's PID metric on whole tables: the efficiency of cuts on each DLL, at quantiles of the reference's
DLL per species, in bins of P, η and nTracks, and the ratio generated / reference per bin with its uncertainty;
weighted throughout (per-track weights, sWeights may be negative; uncertainties from the weighted counts,
:func:`~mlfastsim.metrics.efficiency_ratio`).

Binning: per species and variable, ``n_bins`` bins of equal reference weight (edges at weighted quantiles of
the reference; repeated edges of integer nTracks merged). Cut: DLL > its weighted ``q`` quantile among the
reference tracks of that species, so ε_reference ≈ 1 − q over all of them and varies from bin to bin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlfastsim.data.kinds.pid.container import DLL_NAMES, SPECIES, PIDTable
from mlfastsim.metrics.binned import efficiency_ratio, weighted_quantile

__all__ = [
    "BIN_VARIABLES",
    "EfficiencyBin",
    "efficiency_bins",
    "equal_weight_edges",
    "summarise_bins",
]

#: Binning variables (PIDTable attributes) and their axis labels.
BIN_VARIABLES = {"p": "P [GeV/c]", "eta": "η", "n_tracks": "nTracks"}


@dataclass(frozen=True)
class EfficiencyBin:
    """One bin of one efficiency curve: species, DLL column, binning variable and cut quantile; the bin's
    edges [lo, hi) in the variable's unit; the cut (DLL units); efficiencies with errors, their ratio
    generated / reference with its error; tracks and effective tracks (Σw)²/Σw² of each sample."""

    species: str
    dll: str
    variable: str
    quantile: float
    lo: float
    hi: float
    cut: float
    eff_ref: float
    eff_ref_err: float
    eff_gen: float
    eff_gen_err: float
    ratio: float
    ratio_err: float
    n_ref: float
    n_eff_ref: float
    n_gen: float
    n_eff_gen: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def equal_weight_edges(values: np.ndarray, weights: np.ndarray, n_bins: int) -> np.ndarray:
    """``[≤ n_bins + 1]`` edges with about equal weight per bin (weighted quantiles), covering every value."""
    inner = weighted_quantile(values, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], weights)
    lo, hi = float(np.min(values)), float(np.max(values))
    return np.unique(np.concatenate([[lo], inner, [np.nextafter(hi, np.inf)]]))


def efficiency_bins(
    reference: PIDTable,
    candidate: PIDTable,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75),
    n_bins: int = 5,
    min_species_tracks: int = 20,
) -> list[EfficiencyBin]:
    """Every bin of every efficiency curve of ``candidate`` against ``reference`` (module docstring).

    Args:
        reference, candidate: tables with DLLs (the candidate typically generated for the reference's tracks,
            but any table of tracks works: bins are filled from each sample's own inputs and weights).
        quantiles: cut quantiles of the reference DLL. n_bins: bins per variable.
        min_species_tracks: species with fewer reference or candidate tracks than this are skipped.

    Returns:
        :class:`EfficiencyBin` for each species × DLL × variable × quantile × bin.
    """
    out: list[EfficiencyBin] = []
    for k, species in enumerate(SPECIES):
        ref, cand = reference.subset(reference.species == k), candidate.subset(candidate.species == k)
        if len(ref) < min_species_tracks or len(cand) < min_species_tracks or ref.weight.sum() <= 0:
            continue
        w_ref, w_gen = ref.weight.astype(np.float64), cand.weight.astype(np.float64)
        for variable in BIN_VARIABLES:
            v_ref = getattr(ref, variable).astype(np.float64)
            v_gen = getattr(cand, variable).astype(np.float64)
            edges = equal_weight_edges(v_ref, w_ref, n_bins)
            for j, dll in enumerate(DLL_NAMES):
                cuts = weighted_quantile(ref.dll[:, j], np.asarray(quantiles), w_ref)
                for q, cut in zip(quantiles, cuts, strict=True):
                    e = efficiency_ratio(
                        ref.dll[:, j], cand.dll[:, j], float(cut), v_ref, edges, v_gen, w_ref, w_gen
                    )
                    for b in range(len(edges) - 1):
                        out.append(
                            EfficiencyBin(
                                species, dll, variable, float(q), float(edges[b]), float(edges[b + 1]),
                                float(cut), *(float(e[key][b]) for key in _KEYS),
                            )
                        )  # fmt: skip
    return out


_KEYS = (
    "eff_ref",
    "eff_ref_err",
    "eff_gen",
    "eff_gen_err",
    "ratio",
    "ratio_err",
    "n_ref",
    "n_eff_ref",
    "n_gen",
    "n_eff_gen",
)


def _where(b: EfficiencyBin) -> str:
    return f"{b.species} {b.dll} > q{b.quantile:g}, {b.variable} in [{b.lo:.4g}, {b.hi:.4g})"


def summarise_bins(bins: Sequence[EfficiencyBin], min_tracks: float, tolerance: float) -> dict[str, Any]:
    """Table rows of the efficiency ratios over the bins whose reference holds ≥ ``min_tracks`` effective
    tracks: the worst |ratio − 1| (overall and per species; its bin's ratio error as uncertainty), the
    fraction of bins within 1 ± ``tolerance``, the fraction within 1 ± max(tolerance, 2σ) (σ: the bin's ratio
    error; bins of small ε have large σ), and χ²/ndf of the ratios against 1 (what noise alone gives
    is the truth-vs-truth column). Every bin, counted or not, is listed under ``bins`` of the first row."""
    ok = [b for b in bins if b.n_eff_ref >= min_tracks and np.isfinite(b.ratio)]
    rows: dict[str, Any] = {}
    head = f"efficiency ratio (bins >= {min_tracks:g} tracks)"

    def worst(group: Sequence[EfficiencyBin]) -> dict[str, Any]:
        if not group:
            return {"value": float("nan"), "uncertainty": float("nan"), "n": 0, "note": "no bin qualifies"}
        b = max(group, key=lambda x: abs(x.ratio - 1.0))
        return {"value": abs(b.ratio - 1.0), "uncertainty": b.ratio_err, "n": len(group), "where": _where(b)}

    rows[f"{head}: worst |ratio - 1|"] = {
        **worst(ok),
        "tolerance": tolerance,
        "min_tracks": min_tracks,
        "bins": [b.to_dict() for b in bins],
    }
    n = len(ok)
    inside = sum(abs(b.ratio - 1.0) <= tolerance for b in ok)
    frac = inside / n if n else float("nan")
    rows[f"{head}: fraction within 1 ± {tolerance:g}"] = {
        "value": frac,
        "uncertainty": float(np.sqrt(frac * (1 - frac) / n)) if n else float("nan"),
        "n": n,
    }
    compatible = sum(abs(b.ratio - 1.0) <= max(tolerance, 2.0 * b.ratio_err) for b in ok)
    frac = compatible / n if n else float("nan")
    rows[f"{head}: fraction within 1 ± max({tolerance:g}, 2σ)"] = {
        "value": frac,
        "uncertainty": float(np.sqrt(frac * (1 - frac) / n)) if n else float("nan"),
        "n": n,
    }
    pulls = np.array([(b.ratio - 1.0) / b.ratio_err for b in ok if b.ratio_err > 0])
    rows[f"{head}: chi2/ndf vs 1"] = {
        "value": float(np.mean(pulls**2)) if len(pulls) else float("nan"),
        "uncertainty": float(np.sqrt(2.0 / len(pulls))) if len(pulls) else float("nan"),
        "n": len(pulls),
    }
    for species in SPECIES:
        group = [b for b in ok if b.species == species]
        if group:
            rows[f"{head}: worst |ratio - 1|, {species}"] = worst(group)
    return rows
