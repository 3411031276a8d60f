"""Adversarial training in the trainer: a tiny conditional GAN learns a shifted Gaussian (WGAN-GP and Cramér),
per-group optimisers and the critic/generator cycle, checkpoints with every group's state, bit-identical
resume, bf16, per-event weights (negative ones cancelling a subpopulation) and DDP on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance
from torch import Tensor
from torch.utils.data import Dataset

from mlfastsim._utils import InputError
from mlfastsim.models.base import Adversarial, GenerativeModel
from mlfastsim.models.gan import (
    cramer_critic_loss,
    cramer_generator_loss,
    energy_distance,
    wgan_critic_loss,
    wgan_generator_loss,
)
from mlfastsim.training import TrainConfig, Trainer, apply_overrides, load_checkpoint
from mlfastsim.training.adversarial import group_cycle, steps_of_group


@dataclass(frozen=True)
class TinyGANConfig:
    """Config of the tiny test GAN: 1-d output, 1-d condition."""

    loss: str = "wgan-gp"
    one_sided: bool = True  # the two-sided penalty can lock a critic that starts reversed (models.gan)
    hidden: int = 16
    noise: int = 2
    critic_steps: int = 2


class TinyGAN(torch.nn.Module):
    """x ~ G(z, c): a tiny conditional GAN on ``features [B, 1]`` given ``cond [B, 1]``; noise from the global
    RNG in training (as the real families draw it)."""

    def __init__(self, config: TinyGANConfig = TinyGANConfig(), seed: int = 0) -> None:
        super().__init__()
        self.config = config
        torch.manual_seed(seed)
        h, out = config.hidden, 1 if config.loss == "wgan-gp" else 4
        self.gen = torch.nn.Sequential(
            torch.nn.Linear(config.noise + 1, h), torch.nn.LeakyReLU(0.2), torch.nn.Linear(h, 1)
        )
        self.critic_net = torch.nn.Sequential(
            torch.nn.Linear(2, h), torch.nn.LeakyReLU(0.2), torch.nn.Linear(h, h), torch.nn.LeakyReLU(0.2),
            torch.nn.Linear(h, out),
        )  # fmt: skip

    def critic(self, x: Tensor, cond: Tensor) -> Tensor:
        score = self.critic_net(torch.cat([x, cond], dim=1))
        return score[:, 0] if self.config.loss == "wgan-gp" else score

    def generate(self, cond: Tensor, generator: torch.Generator | None = None) -> Tensor:
        z = torch.randn(len(cond), self.config.noise, generator=generator)
        return self.gen(torch.cat([z, cond], dim=1))

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"critic": list(self.critic_net.parameters()), "generator": list(self.gen.parameters())}

    def group_steps(self) -> dict[str, int]:
        return {"critic": self.config.critic_steps, "generator": 1}

    def group_loss(self, group: str, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        x, c, w = batch["features"], batch["cond"], batch.get("weight")
        if self.config.loss == "wgan-gp":
            fake = self.generate(c)
            if group == "critic":
                return wgan_critic_loss(self.critic, x, fake, c, w, one_sided=self.config.one_sided)
            return {"loss": wgan_generator_loss(self.critic, fake, c, w)}
        fake, fake2 = self.generate(c), self.generate(c)
        if group == "critic":
            return cramer_critic_loss(self.critic, x, fake, fake2, c, w)
        return {"loss": cramer_generator_loss(self.critic, x, fake, fake2, c, w)}

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        fake = self.generate(batch["cond"])
        ed = energy_distance(
            torch.cat([batch["features"], batch["cond"]], 1), torch.cat([fake, batch["cond"]], 1)
        )
        return {"loss": self.group_loss("generator", batch)["loss"], "energy_distance": ed}

    def sample(
        self, n: int, cond: dict[str, Tensor] | None = None, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        assert cond is not None
        return {"features": self.generate(cond["cond"], generator)}

    def needs_conditions(self) -> bool:
        return True


class Shifted(Dataset[dict[str, Tensor]]):
    """x = 3 + c + N(0, 0.5²) given c ~ U(−1, 1): a Gaussian shifted far from the untrained generator's output;
    optional per-event weights."""

    def __init__(self, n: int, seed: int, weight: Tensor | None = None, x: Tensor | None = None) -> None:
        g = torch.Generator().manual_seed(seed)
        self.c = torch.rand(n, 1, generator=g) * 2 - 1
        self.x = 3.0 + self.c + 0.5 * torch.randn(n, 1, generator=g) if x is None else x
        self.w = weight

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        item = {"features": self.x[i], "cond": self.c[i]}
        if self.w is not None:
            item["weight"] = self.w[i]
        return item


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny networks: one torch thread is fastest and immune to a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        epochs=2, batch_size=32, lr=5e-3, betas=(0.5, 0.9), device="cpu", log_every_steps=4, seed=3
    )
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def w1_to_target(model: TinyGAN, data: Shifted) -> float:
    model.eval()
    with torch.no_grad():
        fake = model.sample(len(data), {"cond": data.c}, torch.Generator().manual_seed(9))["features"]
    return float(wasserstein_distance(fake[:, 0].numpy(), data.x[:, 0].numpy()))


def test_tiny_gan_follows_the_protocols() -> None:
    model = TinyGAN()
    assert isinstance(model, Adversarial) and isinstance(model, GenerativeModel)
    assert group_cycle(model, cfg()) == ("critic", "critic", "generator")
    assert group_cycle(model, apply_overrides(cfg(), ["groups.critic.steps=5"])).count("critic") == 5
    cycle = ("critic", "critic", "generator")
    assert [steps_of_group(cycle, g, 8) for g in ("critic", "generator")] == [6, 2]


@pytest.mark.parametrize("loss", ["wgan-gp", "cramer"])
def test_tiny_gan_learns_a_shifted_gaussian(tmp_path: Path, loss: str) -> None:
    data, held_out = Shifted(512, 1), Shifted(1024, 2)
    model = TinyGAN(TinyGANConfig(loss=loss))
    before = w1_to_target(model, held_out)
    config = cfg(epochs=30, batch_size=64, best_metric="energy_distance")
    trainer = Trainer(model, config, tmp_path, data, Shifted(128, 3))
    trainer.fit()
    after = w1_to_target(model, held_out)
    assert before > 2.0 and after < 0.25 * before, (before, after)  # W1 to the target falls ≥ 4×
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train, val = [r for r in records if r["split"] == "train"], [r for r in records if r["split"] == "val"]
    assert {"critic/loss", "critic/gp", "generator/loss", "critic/lr", "generator/lr"} <= set(train[0])
    assert {"loss", "energy_distance", "critic/loss", "generator/loss"} <= set(val[0])
    assert val[-1]["energy_distance"] < val[0]["energy_distance"]


def test_groups_have_their_own_optimisers_and_steps(tmp_path: Path) -> None:
    config = apply_overrides(cfg(epochs=1), ["groups.critic.lr=1e-4", "groups.generator.betas=0.0,0.99"])
    trainer = Trainer(TinyGAN(), config, tmp_path, Shifted(64 * 2, 1))
    trainer.fit()
    opts = trainer.groups.optimizers if trainer.groups else {}
    assert opts["critic"].param_groups[0]["lr"] == 1e-4 and opts["generator"].param_groups[0]["lr"] == 5e-3
    assert opts["generator"].param_groups[0]["betas"] == (0.0, 0.99)
    # 4 batches: critic, critic, generator, critic — Adam's step counters count each group's own steps
    steps = {g: int(next(iter(o.state.values()))["step"]) for g, o in opts.items()}
    assert steps == {"critic": 3, "generator": 1}
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert set(ckpt["optimizer_state"]["groups"]) == set(ckpt["scheduler_state"]["groups"]) == set(opts)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_adversarial_resume_is_bit_identical(tmp_path: Path, precision: str) -> None:
    def config(max_steps: int) -> TrainConfig:
        return apply_overrides(
            cfg(epochs=3, max_steps=max_steps, schedule="cosine", warmup_steps=2, checkpoint_every_steps=3,
                precision=precision),
            ["groups.critic.lr=5e-3", "groups.generator.schedule=constant"],
        )  # fmt: skip

    data, val = Shifted(256, 1), Shifted(32, 2)
    a = Trainer(TinyGAN(), config(20), tmp_path / "a", data, val)
    a.fit()
    Trainer(TinyGAN(), config(7), tmp_path / "b", data, val).fit()  # stops mid-cycle (7 = 2 × 3 + 1)
    b = Trainer(TinyGAN(seed=5), config(20), tmp_path / "b", data, val)  # other init: all from last.pt
    b.fit(resume=True)
    assert a.step == b.step == 20
    for (name, pa), pb in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb), name
    assert a.groups is not None and b.groups is not None and a.groups.lrs() == b.groups.lrs()


def test_resume_refuses_other_groups(tmp_path: Path) -> None:
    Trainer(TinyGAN(), cfg(epochs=1), tmp_path, Shifted(64, 1)).fit()

    class Renamed(TinyGAN):
        def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
            return {
                "discriminator": list(self.critic_net.parameters()),
                "generator": list(self.gen.parameters()),
            }

        def group_steps(self) -> dict[str, int]:
            return {"discriminator": 1, "generator": 1}

    with pytest.raises(InputError, match="parameter groups"):
        Trainer(Renamed(), cfg(epochs=2), tmp_path, Shifted(64, 1)).fit(resume=True)


def test_negative_weights_cancel_a_subpopulation(tmp_path: Path) -> None:
    """A at 1, B at 5 (weight 1), and B again with weight −1: the weighted target is A alone."""
    g = torch.Generator().manual_seed(0)
    a = 1.0 + 0.3 * torch.randn(256, 1, generator=g)
    b = 5.0 + 0.3 * torch.randn(256, 1, generator=g)
    x = torch.cat([a, b, b])
    w = torch.cat([torch.ones(512), -torch.ones(256)])
    cond = torch.zeros(768, 1)
    # the losses see it: the weighted energy distance to A alone is that of A to itself
    assert float(energy_distance(torch.cat([a, b, b]), a, w, None)) == pytest.approx(0.0, abs=1e-5)
    assert float(energy_distance(torch.cat([a, b, b]), a)) > 1.0
    results = {}
    for name, weight in (("weighted", w), ("unweighted", None)):
        data = Shifted(768, 1, weight=weight, x=x)
        data.c = cond
        model = TinyGAN(TinyGANConfig(loss="cramer"))
        Trainer(model, cfg(epochs=25, batch_size=64), tmp_path / name, data).fit()
        with torch.no_grad():
            results[name] = model.sample(
                2000, {"cond": torch.zeros(2000, 1)}, torch.Generator().manual_seed(1)
            )
    weighted, unweighted = (results[k]["features"][:, 0].numpy() for k in ("weighted", "unweighted"))
    assert abs(np.median(weighted) - 1.0) < 0.4 and (weighted > 3).mean() < 0.15, np.median(weighted)
    assert (unweighted > 3).mean() > 0.4  # without weights two thirds of the data sit at 5


WORKER = """
import importlib.util, sys
from pathlib import Path
import torch
from mlfastsim.training import TrainConfig, Trainer, cleanup
spec = importlib.util.spec_from_file_location("tinygan", sys.argv[1])
tiny = sys.modules["tinygan"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)
out = Path(sys.argv[2])
config = TrainConfig(epochs=2, batch_size=8, lr=1e-3, device="cpu", seed=4, log_every_steps=1)
import os
trainer = Trainer(tiny.TinyGAN(seed=int(os.environ["RANK"])), config, out / "run", tiny.Shifted(64, 1),
                  tiny.Shifted(16, 2))
summary = trainer.fit()
torch.save({"params": [p.detach() for p in trainer.model.parameters()], "summary": summary},
           out / f"rank{trainer.dist.rank}.pt")
cleanup()
"""


@pytest.mark.slow  # torchrun start-up: ~30 s on a busy 2-core machine
def test_ddp_adversarial_two_cpu_processes_end_identical(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFASTSIM_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    proc = subprocess.run(
        [*cmd, str(Path(__file__)), str(tmp_path)], env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2))
    assert r0["summary"]["steps"] == r1["summary"]["steps"] == 8  # 64 / 2 ranks / batch 8, 2 epochs
    for p0, p1 in zip(r0["params"], r1["params"], strict=True):
        assert torch.equal(p0, p1)  # different initial weights per rank: broadcast, then averaged gradients
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert len(ckpt["rng_states"]) == 2 and set(ckpt["optimizer_state"]["groups"]) == {"critic", "generator"}
