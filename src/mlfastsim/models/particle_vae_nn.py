"""Building blocks of ``particle-vae`` (seed 003): masked Chamfer distance, jet pT and mass of standardised
constituents, permutation-invariant set encoders, and a learned mixture-of-Gaussians prior (the flow prior
lives in :mod:`mlfastsim.models.flow_prior`, re-exported here).

Seed 003 (Touranakou, Orzari et al., "Particle-based fast jet simulation at the LHC with variational
autoencoders"): permutation-invariant Chamfer reconstruction loss plus jet-mass and jet-pT regression terms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from geomloss import SamplesLoss
from torch import Tensor, nn

from mlfastsim.metrics.efp import efps_torch
from mlfastsim.metrics.frechet import frechet_distance_torch
from mlfastsim.models.flow_prior import FlowPrior
from mlfastsim.models.nn import LOG_2PI, batched_take, masked_max, masked_mean, mlp
from mlfastsim.physics.torch_kinematics import jet_pt_mass

__all__ = [
    "FlowPrior",
    "MixturePrior",
    "SetEncoder",
    "SortedEncoder",
    "chamfer",
    "count_w1",
    "distribution_w1",
    "efp_distance",
    "into_latent_range",
    "jet_efps",
    "jet_emd",
    "jet_observables",
    "pairwise_descending_order",
    "quantile_w1",
    "reflect_jets",
    "stable_descending_order",
    "widen_latent_range",
]

#: log pT_rel of generated particles is clamped to this range before exp (pT_rel ≤ e: a jet's top
#: constituents carry at most its pT; the clamp only guards the loss against overflow early in training).
LOG_PT_RANGE = (-30.0, 1.0)

#: ΔR → √(ΔR² + s²) − s in the EFPs of the loss (rad): the exact √ has unbounded gradients where two generated
#: particles nearly coincide (a top-jet run at λ_EFP = 1 stopped on a NaN at step 6,611 without it).
EFP_SOFT_ANGLE = 1e-3


def chamfer(x: Tensor, mask: Tensor, y: Tensor, y_mask: Tensor) -> Tensor:
    """Seed 003's Chamfer distance per jet, masked: Σ_i min_j ‖x_i − y_j‖² + Σ_j min_i ‖x_i − y_j‖².

    Args:
        x: ``[B, P, F]`` true constituents, ``mask [B, P]`` (bool) their real slots.
        y: ``[B, Q, F]`` generated constituents, ``y_mask [B, Q]`` their real slots.
    Returns ``[B]`` (units of the features squared; 0 for a jet where either set is empty). Padded slots of
    either set change nothing.
    """
    d = (x.unsqueeze(2) - y.unsqueeze(1)).pow(2).sum(-1)  # [B, P, Q]
    to_y = d.masked_fill(~y_mask.unsqueeze(1), torch.inf).amin(2)  # each true particle → nearest generated
    to_x = d.masked_fill(~mask.unsqueeze(2), torch.inf).amin(1)  # each generated particle → nearest true
    keep_x = mask & y_mask.any(1, keepdim=True)
    keep_y = y_mask & mask.any(1, keepdim=True)
    zero = torch.zeros((), dtype=d.dtype, device=d.device)
    return torch.where(keep_x, to_y, zero).sum(1) + torch.where(keep_y, to_x, zero).sum(1)


#: Sinkhorn settings of :func:`jet_emd`: entropic blur in ΔR (below the ECAL cell, 0.0174) and ε-scaling
#: (geomloss); on random 30-particle jets the estimate lies within 3 % of POT's exact EMD.
EMD_BLUR, EMD_SCALING = 0.003, 0.5
_SINKHORN = SamplesLoss(
    "sinkhorn", p=1, blur=EMD_BLUR, scaling=EMD_SCALING, debias=False, backend="tensorized"
)


def jet_emd(
    x: Tensor, mask: Tensor, y: Tensor, y_mask: Tensor, mean: tuple[float, ...], std: tuple[float, ...]
) -> Tensor:
    """Per-jet energy mover's distance between true and generated constituents, differentiable: the optimal
    transport cost between the two jets as pT_rel-weighted points in (η_rel, φ_rel), weights normalised per
    jet, ground distance ΔR (Komiske, Metodiev, Thaler, PRL 123 (2019) 041801, without the pT-difference term:
    the detector mode's response carries the jet's scale). Entropic (Sinkhorn, geomloss: Feydy et al.,
    AISTATS 2019), ``EMD_BLUR``.

    ``x [B, P, 3]``, ``y [B, Q, 3]`` standardised (η_rel, φ_rel, log pT_rel) with the codec's ``mean``, ``std``;
    ``mask [B, P]``, ``y_mask [B, Q]`` their real slots. Returns ``[B]`` in ΔR (× pT_jet: GeV of EMD); 0 for a
    jet where either set is empty. Padded slots change nothing.
    """
    m = torch.tensor(mean, dtype=torch.float32, device=x.device)
    s = torch.tensor(std, dtype=torch.float32, device=x.device)

    def points(f: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
        phys = f.float() * s + m
        pos = torch.where(keep.unsqueeze(-1), phys[..., :2], 0.0)
        pt = torch.where(keep, phys[..., 2].clamp(*LOG_PT_RANGE).exp(), 0.0)
        some = keep.any(1, keepdim=True)
        pt = torch.where(some, pt, (torch.arange(f.shape[1], device=f.device) == 0).float())  # a dummy unit
        return pt / pt.sum(1, keepdim=True), pos

    a, pa = points(x, mask)
    b, pb = points(y, y_mask)
    cost = _SINKHORN(a, pa, b, pb)
    both = mask.any(1) & y_mask.any(1)
    return torch.where(both, cost, torch.zeros_like(cost))


@torch.no_grad()
def widen_latent_range(z: Tensor, low: Tensor, high: Tensor, radius: Tensor) -> None:
    """Widen, in place, the per-latent range ``low``/``high [L]`` and the norm ``radius []`` seen in training
    (``radius`` +inf, ``low`` +inf, ``high`` −inf before the first step) to include ``z [B, L]``."""
    norm = z.norm(dim=1).amax()
    radius.copy_(torch.where(torch.isfinite(radius), torch.maximum(radius, norm), norm))
    low.copy_(torch.minimum(low, z.amin(0)))
    high.copy_(torch.maximum(high, z.amax(0)))


def into_latent_range(z: Tensor, low: Tensor, high: Tensor, radius: Tensor) -> Tensor:
    """``z [n, L]`` clamped into ``low``/``high`` and scaled into ``radius`` (:func:`widen_latent_range`; a
    no-op before any training step): a flexible prior puts a little mass far outside the posterior's
    support, where the decoder makes absurd jets."""
    valid = high >= low
    z = torch.clamp(z, torch.where(valid, low, -torch.inf), torch.where(valid, high, torch.inf))
    norm = z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return z * (radius / norm).clamp_max(1.0)


def quantile_w1(a: Tensor, b: Tensor, levels: int = 128) -> Tensor:
    """1-D Wasserstein-1 distance between the samples ``a [Na]`` and ``b [Nb]`` (any sizes ≥ 1), estimated as
    the mean |Q_a(p) − Q_b(p)| over ``levels`` evenly spaced probabilities p in (0, 1) (linear interpolation
    between order statistics): a scalar in the samples' units, differentiable in both (the sorted-sample
    estimator behind the "physics" terms of seed 004's GANs, for unequal sizes)."""
    p = (torch.arange(levels, device=a.device, dtype=torch.float32) + 0.5) / levels
    return (torch.quantile(a.float(), p) - torch.quantile(b.float(), p)).abs().mean()


