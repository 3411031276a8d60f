"""Seeds and generators: no global RNG anywhere in mlfastsim."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["make_rng", "shard_seed", "torch_generator"]


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a numpy Generator: the given one, or a new PCG64 seeded with ``seed``.

    ``None`` draws fresh OS entropy (not reproducible); pass an int to reproduce.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def shard_seed(seed: int, shard: int, n_shards: int, stream: str = "") -> int:
    """An independent 32-bit seed for shard ``shard`` of ``n_shards`` derived from ``seed``.

    Uses numpy's SeedSequence with (seed, shard, n_shards, stream) as entropy, so shards of one
    job never share a random stream, the same arguments always give the same seed, and different
    ``stream`` names (e.g. "pythia", "detector") give independent streams. The result is
    in [1, 900_000_000], the range Pythia's ``Random:seed`` accepts.
    """
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard index {shard} is outside 0..{n_shards - 1}")
    words = [int(seed) & 0xFFFFFFFF, shard, n_shards, *stream.encode()]
    state = np.random.SeedSequence(words).generate_state(1, dtype=np.uint32)[0]
    return int(state % 900_000_000) + 1


def torch_generator(
    seed: int | torch.Generator | None, device: str | torch.device = "cpu"
) -> torch.Generator:
    """Return a torch Generator on ``device``: the given one, or a new one seeded with ``seed``."""
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen
