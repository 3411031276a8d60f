"""The jet response of ``particle-vae``'s detector mode (seed 003's detector parametrisation): a mixture of K
Gaussians over the R standardised columns (log pT_reco/pT_gen[, log m_reco/m_gen]) — its parameters from a
head's raw output, its negative log-likelihood, a draw from given noise (exportable: the component by the
inverse CDF of a uniform, then one standard normal per column) and its mean. Relative constituents cannot
carry the jet's energy scale; the response does.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mlfastsim.models.export_nn import categorical_from_uniform
from mlfastsim.models.nn import LOG_2PI

__all__ = ["Mixture", "mixture_draw", "mixture_mean", "mixture_nll", "mixture_params", "mixture_width"]

#: ``response_logits`` (log weights ``[B, K]``), ``response_mu`` and ``response_log_std`` (``[B, K, R]``).
Mixture = dict[str, Tensor]
_LOG_STD_RANGE = (-7.0, 3.0)


def mixture_width(components: int, columns: int) -> int:
    """Raw outputs a head gives for K = ``components`` Gaussians over R = ``columns``: K·(1 + 2R)."""
    return components * (1 + 2 * columns)


def mixture_params(raw: Tensor, components: int, columns: int) -> Mixture:
    """The mixture from a head's ``raw [B, K·(1 + 2R)]`` (float32; log σ clamped to [−7, 3])."""
    k, nr = components, columns
    r = raw.float()
    return {
        "response_logits": r[:, :k].log_softmax(-1),
        "response_mu": r[:, k : k + k * nr].view(-1, k, nr),
        "response_log_std": r[:, k + k * nr :].view(-1, k, nr).clamp(*_LOG_STD_RANGE),
    }


def mixture_nll(mix: Mixture, target: Tensor) -> Tensor:
    """−log p(``target [B, R]``) under the mixture, per jet ``[B]`` (nats)."""
    mu, log_s = mix["response_mu"], mix["response_log_std"]
    z = (target.float().unsqueeze(1) - mu) / log_s.exp()  # [B, K, R]
    log_n = (-0.5 * z.pow(2) - log_s - 0.5 * LOG_2PI).sum(-1)
    return -torch.logsumexp(mix["response_logits"] + log_n, -1)


def mixture_draw(mix: Mixture, u: Tensor, eps: Tensor) -> Tensor:
    """A draw ``[B, R]``: the component by the inverse CDF of ``u [B]``, then μ + σ·``eps [B, R]``."""
    k = categorical_from_uniform(mix["response_logits"], u.unsqueeze(1))  # [B, 1]
    pick = k.unsqueeze(-1).expand(-1, 1, mix["response_mu"].shape[-1])
    mu = mix["response_mu"].gather(1, pick).squeeze(1)
    return mu + mix["response_log_std"].gather(1, pick).squeeze(1).exp() * eps


def mixture_mean(mix: Mixture) -> Tensor:
    """The mixture's mean ``[B, R]``."""
    return (mix["response_logits"].exp().unsqueeze(-1) * mix["response_mu"]).sum(1)
