"""JetNet's metrics of generated particle-cloud jets, reproduced on plain arrays: W1M, W1P, W1EFP and the
EFP features of FPD/KPD (Kansal et al., NeurIPS 2021 and PRD 107 076017; the ``jetnet`` library 0.2.5,
``jetnet/evaluation/gen_metrics.py`` and ``jetnet/utils/utils.py``).

Jets are ``[N, P, 3]`` constituents (η_rel, φ_rel, pT_rel) relative to the jet axis, as JetNet holds them:

* **corrections** (``jetnet.utils.gen_jet_corrections``): masked particles are zeroed, negative pT set to 0;
* **relative jet mass** (``jetnet.utils.jet_features``): the invariant mass of the sum of massless constituents
  (pT_rel, η_rel, φ_rel), i.e. ≈ m / pT_jet, dimensionless;
* **EFPs** (``jetnet.utils.efps``): ``EFPSet(..., measure="hadr", beta=1, normed=None, coords="ptyphim")`` —
  ``normed=None`` means *unnormalised*: z_i = pT_rel,i (which sums to ≈ 1 on real jets), θ_ij = ΔR_ij. The FPD/KPD
  features (``get_fpd_kpd_jet_features``) are the 36 EFPs of degree d ≤ 4; W1EFP uses the 5 connected ("prime")
  EFPs with n = 4 vertices and d = 4 edges (``efpset_args=[("n==", 4), ("d==", 4), ("p==", 1)]``), a subset of
  the 36;
* **batch protocol** (``w1m``, ``w1p``, ``w1efp``): ``num_batches`` times, draw ``num_eval_samples`` jets *with
  replacement* from each sample (``rng.choice(len(jets1))`` then ``rng.choice(len(jets2))``, in that order),
  compute ``scipy.stats.wasserstein_distance`` per feature; report the mean and the (ddof = 0) std over batches.
  W1P pools every real particle of the drawn jets (mask, and JetNet's ``exclude_zeros``). JetNet draws 50 000 jets
  per batch whatever N is; here ``num_eval_samples=None`` takes ``min(50 000, N₁, N₂)`` so that a small sample is
  not silently over-counted (the batch size is reported). Averages over features/EFPs take the mean of the means
  and ``‖stds‖₂`` as uncertainty (JetNet ≤ 0.1's ``average_over_features``).

FPD and KPD themselves are :func:`~mlfastsim.metrics.fpd` / :func:`~mlfastsim.metrics.kpd` (JetNet's ``fpd``/``kpd``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.stats import wasserstein_distance

from mlfastsim.metrics.efp import efp_graphs, efps
from mlfastsim.metrics.result import MetricResult
from mlfastsim.physics.kinematics import jet_pt_mass

__all__ = [
    "JETNET_NUM_BATCHES",
    "JETNET_NUM_EVAL_SAMPLES",
    "W1Batches",
    "batched_w1",
    "batched_w1_particles",
    "fpd_kpd_features",
    "jetnet_jets",
    "relative_jet_mass",
    "w1efp_columns",
]

#: JetNet's defaults of the W1 batch protocol.
JETNET_NUM_EVAL_SAMPLES = 50_000
JETNET_NUM_BATCHES = 5


def jetnet_jets(particles: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """JetNet's ``gen_jet_corrections``: constituents with masked particles zeroed and negative pT set to 0.

    Args:
        particles: ``[N, P, ≥3]`` (η_rel, φ_rel, pT_rel[, mask]) — a 4th column is the mask (≥ 0.5 real, as JetNet).
        mask: bool ``[N, P]`` real particles; default: the 4th column, else every particle with a nonzero feature.

    Returns:
        (float64 ``[N, P, 3]`` corrected (η_rel, φ_rel, pT_rel), bool ``[N, P]`` mask).
    """
    p = np.asarray(particles, dtype=np.float64)
    if p.ndim != 3 or p.shape[2] < 3:
        raise ValueError(f"jets must be [N, P, >=3] (eta_rel, phi_rel, pt_rel[, mask]), got {list(p.shape)}")
    if mask is None:
        mask = p[..., 3] >= 0.5 if p.shape[2] >= 4 else np.linalg.norm(p[..., :3], axis=2) != 0
    m = np.asarray(mask, dtype=bool).reshape(p.shape[:2])
    jets = np.where(m[..., None], p[..., :3], 0.0)
    jets[..., 2] = np.clip(jets[..., 2], 0.0, None)
    return jets, m


def relative_jet_mass(jets: np.ndarray) -> np.ndarray:
    """JetNet's ``jet_features(jets)["mass"]``: mass of the summed massless constituents, float64 ``[N]``.

    Args:
        jets: ``[N, P, 3]`` corrected (η_rel, φ_rel, pT_rel) (:func:`jetnet_jets`); padding must be zero.

    Returns:
        √max(E² − |p⃗|², 0) with E = Σ pT_rel cosh η_rel (≈ m_jet / pT_jet; dimensionless).
    """
    j = np.asarray(jets, dtype=np.float64)
    return jet_pt_mass(j[..., 0], j[..., 1], j[..., 2])[1]


def fpd_kpd_features(jets: np.ndarray) -> np.ndarray:
    """JetNet's ``get_fpd_kpd_jet_features``: the 36 unnormalised EFPs (d ≤ 4, 'hadr', β = 1) on pT_rel.

    Args:
        jets: ``[N, P, 3]`` corrected (η_rel, φ_rel, pT_rel) (:func:`jetnet_jets`).

    Returns:
        float64 ``[N, 36]``, columns as :func:`~mlfastsim.metrics.efp_graphs` (energyflow orders them otherwise;
        FPD, KPD and W1EFP do not depend on the column order).
    """
    j = np.asarray(jets, dtype=np.float64)
    return efps(j, j[..., 2] > 0, max_degree=4, beta=1.0, normed=False)


def _connected(n: int, edges: tuple[tuple[int, int], ...]) -> bool:
    seen, todo = {0}, [0]
    while todo:
        v = todo.pop()
        for a, b in edges:
            for u, w in ((a, b), (b, a)):
                if u == v and w not in seen:
                    seen.add(w)
                    todo.append(w)
    return len(seen) == n


@cache
def w1efp_columns() -> tuple[int, ...]:
    """Columns of :func:`fpd_kpd_features` that JetNet's W1EFP uses: the 5 connected EFPs with n = 4, d = 4."""
    cols = tuple(
        i for i, (n, edges) in enumerate(efp_graphs(4)) if n == 4 and len(edges) == 4 and _connected(n, edges)
    )
    if len(cols) != 5:  # pragma: no cover - guards the graph enumeration
        raise RuntimeError(f"expected the 5 prime EFPs with n = d = 4, found {len(cols)}")
    return cols


