"""Distilling a conditional flow into a plain MLP student, shared by ``flow-pid`` and ``flow-shower``.

The student S(z, c) is regressed (L1) onto the trained flow's own map z ↦ f⁻¹(z; c) on fresh (z, c) pairs, c
drawn from the training conditions — probability-density distillation in the spirit of van den Oord et al.,
"Parallel WaveNet", arXiv:1711.10433, here by plain regression since the teacher's map is known. The student
then samples at a GAN's cost (one MLP call, no spline inversion) and is what export ships.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import torch
from torch import Tensor, nn

from mlfastsim._utils.progress import progress

__all__ = ["fit_student"]


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
    with ``seed`` on ``cond_all``'s device, the teacher evaluated in chunks (50,000 rows, fewer for wide outputs) without gradients;
    ``steps`` Adam steps of ``batch`` pairs at ``lr`` with a cosine decay. Returns the mean |S − f⁻¹| over the
    last 100 steps (``student_l1_fit``) and on 20,000 fresh held-out pairs (``student_l1_heldout``), in the
    teacher's units. The student is left in eval mode without gradients.
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
