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

No work on padding (``padding = "skip"``, the default): each jet's real hits are moved to its first slots,
the kNN graph is built over real hits only (:func:`~mlfastsim.data.knn.knn_real_hits`, the same graph as
the dense :func:`~mlfastsim.data.representations.knn_graph`, ties to the more energetic hit), and the dense
layers run on blocks of ``block`` jets of similar hit counts, each cut to its longest jet. Padded slots
never changed an output, so the model computes the same function as over all ``n_max`` slots
(``padding = "dense"``, kept to measure the difference; there the kNN's ties fall as ``torch.topk`` puts
them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.nn import DenseSAGEConv, dense_mincut_pool

from mlfastsim.data.knn import knn_real_hits
from mlfastsim.data.representations import knn_graph
from mlfastsim.models.base import Batch
from mlfastsim.models.nn import gaussian_kl, reparameterise

__all__ = ["GVAEPaper", "GVAEPaperConfig", "KnnOperator", "dense_knn_adjacency"]


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
    #: ``skip``: graph and dense layers over real hits only (blocks of ``block`` jets of similar size);
    #: ``dense``: everything over all ``n_max`` slots, as before issue 12 (the same function, slower).
    padding: str = "skip"
    block: int = 16

    def __post_init__(self) -> None:
        if self.padding not in ("skip", "dense"):
            raise ValueError(f"model.padding={self.padding!r}: choose 'skip' (default) or 'dense'")
        if self.block < 1:
            raise ValueError(f"model.block={self.block}: give a positive number of jets per dense block")

    def batch_keys(self) -> frozenset[str]:
        """Hits only (the seeds' model is unconditional)."""
        return frozenset(("features", "mask"))


def dense_knn_adjacency(positions: Tensor, mask: Tensor, k: int, idx: Tensor | None = None) -> Tensor:
    """Symmetric 0/1 adjacency ``[B, n, n]`` of the kNN graph of real hits (no self-loops, no padding);
    ``idx [B, n, k]``: neighbour slots already found (default: the dense ``knn_graph``)."""
    b, n, _ = positions.shape
    if idx is None:
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


class KnnOperator:
    """The symmetric kNN adjacency ``A = max(K, Kᵀ)`` of :func:`dense_knn_adjacency` as neighbour lists.

    ``idx [B, n, k]``: neighbour slots (self for none), ``mask [B, n]``. ``A v = K v + Kᵀ v − (K∘Kᵀ) v`` costs
    O(n k F); :meth:`sage` and :meth:`mincut_pool` give ``DenseSAGEConv`` and ``dense_mincut_pool`` on the
    dense ``A`` without forming it (the same numbers up to rounding).
    """

    def __init__(self, idx: Tensor, mask: Tensor) -> None:
        b, n, k = idx.shape
        own = torch.arange(n, device=idx.device).view(1, n, 1)
        self.idx, self.mask = idx, mask
        self.valid = (idx != own) & mask.unsqueeze(-1) & mask.gather(1, idx.flatten(1)).view(b, n, k)
        back = idx[torch.arange(b, device=idx.device).unsqueeze(1), idx.flatten(1)].view(b, n, k, k)
        self.mutual = self.valid & (back == own.unsqueeze(-1)).any(-1)
        self.degree = self.apply(torch.ones(b, n, 1, device=idx.device))  # [B, n, 1]

    def _gather(self, v: Tensor, weight: Tensor) -> Tensor:
        b, n, k = self.idx.shape
        picked = v[torch.arange(b, device=v.device).unsqueeze(1), self.idx.flatten(1)].view(b, n, k, -1)
        return (picked * weight.unsqueeze(-1).to(v.dtype)).sum(2)

    def apply(self, v: Tensor) -> Tensor:
        """``A v`` for ``v [B, n, F]``."""
        sent = (v.unsqueeze(2) * self.valid.unsqueeze(-1).to(v.dtype)).flatten(
            1, 2
        )  # Kᵀ v: i → its neighbours
        into = self.idx.flatten(1).unsqueeze(-1).expand(-1, -1, v.shape[-1])
        transposed = torch.zeros_like(v).scatter_add(1, into, sent)
        return self._gather(v, self.valid) + transposed - self._gather(v, self.mutual)

    def sage(self, conv: DenseSAGEConv, x: Tensor) -> Tensor:
        """``conv(x, A, mask)``."""
        agg = self.apply(x) / self.degree.clamp(min=1)
        return (conv.lin_rel(agg) + conv.lin_root(x)) * self.mask.unsqueeze(-1).to(x.dtype)

    def mincut_pool(self, x: Tensor, s: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``dense_mincut_pool(x, A, logits, mask)`` given the masked softmax assignments ``s [B, n, c]``."""
        x = x * self.mask.unsqueeze(-1).to(x.dtype)
        st = s.transpose(1, 2)
        pooled, out_adj = st @ x, st @ self.apply(s)
        num = torch.diagonal(out_adj, dim1=-2, dim2=-1).sum(-1)
        den = (self.degree * s * s).sum((1, 2))
        mincut = (-(num / den)).mean()
        ss = st @ s
        eye = torch.eye(s.shape[-1], device=s.device, dtype=s.dtype)
        ortho = torch.linalg.matrix_norm(
            ss / torch.linalg.matrix_norm(ss, keepdim=True) - eye / eye.norm()
        ).mean()
        out_adj = out_adj * (1.0 - eye)
        d = torch.sqrt(out_adj.sum(-1))[:, None] + 1e-15
        return pooled, (out_adj / d) / d.transpose(1, 2), mincut, ortho


def _sage_on_product(conv: DenseSAGEConv, h: Tensor, s: Tensor, a: Tensor, mask: Tensor) -> Tensor:
    """``conv(h, _normalise_adjacency(s @ a @ sᵀ), mask)`` without forming the ``[B, n, n]`` adjacency.

    With ``P = S A`` (``[B, n, c]``), the diagonal ``δ_i = P_i · S_i`` and degrees ``d = P Sᵀ1 − δ``, the
    normalised adjacency times any ``v`` is ``D^-½ (P (Sᵀ D^-½ v) − δ ∘ D^-½ v)``: O(n c (c + F)) instead
    of O(n² (c + F)), the same numbers up to rounding."""
    p = s @ a
    diag = (p * s).sum(-1, keepdim=True)  # [B, n, 1]
    deg = (p @ s.sum(1).unsqueeze(-1) - diag).clamp_min(1e-12).sqrt()  # [B, n, 1]

    def apply(v: Tensor) -> Tensor:  # normalised adjacency @ v
        u = v / deg
        return (p @ (s.transpose(1, 2) @ u) - diag * u) / deg

    agg = apply(h) / apply(torch.ones_like(deg)).clamp(min=1)
    out = conv.lin_rel(agg) + conv.lin_root(h)
    return out * mask.unsqueeze(-1).to(h.dtype)


@dataclass
class _Blocks:
    """A batch laid out for the dense layers: real hits first in every jet (``order [B, n]``: slot ``s`` of
    the new layout holds input slot ``order[:, s]``), features and mask in that layout, kNN neighbour slots
    ``idx [B, n, k]`` in it, and blocks of jets (indices, slots kept)."""

    features: Tensor
    mask: Tensor
    idx: Tensor | None
    order: Tensor | None
    blocks: list[tuple[Tensor, int]]


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

    def _layout(self, batch: Batch) -> _Blocks:
        x, mask = batch["features"], batch["mask"]
        if self.config.padding == "dense":
            x = x * mask.unsqueeze(-1).to(x.dtype)
            return _Blocks(x, mask, None, None, [(torch.arange(len(x), device=x.device), x.shape[1])])
        order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # real hits first, in slot order
        mask = mask.gather(1, order)
        x = x.gather(1, order.unsqueeze(-1).expand_as(x)) * mask.unsqueeze(-1).to(x.dtype)
        idx = knn_real_hits(x[..., :2], mask, self.config.k)
        counts = mask.sum(1)
        jets = torch.argsort(counts, stable=True)
        blocks = [(ids, max(int(counts[ids].max()), 1)) for ids in jets.split(self.config.block)]
        return _Blocks(x, mask, idx, order, blocks)

    def _encode(self, x: Tensor, mask: Tensor, idx: Tensor | None) -> dict[str, Tensor]:
        if idx is None:  # padding = "dense": the n × n adjacency, as before issue 12
            adj = dense_knn_adjacency(x[..., :2], mask, self.config.k)
            h = torch.relu(self.conv1(x, adj, mask))
            logits1 = self.pool1(h)
            s1 = torch.softmax(logits1, -1) * mask.unsqueeze(-1).to(h.dtype)
            h, adj1, mc1, o1 = dense_mincut_pool(h, adj, logits1, mask)
        else:  # the same layers on the kNN neighbour lists (O(n k) instead of O(n²))
            graph = KnnOperator(idx, mask)
            h = torch.relu(graph.sage(self.conv1, x))
            logits1 = self.pool1(h)
            s1 = torch.softmax(logits1, -1) * mask.unsqueeze(-1).to(h.dtype)
            h, adj1, mc1, o1 = graph.mincut_pool(h, s1)
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
        if self.config.padding == "skip":  # the same layer without the n × n matrix
            return _sage_on_product(self.dconv1, h, s1, adj1, mask)
        adj0 = _normalise_adjacency(s1 @ adj1 @ s1.transpose(1, 2))
        return self.dconv1(h, adj0, mask)

    def _run(self, batch: Batch, sample: bool) -> dict[str, Tensor]:
        """Encode and decode block by block: ``out [B, n, F]`` in the input's slots (padding 0), per-jet
        ``kl [B]``, the batch means of the MinCut and orthogonality losses."""
        lay = self._layout(batch)
        b, n, f = lay.features.shape
        out = lay.features.new_zeros(b, n, f)
        kl = lay.features.new_zeros(b)
        mincut = ortho = lay.features.new_zeros(())
        for ids, keep in lay.blocks:
            x, mask = lay.features[ids, :keep], lay.mask[ids, :keep]
            enc = self._encode(x, mask, None if lay.idx is None else lay.idx[ids, :keep])
            z = reparameterise(enc["mu"], enc["logvar"]) if sample else enc["mu"]
            rec = self._decode(z, enc, mask) * mask.unsqueeze(-1).to(x.dtype)
            out = out.index_put((ids,), torch.nn.functional.pad(rec, (0, 0, 0, n - keep)))
            kl = kl.index_put((ids,), gaussian_kl(enc["mu"], enc["logvar"]))
            share = len(ids) / b  # dense_mincut_pool averages over its jets
            mincut, ortho = mincut + share * enc["mincut"], ortho + share * enc["ortho"]
        if lay.order is not None:  # back to the input's slots
            out = torch.zeros_like(out).scatter(1, lay.order.unsqueeze(-1).expand_as(out), out)
        return {"out": out, "kl": kl, "mincut": mincut, "ortho": ortho}

    def _masked_mse(self, out: Tensor, batch: Batch) -> Tensor:
        """Mean squared error per jet over its real hits and all features → ``[B]``."""
        m = batch["mask"].to(out.dtype)
        se = ((out - batch["features"]) ** 2).sum(-1) * m
        return se.sum(1) / (m.sum(1).clamp_min(1.0) * out.shape[-1])

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        run = self._run(batch, sample=True)
        mse = self._masked_mse(run["out"], batch).mean()
        kl = run["kl"].mean()
        cfg = self.config
        total = mse + cfg.beta_kl * kl + cfg.weight_mincut * run["mincut"] + cfg.weight_ortho * run["ortho"]
        return {"loss": total, "mse": mse, "kl": kl, "mincut": run["mincut"], "ortho": run["ortho"]}

    def reconstruct(self, batch: Batch) -> Batch:
        """Decode the posterior mean; hits keep the input's mask (the decoder is tied to it)."""
        return {"features": self._run(batch, sample=False)["out"], "mask": batch["mask"]}

    def score(self, batch: Batch) -> Tensor:
        """Anomaly score: masked reconstruction MSE per jet ``[B]`` (as the seeds use it)."""
        return self._masked_mse(self._run(batch, sample=False)["out"], batch)