@dataclass(frozen=True)
class W1Batches:
    """W1 of each feature over JetNet's batches.

    Attributes:
        means, stds: float64 ``[F]`` mean and (ddof = 0) standard deviation of each feature's W1 over the batches
            (units of the feature).
        batch_size: jets drawn (with replacement) from each sample per batch. num_batches: batches.
    """

    means: np.ndarray
    stds: np.ndarray
    batch_size: int
    num_batches: int

    def result(self, i: int) -> MetricResult:
        """Feature ``i`` as a :class:`MetricResult` (mean, std over batches, batch size)."""
        return MetricResult(self.means[i], self.stds[i], self.batch_size)

    def average(self) -> MetricResult:
        """Mean over the features, with ‖stds‖₂ as uncertainty (JetNet ≤ 0.1 ``average_over_features``)."""
        return MetricResult(float(np.mean(self.means)), float(np.linalg.norm(self.stds)), self.batch_size)


def _batch_size(n1: int, n2: int, num_eval_samples: int | None) -> int:
    if n1 < 1 or n2 < 1:
        raise ValueError(f"both samples need at least one jet, got {n1} and {n2}")
    return min(JETNET_NUM_EVAL_SAMPLES, n1, n2) if num_eval_samples is None else int(num_eval_samples)


def batched_w1(
    x1: np.ndarray,
    x2: np.ndarray,
    num_eval_samples: int | None = None,
    num_batches: int = JETNET_NUM_BATCHES,
    seed: int | np.random.Generator | None = 0,
) -> W1Batches:
    """JetNet's W1 batch loop on per-jet features (``w1m``, ``w1efp``).

    Args:
        x1: ``[N₁]`` or ``[N₁, F]`` per-jet features of the reference (e.g. :func:`relative_jet_mass`, or the
            :func:`w1efp_columns` of :func:`fpd_kpd_features`); x2: ``[N₂(, F)]`` of the generated jets.
        num_eval_samples: jets per batch (None: min(50 000, N₁, N₂), see the module docstring).
        num_batches: batches (JetNet: 5).
        seed: int, Generator or None; the draws are JetNet's, so a Generator in the state of JetNet's module
            ``rng`` gives JetNet's numbers.

    Returns:
        :class:`W1Batches`.
    """
    a, b = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    a, b = (v[:, None] if v.ndim == 1 else v for v in (a, b))
    size = _batch_size(len(a), len(b), num_eval_samples)
    rng = np.random.default_rng(seed)
    w1s = []
    for _ in range(int(num_batches)):
        s1, s2 = a[rng.choice(len(a), size=size)], b[rng.choice(len(b), size=size)]
        w1s.append([wasserstein_distance(s1[:, i], s2[:, i]) for i in range(a.shape[1])])
    return W1Batches(np.mean(w1s, axis=0), np.std(w1s, axis=0), size, int(num_batches))


