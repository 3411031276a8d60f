"""The structural ties of the RICH DLLs, known from the Cherenkov thresholds (used by the ``pid`` codec).

In the output basis ``differences`` each column compares two hypotheses: (e, π), (μ, π), (K, π), (p, K),
(bt, p). Both predict no light in a radiator when p lies below the threshold m / √(n² − 1) of the lighter one
(bt never radiates); when that holds in every radiator that sees the track (or none sees it), both give
the same likelihood and the column is exactly 0. On the reference RICH this rule reproduces the zeros of
600,000 generated tracks exactly (no miss either way, seed 7; tests/data/test_pid_thresholds.py checks it
on fresh tracks). The ties are therefore a known function of (P, η) and the detector's refractive indices and
acceptance (PHYSICS.md §6), which the codec uses instead of asking a network to learn a step function:
a GAN trained on the spread ties put 7–12 % of tracks on the wrong side of a threshold.

``threshold_flags`` gives the model those facts as conditions: whether each radiator sees the track, and
which columns are tied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlfastsim._utils import InputError
from mlfastsim.physics.detector.rich import RadiatorConfig, RICHConfig, in_acceptance, threshold_momentum
from mlfastsim.physics.detector.rich_constants import MASSES

__all__ = ["LIGHTER_HYPOTHESIS", "detector_of", "radiator_pattern", "threshold_flags", "tie_mask"]

#: For each column of the ``differences`` basis, the lighter of its two hypotheses (whose threshold decides).
LIGHTER_HYPOTHESIS = ("e", "mu", "pi", "K", "p")


def detector_of(attrs: Mapping[str, Any]) -> RICHConfig:
    """The RICH a table was simulated with (its provenance ``config.rich``), else the reference RICH."""
    stored = dict(attrs.get("config", {})).get("rich")
    if not stored:
        return RICHConfig()
    try:
        return RICHConfig(**{name: RadiatorConfig(**values) for name, values in stored.items()})
    except TypeError as exc:
        raise InputError(f"the tracks' RICH settings do not fit this version ({exc})") from None


def _seen(eta: np.ndarray, rich: RICHConfig) -> np.ndarray:
    """``[N, 2]`` whether RICH1 / RICH2 sees each track."""
    return np.stack([in_acceptance(eta, r) for r in rich.radiators()], axis=1)


def tie_mask(p: np.ndarray, eta: np.ndarray, rich: RICHConfig) -> np.ndarray:
    """``[N, 5]`` bool: the columns of the ``differences`` basis that are exactly 0 for tracks of momentum
    ``p`` [GeV/c] and pseudorapidity ``eta`` (module docstring)."""
    p = np.asarray(p, dtype=np.float64)
    seen = _seen(eta, rich)
    tied = np.ones((len(p), len(LIGHTER_HYPOTHESIS)), dtype=bool)
    for r, radiator in enumerate(rich.radiators()):
        for j, name in enumerate(LIGHTER_HYPOTHESIS):
            below = p < threshold_momentum(MASSES[name], radiator.n_minus_1)
            tied[:, j] &= ~seen[:, r] | below
    return tied


def threshold_flags(p: np.ndarray, eta: np.ndarray, rich: RICHConfig) -> np.ndarray:
    """``[N, 7]`` float64 0/1: seen by RICH1, seen by RICH2, then :func:`tie_mask`'s five columns."""
    return np.concatenate([_seen(eta, rich), tie_mask(p, eta, rich)], axis=1).astype(np.float64)


def radiator_pattern(eta: np.ndarray, rich: RICHConfig) -> np.ndarray:
    """``[N]`` int: 0 seen by no radiator, 1 RICH1 only, 2 RICH2 only, 3 both."""
    seen = _seen(eta, rich)
    return seen[:, 0].astype(np.int64) + 2 * seen[:, 1].astype(np.int64)