def count_w1(logits: Tensor, counts: Tensor) -> Tensor:
    """W1 between the multiplicity distribution a batch of ``logits [B, P+1]`` (over n = 0 … P) predicts — the
    batch mean of their softmax — and the histogram of the true ``counts [B]``: Σ_n |CDF_pred(n) − CDF_true(n)|
    in particles, divided by the true counts' spread (at least 1 particle); a scalar, differentiable in the
    logits."""
    p = logits.float().softmax(-1).mean(0).cumsum(0)
    true = torch.bincount(counts.long(), minlength=logits.shape[-1]).float().cumsum(0) / len(counts)
    return (p - true).abs().sum() / counts.float().std().clamp_min(1.0)


def distribution_w1(
    x: Tensor,
    mask: Tensor,
    y: Tensor,
    y_mask: Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    mass_scale: Tensor,
) -> Tensor:
    """Distance between two batches of jets as distributions (``particle-vae``'s ``lambda_dist`` term): the sum
    over the 3 standardised features of :func:`quantile_w1` over all real particles, plus that of the relative
    jet mass divided by ``mass_scale`` (its spread). ``x``, ``y`` ``[B, P, 3]`` standardised with the codec's
    ``mean``/``std``, ``mask``, ``y_mask`` ``[B, P]``; a scalar, differentiable in both."""
    x, y = x.float(), y.float()
    term = sum(quantile_w1(x[..., f][mask], y[..., f][y_mask]) for f in range(x.shape[-1]))
    _, m_x = jet_observables(x, mask, mean, std)
    _, m_y = jet_observables(y, y_mask, mean, std)
    return term + quantile_w1(m_x, m_y) / mass_scale