def batched_w1_particles(
    jets1: np.ndarray,
    mask1: np.ndarray,
    jets2: np.ndarray,
    mask2: np.ndarray,
    num_eval_samples: int | None = None,
    num_batches: int = JETNET_NUM_BATCHES,
    seed: int | np.random.Generator | None = 0,
) -> W1Batches:
    """JetNet's ``w1p`` (``exclude_zeros=True``): W1 of each particle feature, real particles of the drawn jets
    pooled.

    Args:
        jets1, jets2: ``[N, P, F]`` corrected constituents (:func:`jetnet_jets`), e.g. (η_rel, φ_rel, pT_rel).
        mask1, mask2: bool ``[N, P]`` real particles; particles whose features are all exactly 0 are excluded too.
        num_eval_samples, num_batches, seed: as :func:`batched_w1`.

    Returns:
        :class:`W1Batches` over the F features (inf where a batch holds no particle, as JetNet).
    """
    j1, j2 = np.asarray(jets1, dtype=np.float64), np.asarray(jets2, dtype=np.float64)
    m1 = np.asarray(mask1, dtype=bool) & (np.linalg.norm(j1, axis=2) != 0)
    m2 = np.asarray(mask2, dtype=bool) & (np.linalg.norm(j2, axis=2) != 0)
    size = _batch_size(len(j1), len(j2), num_eval_samples)
    n_feat = j1.shape[2]
    rng = np.random.default_rng(seed)
    w1s = []
    for _ in range(int(num_batches)):
        r1, r2 = rng.choice(len(j1), size=size), rng.choice(len(j2), size=size)
        p1, p2 = j1[r1][m1[r1]], j2[r2][m2[r2]]
        if len(p1) == 0 or len(p2) == 0:
            w1s.append([np.inf] * n_feat)
        else:
            w1s.append([wasserstein_distance(p1[:, i], p2[:, i]) for i in range(n_feat)])
    return W1Batches(np.mean(w1s, axis=0), np.std(w1s, axis=0), size, int(num_batches))
