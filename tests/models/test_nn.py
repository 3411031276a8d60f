"""Shared blocks: the truncated normal that keeps generated energies above the zero-suppression threshold."""

from __future__ import annotations

import torch
from scipy.stats import truncnorm

from mlfastsim.models.nn import truncated_normal


def test_truncated_normal_matches_scipy_near_and_deep_in_the_tail() -> None:
    for low in (-1.0, 0.5, 3.0, 8.0, 30.0):
        z = truncated_normal(torch.full((200_000,), low), torch.Generator().manual_seed(0))
        assert z.min() >= low
        mean, std = truncnorm.stats(low, 60.0, moments="mv")
        assert abs(z.mean().item() - float(mean)) < 0.01 * max(1.0, abs(float(mean)))
        assert abs(z.std().item() - float(std) ** 0.5) < 0.02 * max(float(std) ** 0.5, 0.05)


def test_truncated_normal_is_reproducible_from_its_generator() -> None:
    low = torch.linspace(-3, 3, 50)
    a = truncated_normal(low, torch.Generator().manual_seed(4))
    b = truncated_normal(low, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
