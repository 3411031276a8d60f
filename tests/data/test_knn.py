"""kNN over real hits only (``knn_real_hits``): the dense ``knn_graph``'s graph, without work on padding."""

from __future__ import annotations

import torch

from mlfastsim.data.knn import knn_real_hits
from mlfastsim.data.representations import knn_graph


def _scattered_mask(b: int, n: int, g: torch.Generator) -> torch.Tensor:
    """Real hits anywhere among the slots (not only first), 0 to n per jet."""
    counts = torch.randint(0, n + 1, (b, 1), generator=g)
    counts[0], counts[1], counts[2] = 0, 1, 3  # an empty jet, a lone hit, fewer hits than k + 1
    ranks = torch.stack([torch.randperm(n, generator=g) for _ in range(b)])
    return ranks < counts


def _dense_reference(pos: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """All n × n distances as knn_graph computes them, ties to the lower slot (a stable sort)."""
    b, n, _ = pos.shape
    diff = pos.unsqueeze(2) - pos.unsqueeze(1)
    dist = (diff * diff).sum(-1)
    valid = mask.unsqueeze(1) & mask.unsqueeze(2) & ~torch.eye(n, dtype=torch.bool)
    s = torch.sort(dist.masked_fill(~valid, float("inf")), dim=-1, stable=True)
    own = torch.arange(n).view(1, n, 1).expand(b, n, k)
    return torch.where(torch.isfinite(s.values[..., :k]), s.indices[..., :k], own)


def test_same_neighbours_as_the_dense_graph_on_real_hits() -> None:
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(24, 50, 2, generator=g)  # continuous: no ties
    mask = _scattered_mask(24, 50, g)
    for k in (1, 4, 7):
        fast, dense = knn_real_hits(pos, mask, k), knn_graph(pos, mask, k)
        assert torch.equal(fast[mask], dense[mask])
        own = torch.arange(50).view(1, 50, 1).expand(24, 50, k)
        assert torch.equal(fast[~mask], own[~mask])  # padded slots point to themselves


def test_grid_ties_go_to_the_lower_slot_and_match_the_dense_distances() -> None:
    g = torch.Generator().manual_seed(1)
    cells = torch.stack([torch.randperm(144, generator=g)[:60] for _ in range(16)])
    pos = torch.stack([cells // 12, cells % 12], -1).float() * torch.tensor([0.7, 1.3])  # many ties
    mask = _scattered_mask(16, 60, g)
    fast = knn_real_hits(pos, mask, 4)
    assert torch.equal(fast, _dense_reference(pos, mask, 4))
    dense = knn_graph(pos, mask, 4)  # torch.topk breaks ties its own way: same distances
    diff = pos.unsqueeze(2) - pos.unsqueeze(1)
    dist = (diff * diff).sum(-1)
    d_fast, d_dense = dist.gather(2, fast), dist.gather(2, dense)
    assert torch.equal(d_fast[mask], d_dense[mask])


def test_padding_never_enters_whatever_its_positions() -> None:
    g = torch.Generator().manual_seed(2)
    pos = torch.randn(8, 40, 2, generator=g)
    mask = _scattered_mask(8, 40, g)
    near = pos.clone()
    # every padded slot sits on top of a real hit of its jet (or of another jet): the nearest point there
    src = torch.randint(0, 40, (8, 40), generator=g)
    near[~mask] = pos[torch.arange(8).unsqueeze(1).expand(8, 40), src][~mask] + 1e-4
    fast = knn_real_hits(near, mask, 4)
    assert torch.equal(fast, knn_real_hits(pos, mask, 4))
    real_neighbour = mask.gather(1, fast.flatten(1)).view_as(fast)
    own = fast == torch.arange(40).view(1, 40, 1)
    assert (real_neighbour | own).all()


def test_jets_never_mix_in_one_batch() -> None:
    pos = torch.zeros(2, 3, 2)
    pos[0, :, 0] = torch.tensor([0.0, 10.0, 20.0])
    pos[1, :, 0] = torch.tensor([0.1, 10.1, 20.1])  # the other jet's hits are nearer than its own
    mask = torch.ones(2, 3, dtype=torch.bool)
    idx = knn_real_hits(pos, mask, 1)
    assert idx[:, :, 0].tolist() == [[1, 0, 1], [1, 0, 1]]
