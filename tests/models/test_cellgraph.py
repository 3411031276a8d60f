"""The cell-neighbour graph against a brute-force search over all pairs of hits."""

from __future__ import annotations

import torch

from mlfastsim.models.cellgraph import cell_indices, cell_neighbours


def test_neighbours_are_exactly_the_hits_in_adjacent_cells() -> None:
    g = torch.Generator().manual_seed(0)
    b, n = 4, 60
    cells = torch.stack([torch.randperm(144, generator=g)[:n] for _ in range(b)])  # a 12 × 12 patch
    row, col = cells // 12 + 56, cells % 12 + 56
    row[0, 0], col[0, 0] = 0, 124  # a hit in the grid's corner: its outer neighbours are off the grid
    mask = torch.rand(b, n, generator=g) > 0.2
    nb = cell_neighbours(row, col, mask)
    for j in range(b):
        for i in range(n):
            found = set(nb[j, i].tolist()) - {i}
            if not mask[j, i]:
                assert found == set(), "padded slots point only to themselves"
                continue
            expected = {
                k
                for k in range(n)
                if k != i and mask[j, k] and max(abs(row[j, k] - row[j, i]), abs(col[j, k] - col[j, i])) == 1
            }
            assert found == expected


def test_cell_indices_round_to_the_nearest_cell() -> None:
    x = torch.tensor([[0.0, 0.0], [0.26, -0.24], [1.0, 2.0]])
    row, col = cell_indices(x, (2.0, 2.0), (62.0, 62.0))
    assert row.tolist() == [62, 63, 64] and col.tolist() == [62, 62, 66]
