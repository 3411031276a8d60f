"""Distilling a conditional flow into a plain MLP student, shared by ``flow-pid`` and ``flow-shower``.

The student S(z, c) is regressed (L1) onto the trained flow's own map z ↦ f⁻¹(z; c) on fresh (z, c) pairs, c
drawn from the training conditions — probability-density distillation in the spirit of van den Oord et al.,
"Parallel WaveNet", arXiv:1711.10433, here by plain regression since the teacher's map is known. The student
then samples at a GAN's cost (one MLP call, no spline inversion) and is what export ships.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import torch
import zuko
from torch import Tensor, nn

from mlfastsim._utils.progress import progress
from mlfastsim.models.base import Batch
from mlfastsim.models.nn import LeakyReLU02, mlp

__all__ = ["DistilledFlow", "fit_student"]


class DistilledFlow:
    """What ``flow-pid`` and ``flow-shower`` share: a conditional zuko flow ``self.flow`` of ``noise_width``
    entries and its student. The class sets ``self.config`` (with ``distill``, ``student_hidden``,
    ``distill_pairs``, ``distill_steps``, ``distill_batch``, ``distill_lr``), ``self.flow`` and the condition
    bank, and calls :meth:`_init_student` in ``__init__``."""

    config: Any
    flow: zuko.flows.Flow
    condition_bank: Tensor
    student_fitted: Tensor
    noise_width: int
    family: str

    def _init_student(self, n_cond: int) -> None:
        """Register the student MLP (no gradients until fitted) and its ``student_fitted`` flag."""
        assert isinstance(self, nn.Module)
        c, width = self.config, self.noise_width
        self.student = mlp([width + n_cond, *c.student_hidden, width], activation=LeakyReLU02)
        self.student.requires_grad_(False)  # no part of the likelihood: fitted after training only
        self.register_buffer("student_fitted", torch.zeros((), dtype=torch.bool))

    def from_noise(self, noise: Tensor, cond: Tensor) -> Tensor:
        """The flow's outputs ``[B, noise_width]`` = f⁻¹(``noise [B, noise_width]``; ``cond [B, n_cond]``)."""
        return self.flow(cond).transform.inv(noise)

    def generator(self, noise: Tensor, cond: Tensor) -> Tensor:
        """What ``sample`` maps noise through: the fitted student S(z, c), else the flow's f⁻¹(z; c)."""
        if self.config.distill and bool(self.student_fitted):
            return self.student(torch.cat([noise, cond], dim=1))
        return self.from_noise(noise, cond)

    def fit_second_stage(self, data: Batch, seed: int) -> dict[str, float]:
        """Fit the student to the flow (:func:`fit_student`) on conditions of ``data["cond"]``, reproducibly
        from ``seed`` (the run layer's :class:`~mlfastsim.models.base.SecondStage`). Returns its mean
        |S − f⁻¹| on the last steps and on 20,000 held-out pairs; empty when ``distill`` is off."""
        c = self.config
        if not c.distill:
            return {}
        assert isinstance(self, nn.Module)
        self.eval()
        cond = data["cond"].to(self.condition_bank.device, torch.float32)
        out = fit_student(
            self.student, self.from_noise, cond, self.noise_width, pairs=c.distill_pairs,
            steps=c.distill_steps, batch=c.distill_batch, lr=c.distill_lr, seed=seed,
            desc=f"{self.family}: distilling the student",
        )  # fmt: skip
        self.student_fitted.fill_(True)
        return out


def fit_student(
    student: nn.Module,
    teacher: Callable[[Tensor, Tensor], Tensor],
    cond_all: Tensor,
    noise_dim: int,
    *,
    pairs: int,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    desc: str,
) -> dict[str, float]:
    """Fit ``student`` (an MLP of ``[z ⊕ c]``) to ``teacher(z [n, noise_dim], c [n, C]) → x`` in place.

    ``pairs`` (z, c) pairs (z standard normal, c rows of ``cond_all [K, C]``) drawn from a generator seeded
    with ``seed`` on ``cond_all``'s device, the teacher evaluated without gradients in chunks (50,000 rows,
    fewer for wide outputs); ``steps`` Adam steps of ``batch`` pairs at ``lr`` with a cosine decay. Returns
    the mean |S − f⁻¹| over the last 100 steps (``student_l1_fit``) and on 20,000 fresh held-out pairs
    (``student_l1_heldout``), in the teacher's units. The student is left in eval mode without gradients.
    """
    dev = cond_all.device
    g = torch.Generator(device=dev).manual_seed(seed)

    chunk = min(50_000, max(1_000, 300_000 // noise_dim))  # the teacher's temporaries grow with the width

    def draw(n: int) -> tuple[Tensor, Tensor]:
        cond = cond_all[torch.randint(len(cond_all), (n,), generator=g, device=dev)]
        z = torch.randn(n, noise_dim, generator=g, device=dev)
        with torch.no_grad():
            x = torch.cat([teacher(z[i : i + chunk], cond[i : i + chunk]) for i in range(0, n, chunk)])
        return torch.cat([z, cond], dim=1), x

    inputs, targets = draw(pairs)
    held_in, held_out = draw(20_000)
    student.train().requires_grad_(True)
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    recent: deque[Tensor] = deque(maxlen=100)  # the last steps' losses, read once at the end
    for _ in progress(range(steps), desc=desc):
        idx = torch.randint(len(inputs), (batch,), generator=g, device=dev)
        loss = (student(inputs[idx]) - targets[idx]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        recent.append(loss.detach())
    student.eval().requires_grad_(False)
    with torch.no_grad():
        held = float((student(held_in) - held_out).abs().mean())
    fit = float(torch.stack(list(recent)).mean()) if recent else float("nan")
    return {"student_l1_fit": fit, "student_l1_heldout": held}