def efp_distance(
    x: Tensor,
    mask: Tensor,
    y: Tensor,
    y_mask: Tensor,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    frechet: float = 0.0,
    levels: int = 128,
) -> Tensor:
    """Distance between two batches of jets in the features of FPD (``particle-vae``'s ``lambda_efp`` part of
    the distribution term): the mean over the 36 EFPs (d ≤ 4, β = 1, on unnormalised pT_rel, as
    :func:`~mlfastsim.metrics.jetnet.fpd_kpd_features`; Komiske, Metodiev, Thaler 2018) of the
    :func:`quantile_w1` between the two batches, plus ``frechet`` × the Fréchet distance between Gaussians
    fitted to the two batches' EFPs (FPD's own statistic, which the jets of the far tail dominate) over 36,
    each EFP in units of its spread in ``x``. ``x`` (the reference batch, no gradient), ``y`` ``[B, P, 3]``
    standardised with ``mean``/``std``, masks ``[B, P]``; a scalar, differentiable in ``y``."""
    with torch.no_grad():  # x is the reference batch: its EFPs need no gradient
        e_x = jet_efps(x, mask, mean, std)
        scale = e_x.std(0).clamp_min(1e-6)
    e_x, e_y = e_x / scale, jet_efps(y, y_mask, mean, std) / scale
    p = (torch.arange(levels, device=x.device, dtype=torch.float32) + 0.5) / levels
    w1 = (torch.quantile(e_x, p, dim=0) - torch.quantile(e_y, p, dim=0)).abs().mean()  # quantile_w1 per EFP
    if frechet == 0:
        return w1
    a, b = e_x.double(), e_y.double()
    fd = frechet_distance_torch(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T), eps=1e-8)
    return w1 + frechet * fd.float() / e_x.shape[1]


def jet_efps(x: Tensor, mask: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """``[B, 36]`` EFPs of standardised constituents ``x [B, P, 3]`` (padding zero weight), float32."""
    phys = x.float() * torch.tensor(std, device=x.device) + torch.tensor(mean, device=x.device)
    z = torch.where(mask, phys[..., 2].clamp(*LOG_PT_RANGE).exp(), 0.0)
    eta, phi = (torch.where(mask, phys[..., i], 0.0) for i in (0, 1))
    return efps_torch(z, eta, phi, soft=EFP_SOFT_ANGLE)


def jet_observables_chunked(
    x: Tensor, mask: Tensor, mean: tuple[float, ...], std: tuple[float, ...], chunk: int = 4096
) -> tuple[Tensor, Tensor]:
    """:func:`jet_observables` of ``x [N, P, 3]``, ``mask [N, P]`` in chunks of ``chunk`` jets (bounded memory
    on a whole training set); ``([N], [N])``."""
    parts = [
        jet_observables(x[i : i + chunk], mask[i : i + chunk], mean, std) for i in range(0, len(x), chunk)
    ]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def gen_slots_as_reco(gen: Tensor, gen_mask: Tensor, gen_to_reco: Tensor, p: int) -> tuple[Tensor, Tensor]:
    """The first ``p`` generator-level particles ``gen [B, P_gen, ≥3]`` (standardised; only the 3 kinematic
    features kept), mask ``gen_mask [B, P_gen]``, in the detector level's standardisation (``gen_to_reco
    [2, 3]``: x_reco = a·x_gen + b), padding zero, padded to ``p`` slots: ``([B, p, 3], [B, p])``."""
    gm = gen_mask[:, :p]
    x = gen[:, :p, : gen_to_reco.shape[1]]
    x = torch.where(gm.unsqueeze(-1), x * gen_to_reco[0] + gen_to_reco[1], 0.0)
    if x.shape[1] < p:
        x, gm = F.pad(x, (0, 0, 0, p - x.shape[1])), F.pad(gm, (0, p - gm.shape[1]))
    return x, gm


def reflect_jets(
    batch: dict[str, Tensor], stats: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]]
) -> dict[str, Tensor]:
    """``batch`` with every jet's (η_rel, φ_rel) → (±η_rel, ±φ_rel), signs drawn from the global RNG, the same
    for a jet's ``features`` and ``gen_features`` (when present; ``stats[key]`` = their codec mean and std):
    jet pT, mass and response are unchanged (symmetries of the jet frame)."""
    b = len(batch["mask"])
    sign = torch.randint(0, 2, (b, 1, 2), device=batch["mask"].device).float() * 2.0 - 1.0
    out = dict(batch)
    for key, (mean, std) in stats.items():
        if key not in batch:
            continue
        x = batch[key]
        m = torch.tensor(mean[:2], device=x.device) / torch.tensor(std[:2], device=x.device)
        angles = sign * x[..., :2] + (sign - 1.0) * m  # physical a → −a in standardised units
        mask = batch["mask" if key == "features" else "gen_mask"].unsqueeze(-1)
        out[key] = torch.where(mask, torch.cat([angles.to(x.dtype), x[..., 2:]], -1), x)
    return out


