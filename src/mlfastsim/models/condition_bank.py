"""A bank of training conditions, shared by the conditional families (``cgan-pid``, ``cgan-shower``,
``cgan-tpc``, ``particle-vae``): ``sample(n)`` without conditions draws them, uniformly with replacement,
from the conditions the model was prepared on, and returns what it drew as ``matched_cond``.

The bank is the buffer ``condition_bank [K, C]`` (float32, normalised conditions; ``K = 0`` until
``prepare``), saved in the checkpoint with the weights; a checkpoint's bank of any size loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from mlfastsim.models.base import Batch

__all__ = ["ConditionBank"]


class ConditionBank(nn.Module):
    """An ``nn.Module`` base class holding the buffer ``condition_bank`` (see the module docstring).

    A subclass calls :meth:`_init_condition_bank` in its ``__init__`` (where it registered the buffer before,
    so the state dict keeps its order), :meth:`store_conditions` in ``prepare`` and
    :meth:`given_or_drawn` (or :meth:`draw_conditions`) in ``sample``.
    """

    condition_bank: Tensor

    def _init_condition_bank(self, n_cond: int) -> None:
        """Register the empty bank ``[0, n_cond]``."""
        self.register_buffer("condition_bank", torch.zeros(0, n_cond))

    def store_conditions(self, cond: Tensor) -> None:
        """Keep ``cond [K, C]`` (a copy, float32, on the bank's device) as the bank."""
        self.condition_bank = cond.detach().to(self.condition_bank.device, torch.float32).clone()

    def store_evenly_spaced(self, cond: Tensor, size: int) -> None:
        """Keep up to ``size`` rows of ``cond [K, C]``, evenly spaced, as the bank (what ``prepare`` does)."""
        step = max(1, len(cond) // max(size, 1))
        self.store_conditions(cond[::step][:size])

    def sample_rows(
        self,
        n: int,
        cond: Batch | None,
        generator: torch.Generator | None,
        noise: int,
        net: Callable[[Tensor, Tensor], Tensor],
        missing: str,
    ) -> Batch:
        """One output row per event: ``{"features": net(z, c), "mask": [n] True}`` with z ``[n, noise]``
        standard normal from ``generator`` and c the given or drawn conditions (:meth:`given_or_drawn`; drawn
        ones also returned as ``matched_cond``)."""
        c, out = self.given_or_drawn(n, cond, generator, missing)
        z = torch.randn(n, noise, generator=generator, device=c.device)
        out["features"] = net(z, c)
        out["mask"] = torch.ones(n, dtype=torch.bool, device=c.device)
        return out

    def _load_from_state_dict(
        self, state_dict: Mapping[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        key = prefix + "condition_bank"
        if key in state_dict:  # the bank takes the stored size
            self.condition_bank = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def needs_conditions(self) -> bool:
        """True when no training conditions are stored to draw from."""
        return len(self.condition_bank) == 0

    def draw_conditions(
        self,
        n: int,
        generator: torch.Generator | None,
        missing: str,
        error: type[Exception] = RuntimeError,
    ) -> Tensor:
        """``[n, C]`` rows of the bank drawn uniformly with replacement (one ``randint`` from ``generator``,
        on the bank's device); ``error(missing)`` when the bank is empty."""
        if len(self.condition_bank) == 0:
            raise error(missing)
        dev = self.condition_bank.device
        pick = torch.randint(len(self.condition_bank), (n,), generator=generator, device=dev)
        return self.condition_bank[pick]

    def given_or_drawn(
        self, n: int, cond: Batch | None, generator: torch.Generator | None, missing: str
    ) -> tuple[Tensor, Batch]:
        """The conditions ``[n, C]`` to generate for: ``cond["cond"]`` (float32, on the bank's device) when
        given, else drawn from the bank (:meth:`draw_conditions`); and the outputs so far: ``{}``, or
        ``{"matched_cond": drawn}``."""
        if cond is not None and "cond" in cond:
            return cond["cond"].to(self.condition_bank.device, torch.float32), {}
        drawn = self.draw_conditions(n, generator, missing)
        return drawn, {"matched_cond": drawn}
