"""``gvae-paper``: the seeds' graph VAE (DenseSAGE + MinCut pooling 400 → 100 → 20), with their errors fixed.

Architecture as seeds 000–002 describe it: hits → kNN graph (k = 4, dense adjacency) → three DenseSAGE
convolutions with two MinCut poolings in between (400 → 100 → 20 nodes), a Gaussian latent per pooled
node, and a decoder that mirrors the encoder with the encoder's own assignment matrices:
``X = S X_pooled``, ``A = S A Sᵀ`` (degree-normalised). Loss: MSE + KL + MinCut and orthogonality
regularisers, Adam 1e-3.

Fixed relative to the public code: every loss and metric is masked to real hits (never averaged over
padding), separate heads give μ and log σ², assignments are softmaxed (and masked), node slots are
not normalised, and evaluation runs in eval mode (the trainer and :func:`load_run` see to that).
Like the seeds' model, it cannot generate from the prior: its decoder needs S and A of a real event.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.nn import DenseSAGEConv, dense_mincut_pool

from mlfastsim.data.representations import knn_graph
from mlfastsim.models.base import Batch
from mlfastsim.models.nn import gaussian_kl, reparameterise

__all__ = ["GVAEPaper", "GVAEPaperConfig", "dense_knn_adjacency"]


@dataclass(frozen=True)
class GVAEPaperConfig:
    """Settings of the seeds' graph VAE (defaults: their published choices)."""

    n_max: int = 400
    n_features: int = 3
    n_cond: int = 0
    k: int = 4
    clusters: tuple[int, int] = (100, 20)
    hidden: tuple[int, int] = (32, 64)
    latent: int = 8
    beta_kl: float = 1e-3
    #: MinCut and orthogonality regulariser weights: seed 001's code (``train.py`` of the repository its
    #: text links, github.com/dinesh110598/Quark_Gluon_Data: ``mse + KL_div + 0.1*graph_reg`` with
    #: ``graph_reg = L1 + L2``); its text only says "a regularization term". At 1.0 the regularisers win
    #: over the MSE and the energies are not learned (issue 12: median reconstruction EMD 34.8 GeV).
    weight_mincut: float = 0.1
    weight_ortho: float = 0.1

    def batch_keys(self) -> frozenset[str]:
        """Hits only (the seeds' model is unconditional)."""
        return frozenset(("features", "mask"))


def dense_knn_adjacency(positions: Tensor, mask: Tensor, k: int) -> Tensor:
    """Symmetric 0/1 adjacency ``[B, n, n]`` of the kNN graph of real hits (no self-loops, no padding)."""
    b, n, _ = positions.shape
    idx = knn_graph(positions, mask, k)
    adj = torch.zeros(b, n, n, device=positions.device, dtype=positions.dtype)
    adj.scatter_(2, idx, 1.0)
    adj = torch.maximum(adj, adj.transpose(1, 2))
    adj = adj * (1.0 - torch.eye(n, device=positions.device, dtype=positions.dtype))
    m = mask.to(adj.dtype)
    return adj * m.unsqueeze(1) * m.unsqueeze(2)


def _normalise_adjacency(adj: Tensor) -> Tensor:
    """``D^-1/2 A D^-1/2`` with a zero diagonal, as MinCut pooling does."""
    n = adj.shape[-1]
    adj = adj * (1.0 - torch.eye(n, device=adj.device, dtype=adj.dtype))
    d = adj.sum(-1).clamp_min(1e-12).sqrt()
    return adj / d.unsqueeze(-1) / d.unsqueeze(-2)