def jet_observables(
    x: Tensor, mask: Tensor, mean: tuple[float, ...], std: tuple[float, ...]
) -> tuple[Tensor, Tensor]:
    """Relative jet pT and mass (pT_jet / pT_ref, m_jet / pT_ref) of standardised constituents.

    ``x [B, P, 3]`` standardised (η_rel, φ_rel, log pT_rel) with per-feature ``mean``/``std`` (the codec's);
    pT_rel = exp(x₂·std₂ + mean₂). ``mask [B, P]``. Returns ``([B], [B])`` in float32, computed with
    :func:`mlfastsim.physics.torch_kinematics.jet_pt_mass` (massless constituents; η_rel instead of η is a
    longitudinal boost, which changes neither pT nor mass). Jets with fewer than two real constituents are
    replaced by a fixed massive pair (no gradient) and return 0: a single massless constituent has m = 0,
    where the mass has no finite gradient.
    """
    x = x.float()
    m = torch.tensor(mean, dtype=x.dtype, device=x.device)
    s = torch.tensor(std, dtype=x.dtype, device=x.device)
    phys = x * s + m
    eta, phi = phys[..., 0], phys[..., 1]
    log_pt = phys[..., 2].clamp(*LOG_PT_RANGE)
    ok = mask.sum(1, keepdim=True) >= 2  # [B, 1]
    slot = torch.arange(x.shape[1], device=x.device)
    dummy_mask = slot < 2
    eta = torch.where(ok, eta, torch.where(dummy_mask, 0.1 * slot - 0.05, 0.0))
    phi = torch.where(ok, phi, torch.zeros_like(phi))
    pt = torch.where(ok, log_pt.exp(), torch.where(dummy_mask, 0.5, 0.0))
    # (ok ∧ mask) ∨ (¬ok ∧ dummy) rather than a boolean where, which ONNX Runtime does not implement
    pt_jet, m_jet = jet_pt_mass(eta, phi, pt, (ok & mask) | (~ok & dummy_mask))
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    return torch.where(ok[:, 0], pt_jet, zero), torch.where(ok[:, 0], m_jet, zero)


class SetEncoder(nn.Module):
    """Permutation-invariant encoder of a masked particle set (DeepSets with one round of context exchange,
    as in EPiC layers, Buhmann et al. 2301.08128): ``[B, P, F]`` → ``[B, out]``.

    h_i = φ₁(x_i); g = [mean_i h_i, max_i h_i]; h'_i = φ₂([h_i, g]); output ρ([mean h', max h', extra]).
    Padded slots are zeroed before φ₁ and excluded from every pooling, so they change nothing.
    """

    def __init__(self, n_features: int, hidden: int, out: int, extra: int = 0) -> None:
        super().__init__()
        self.phi1 = mlp([n_features, hidden, hidden], last_activation=True)
        self.phi2 = mlp([3 * hidden, hidden, hidden], last_activation=True)
        self.rho = mlp([2 * hidden + extra + 1, hidden, out])

    def forward(self, x: Tensor, mask: Tensor, extra: Tensor | None = None) -> Tensor:
        """``x [B, P, F]``, ``mask [B, P]``, ``extra [B, extra]`` (e.g. a context vector) → ``[B, out]``."""
        x = torch.where(mask.unsqueeze(-1), x, torch.zeros_like(x))
        h = self.phi1(x)
        g = torch.cat([masked_mean(h, mask), masked_max(h, mask)], -1)
        h = self.phi2(torch.cat([h, g.unsqueeze(1).expand(-1, h.shape[1], -1)], -1))
        n = mask.sum(1, keepdim=True).to(h.dtype)
        parts = [masked_mean(h, mask), masked_max(h, mask), torch.log1p(n) - math.log1p(x.shape[1])]
        if extra is not None:
            parts.append(extra.to(h.dtype))
        return self.rho(torch.cat(parts, -1))


