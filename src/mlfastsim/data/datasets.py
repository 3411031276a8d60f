"""Torch datasets of hit clouds (normalised once, served as dicts of tensors) and the train/validation split."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from mlfastsim._utils import make_rng
from mlfastsim.data.normalisation import ConditionNormaliser, HitNormaliser
from mlfastsim.data.schemas import HitCloud

__all__ = ["BatchDataset", "HitCloudDataset", "train_val_split"]


class BatchDataset(Dataset[dict[str, torch.Tensor]]):
    """Events as the batch dicts every model takes: item ``i`` is ``{key: tensor[i]}`` of a codec's batch."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        lengths = {len(v) for v in tensors.values()}
        if len(lengths) > 1:
            raise ValueError(f"every tensor of a batch needs the same number of rows, got {sorted(lengths)}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values()))) if self.tensors else 0

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}


class HitCloudDataset(Dataset[dict[str, torch.Tensor]]):
    """Jets as the batch dicts every model takes (see :mod:`mlfastsim.models.base`).

    Item ``i`` is ``{"features": [n_max, F], "mask": [n_max], "cond": [C]}`` plus, when ``gen`` is
    given, ``"gen_features": [m_max, G]`` and ``"gen_mask": [m_max]``; features and conditions are
    normalised with the given (already fitted) normalisers.
    """

    def __init__(
        self,
        cloud: HitCloud,
        cond: np.ndarray,
        norm: HitNormaliser,
        cond_norm: ConditionNormaliser,
        gen: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if len(cond) != len(cloud):
            raise ValueError(f"{len(cloud)} jets but {len(cond)} condition rows")
        self.tensors = {
            "features": torch.as_tensor(norm.transform(cloud.features, cloud.mask)),
            "mask": torch.as_tensor(cloud.mask, dtype=torch.bool),
            "cond": torch.as_tensor(cond_norm.transform(cond)),
        }
        if gen is not None:
            self.tensors["gen_features"] = torch.as_tensor(gen[0], dtype=torch.float32)
            self.tensors["gen_mask"] = torch.as_tensor(gen[1], dtype=torch.bool)

    def __len__(self) -> int:
        return len(self.tensors["mask"])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}


def train_val_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into sorted (train, validation) index arrays.

    At least one jet stays in training; ``val_fraction = 0`` gives an empty validation set.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    perm = make_rng(seed).permutation(n)
    n_val = min(round(n * val_fraction), n - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