class GVAEPaper(nn.Module):
    """The seeds' DenseSAGE + MinCut graph VAE (a reconstructing autoencoder, not a generator)."""

    def __init__(self, config: GVAEPaperConfig) -> None:
        super().__init__()
        self.config = config
        f, (h1, h2), (c1, c2), lat = config.n_features, config.hidden, config.clusters, config.latent
        self.conv1 = DenseSAGEConv(f, h1)
        self.pool1 = nn.Linear(h1, c1)
        self.conv2 = DenseSAGEConv(h1, h2)
        self.pool2 = nn.Linear(h2, c2)
        self.conv3 = DenseSAGEConv(h2, h2)
        self.mu = nn.Linear(h2, lat)
        self.logvar = nn.Linear(h2, lat)
        self.dconv3 = DenseSAGEConv(lat, h2)
        self.dconv2 = DenseSAGEConv(h2, h1)
        self.dconv1 = DenseSAGEConv(h1, f)

    def _encode(self, batch: Batch) -> dict[str, Tensor]:
        x, mask = batch["features"], batch["mask"]
        x = x * mask.unsqueeze(-1).to(x.dtype)
        adj = dense_knn_adjacency(x[..., :2], mask, self.config.k)
        h = torch.relu(self.conv1(x, adj, mask))
        logits1 = self.pool1(h)
        s1 = torch.softmax(logits1, -1) * mask.unsqueeze(-1).to(h.dtype)
        h, adj1, mc1, o1 = dense_mincut_pool(h, adj, logits1, mask)
        h = torch.relu(self.conv2(h, adj1))
        logits2 = self.pool2(h)
        s2 = torch.softmax(logits2, -1)
        h, adj2, mc2, o2 = dense_mincut_pool(h, adj1, logits2)
        h = torch.relu(self.conv3(h, adj2))
        return {
            "mu": self.mu(h),
            "logvar": self.logvar(h),
            "s1": s1,
            "s2": s2,
            "adj2": adj2,
            "mincut": mc1 + mc2,
            "ortho": o1 + o2,
        }

    def _decode(self, z: Tensor, enc: dict[str, Tensor], mask: Tensor) -> Tensor:
        s1, s2, adj2 = enc["s1"], enc["s2"], enc["adj2"]
        h = torch.relu(self.dconv3(z, adj2))
        h = s2 @ h  # X = S X_pooled: 20 → 100 nodes
        adj1 = _normalise_adjacency(s2 @ adj2 @ s2.transpose(1, 2))  # A = S A Sᵀ
        h = torch.relu(self.dconv2(h, adj1))
        h = s1 @ h  # 100 → 400 nodes
        adj0 = _normalise_adjacency(s1 @ adj1 @ s1.transpose(1, 2))
        return self.dconv1(h, adj0, mask)

    def _masked_mse(self, out: Tensor, batch: Batch) -> Tensor:
        """Mean squared error per jet over its real hits and all features → ``[B]``."""
        m = batch["mask"].to(out.dtype)
        se = ((out - batch["features"]) ** 2).sum(-1) * m
        return se.sum(1) / (m.sum(1).clamp_min(1.0) * out.shape[-1])

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        enc = self._encode(batch)
        z = reparameterise(enc["mu"], enc["logvar"])
        out = self._decode(z, enc, batch["mask"])
        mse = self._masked_mse(out, batch).mean()
        kl = gaussian_kl(enc["mu"], enc["logvar"]).mean()
        cfg = self.config
        total = mse + cfg.beta_kl * kl + cfg.weight_mincut * enc["mincut"] + cfg.weight_ortho * enc["ortho"]
        return {"loss": total, "mse": mse, "kl": kl, "mincut": enc["mincut"], "ortho": enc["ortho"]}

    def reconstruct(self, batch: Batch) -> Batch:
        """Decode the posterior mean; hits keep the input's mask (the decoder is tied to it)."""
        enc = self._encode(batch)
        out = self._decode(enc["mu"], enc, batch["mask"])
        return {"features": out * batch["mask"].unsqueeze(-1).to(out.dtype), "mask": batch["mask"]}

    def score(self, batch: Batch) -> Tensor:
        """Anomaly score: masked reconstruction MSE per jet ``[B]`` (as the seeds use it)."""
        enc = self._encode(batch)
        return self._masked_mse(self._decode(enc["mu"], enc, batch["mask"]), batch)