def stable_descending_order(key: Tensor) -> Tensor:
    """``key [B, P]`` → ``order [B, P]`` (int64): ``key.argsort(dim=1, descending=True, stable=True)``; while
    a model is being traced or exported, :func:`pairwise_descending_order` (the same order, which every
    exporter maps: ONNX has no stable sort, and its TopK's order of ties is the runtime's). Eagerly the
    argsort itself, as pairwise ranks cost O(P²) (27 ms vs 0.5 ms per batch of 256 jets at P = 150)."""
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return pairwise_descending_order(key)
    return key.argsort(dim=1, descending=True, stable=True)


def pairwise_descending_order(key: Tensor) -> Tensor:
    """The stable descending order of ``key [B, P]`` from pairwise comparisons (``[B, P, P]``): the rank of
    slot i is the number of slots j with key_j > key_i, or key_j = key_i and j < i; ``order`` is its inverse
    (a scatter). Keys must not be NaN (−inf for padding is fine: padded slots keep their slot order)."""
    p = key.shape[1]
    slot = torch.arange(p, device=key.device)
    ki, kj = key.unsqueeze(2), key.unsqueeze(1)  # [B, P(i), 1], [B, 1, P(j)]
    before = (kj > ki) | ((kj == ki) & (slot.view(1, 1, p) < slot.view(1, p, 1)))
    rank = before.sum(2)  # [B, P]: where slot i goes
    return torch.zeros_like(rank).scatter(1, rank, slot.expand_as(rank))  # order[rank_i] = i


class SortedEncoder(nn.Module):
    """Permutation-invariant encoder by canonical ordering: the real particles sorted by decreasing
    feature ``key`` (log pT_rel), padding last and zeroed, flattened with the mask into an MLP:
    ``[B, P, F]`` → ``[B, out]``. Sorting makes any function of the list a function of the set (as FSPool,
    Zhang et al. 1906.02795, sorts features); unlike pooling, every particle's features reach the MLP.
    """

    def __init__(
        self, n_particles: int, n_features: int, hidden: int, out: int, extra: int = 0, key: int = 2
    ):
        super().__init__()
        self.key = key
        self.net = mlp([n_particles * (n_features + 1) + extra, hidden, hidden, out])

    def forward(self, x: Tensor, mask: Tensor, extra: Tensor | None = None) -> Tensor:
        """``x [B, P, F]``, ``mask [B, P]``, ``extra [B, extra]`` → ``[B, out]``."""
        x = torch.where(mask.unsqueeze(-1), x, torch.zeros_like(x))
        order = stable_descending_order(torch.where(mask, x[..., self.key], -torch.inf))
        xs, ms = batched_take(x, order), torch.gather(mask, 1, order).to(x.dtype)
        parts = [xs.flatten(1), ms]
        if extra is not None:
            parts.append(extra.to(x.dtype))
        return self.net(torch.cat(parts, -1))


class MixturePrior(nn.Module):
    """A learned mixture of K diagonal Gaussians in latent space, p(z) = Σ_k π_k N(z; μ_k, σ_k²).

    A learned prior closes the gap between the aggregate posterior and N(0, 1) that leaves "holes" where a
    plain VAE generates poorly (Tomczak & Welling, VampPrior, 1705.07120; here its simplest form).
    """

    def __init__(self, latent: int, components: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)  # a fixed start (the run's seed sets every other weight)
        self.means = nn.Parameter(torch.randn(components, latent, generator=g))
        self.log_std = nn.Parameter(torch.zeros(components, latent))
        self.logits = nn.Parameter(torch.zeros(components))

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) for ``z [B, L]`` → ``[B]`` (nats)."""
        z = z.float().unsqueeze(1)  # [B, 1, L]
        std = self.log_std.exp()
        comp = -0.5 * (((z - self.means) / std).pow(2) + LOG_2PI) - self.log_std  # [B, K, L]
        return torch.logsumexp(comp.sum(-1) + self.logits.log_softmax(0), dim=1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``[n, L]`` draws (a component by its weight, then its Gaussian)."""
        probs = self.logits.detach().softmax(0)
        k = torch.multinomial(probs, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.means.shape[1], generator=generator, device=probs.device)
        return self.means.detach()[k] + self.log_std.detach().exp()[k] * eps
