"""The calorimeter's own graph: hits linked to the hits in adjacent cells, found in O(n) without an n × n matrix."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mlfastsim.models.nn import batched_take, mlp

__all__ = ["GRID", "CellMessagePassing", "cell_indices", "cell_neighbours", "channel_neighbours", "own_cells"]

#: Side of the cell grid (jet-image size); cells outside it are dropped when sampling.
GRID = 125


def cell_indices(x: Tensor, scale: tuple[float, float], offset: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Cell (row, column) of positions ``x [..., ≥2]`` in normalised units: ``rint(x · scale + offset)`` (int64)."""
    row = torch.round(x[..., 0] * scale[0] + offset[0]).long()
    col = torch.round(x[..., 1] * scale[1] + offset[1]).long()
    return row, col


def cell_neighbours(row: Tensor, col: Tensor, mask: Tensor, size: int = GRID) -> Tensor:
    """Indices of the hits in the 8 adjacent cells of every hit, via a cell-index map (O(n), no n × n).

    Args:
        row, col: int64 ``[B, n]`` cell indices of the hits; mask: bool ``[B, n]`` real hits.

    Returns:
        int64 ``[B, n, 8]``; an empty neighbour cell, a cell outside the grid and every padded slot
        point to the hit itself. Hits sharing a cell (several channels) see one of them.
    """
    b, n = row.shape
    dev = row.device
    pad = size + 2
    inside = mask & (row >= 0) & (row < size) & (col >= 0) & (col < size)
    flat = torch.where(inside, (row + 1) * pad + (col + 1), torch.zeros_like(row))
    grid = torch.full((b, pad * pad), -1, dtype=torch.long, device=dev)
    hit_index = torch.arange(n, device=dev).expand(b, n)
    grid.scatter_(1, torch.where(inside, flat, torch.zeros_like(flat)), torch.where(inside, hit_index, -1))
    grid[:, 0] = -1
    offsets = torch.tensor([dr * pad + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc], device=dev)
    cells = (flat.unsqueeze(-1) + offsets).clamp(0, pad * pad - 1)
    nb = torch.gather(grid, 1, cells.view(b, -1)).view(b, n, 8)
    own = hit_index.unsqueeze(-1).expand(b, n, 8)
    ok = (nb >= 0) & inside.unsqueeze(-1)
    return torch.where(ok, nb, own)


def own_cells(row: Tensor, col: Tensor, ch: Tensor, sides: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Crystal indices ``row, col [B, n]`` → the (row, column) of the cell of each hit's channel ``ch [B, n]``
    (its slot in ``sides``, the cell side in crystals of each channel: 1 crystals, 5 HCAL towers).

    Cells stay on their own ``GRID // side`` grid; a crystal outside the window stays outside."""
    if all(side == 1 for side in sides):
        return row, col
    side = torch.tensor(sides, device=row.device, dtype=row.dtype)[ch]
    return torch.div(row, side, rounding_mode="floor"), torch.div(col, side, rounding_mode="floor")


def centre_crystals(row: Tensor, col: Tensor, ch: Tensor, sides: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`own_cells`: cells ``row, col [B, n]`` on each channel's own grid → the crystal
    at each cell's centre (a tower's middle crystal; a crystal is its own centre)."""
    if all(side == 1 for side in sides):
        return row, col
    side = torch.tensor(sides, device=row.device, dtype=row.dtype)[ch]
    return row * side + side // 2, col * side + side // 2


def channel_neighbours(row: Tensor, col: Tensor, ch: Tensor, mask: Tensor, sides: tuple[int, ...]) -> Tensor:
    """:func:`cell_neighbours` of every hit among the hits of its own channel, on that channel's cells.

    Args:
        row, col: int64 ``[B, n]`` crystal indices; ch: int64 ``[B, n]`` channel slot; mask: bool ``[B, n]``.
        sides: cell side in crystals per channel slot (a tower's neighbours are the adjacent towers).

    Returns:
        int64 ``[B, n, 8]`` as :func:`cell_neighbours`.
    """
    r, c = own_cells(row, col, ch, sides)
    if len(sides) == 1:
        return cell_neighbours(r, c, mask, GRID // sides[0])
    nb = cell_neighbours(r, c, mask & (ch == 0), GRID // sides[0])
    for slot, side in enumerate(sides[1:], start=1):
        mine = ch == slot
        nb = torch.where(mine.unsqueeze(-1), cell_neighbours(r, c, mask & mine, GRID // side), nb)
    return nb


class CellMessagePassing(nn.Module):
    """``h_i ← h_i + MLP([h_i, mean_j h_j])`` over the neighbour lists (a sparse SAGE layer)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = mlp([2 * width, width, width])

    def forward(self, h: Tensor, nb: Tensor, mask: Tensor) -> Tensor:
        b, n, w = h.shape
        gathered = batched_take(h, nb.reshape(b, -1)).view(b, n, nb.shape[-1], w)
        out = h + self.net(torch.cat([h, gathered.mean(2)], -1))
        return out * mask.unsqueeze(-1).to(h.dtype)
