"""Tests of the trainer: learning, checkpoints, exact resume, early stopping, metrics log, atomic files."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.utils.data import Dataset

from mlfastsim._utils import InputError
from mlfastsim.models.base import GenerativeModel
from mlfastsim.training import TrainConfig, Trainer, load_checkpoint


@dataclass(frozen=True)
class TinyConfig:
    """Config of the tiny test VAE."""

    dim: int = 4
    latent: int = 2
    hidden: int = 8


class TinyVAE(torch.nn.Module):
    """A Gaussian VAE on ``features [B, dim]``; its loss draws noise from the global RNG (as real VAEs do)."""

    def __init__(self, config: TinyConfig = TinyConfig(), seed: int = 0) -> None:
        super().__init__()
        self.config = config
        torch.manual_seed(seed)
        self.enc = torch.nn.Sequential(torch.nn.Linear(config.dim, config.hidden), torch.nn.Tanh())
        self.mu, self.logvar = (
            torch.nn.Linear(config.hidden, config.latent),
            torch.nn.Linear(config.hidden, config.latent),
        )
        self.dec = torch.nn.Sequential(
            torch.nn.Linear(config.latent, config.hidden),
            torch.nn.Tanh(),
            torch.nn.Dropout(0.1),
            torch.nn.Linear(config.hidden, config.dim),
        )

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        h = self.enc(batch["features"])
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        mse = (self.dec(z) - batch["features"]).pow(2).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1).mean()
        return {"loss": mse + 0.01 * kl, "mse": mse, "kl": kl}

    def sample(
        self, n: int, cond: dict[str, Tensor] | None = None, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        z = torch.randn(n, self.config.latent, generator=generator)
        return {"features": self.dec(z)}

    def needs_conditions(self) -> bool:
        return False


class Blobs(Dataset[dict[str, Tensor]]):
    """Synthetic correlated 4-d Gaussian data."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        base = torch.randn(n, 2, generator=g)
        self.x = torch.cat(
            [base, base @ torch.tensor([[1.0, 0.5], [-0.5, 1.0]])], dim=1
        ) + 0.05 * torch.randn(n, 4, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"features": self.x[i]}


def cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(epochs=2, batch_size=16, lr=1e-2, device="cpu", log_every_steps=1, seed=3)
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def run(
    tmp: Path, config: TrainConfig, resume: bool = False, model_seed: int = 0, val: bool = True
) -> Trainer:
    trainer = Trainer(
        TinyVAE(seed=model_seed),
        config,
        tmp,
        Blobs(80, 1),
        Blobs(40, 2) if val else None,
        extra_state={"family": "tiny"},
    )
    trainer.fit(resume=resume)
    return trainer


def test_tiny_model_follows_protocol() -> None:
    model = TinyVAE()
    assert isinstance(model, GenerativeModel)
    assert model.sample(3, generator=torch.Generator().manual_seed(0))["features"].shape == (3, 4)


def test_loss_decreases_and_files_written(tmp_path: Path) -> None:
    trainer = Trainer(TinyVAE(), cfg(epochs=8, val_every=2), tmp_path, Blobs(80, 1), Blobs(40, 2))
    before = trainer.validate()["loss"]
    summary = trainer.fit()
    assert summary["steps"] == 8 * 5 and summary["epochs"] == 8 and not summary["stopped_early"]
    assert summary["best_val_loss"] < 0.7 * before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.pt",
        "config.json",
        "last.pt",
        "metrics.jsonl",
    ]
    info = json.loads((tmp_path / "config.json").read_text())
    assert info["train"]["epochs"] == 8 and info["model"] == {"dim": 4, "latent": 2, "hidden": 8}
    assert info["provenance"]["seed"] == 3 and info["provenance"]["version"]


def test_metrics_jsonl_one_object_per_line(tmp_path: Path) -> None:
    run(tmp_path, cfg(log_every_steps=2))
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    train = [r for r in records if r["split"] == "train"]
    val = [r for r in records if r["split"] == "val"]
    assert [r["step"] for r in train] == [2, 4, 6, 8, 10] and [r["step"] for r in val] == [5, 10]
    for r in records:
        assert {"step", "epoch", "split", "loss", "mse", "kl", "lr", "seconds"} <= set(r)
    assert val[1]["epoch"] == 1 and "grad_norm" in train[0]


def test_max_steps_stops_mid_epoch(tmp_path: Path) -> None:
    trainer = run(tmp_path, cfg(epochs=5, max_steps=7))
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert trainer.step == 7 and ckpt["step"] == 7 and ckpt["epoch"] == 1
    assert ckpt["trainer_state"]["batch_in_epoch"] == 2 and ckpt["extra"] == {"family": "tiny"}


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    trainer = run(tmp_path, cfg(epochs=1))
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["config"]["train"]["seed"] == 3 and ckpt["seed"] == 3 and ckpt["package_version"]
    assert ckpt["config"]["model"]["latent"] == 2
    fresh = TinyVAE(seed=99).eval()
    fresh.load_state_dict(ckpt["model_state"])
    x = Blobs(5, 7).x
    trainer.model.eval()
    torch.testing.assert_close(
        fresh.dec(fresh.mu(fresh.enc(x))),
        trainer.model.dec(trainer.model.mu(trainer.model.enc(x))),
        rtol=0,
        atol=0,
    )
    opt = torch.optim.Adam(fresh.parameters())
    opt.load_state_dict(ckpt["optimizer_state"])
    for a, b in zip(opt.state.values(), trainer.optimizer.state.values(), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in ("exp_avg", "exp_avg_sq", "step"))


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resume_is_bit_identical(tmp_path: Path, schedule: str) -> None:
    config = cfg(epochs=3, max_steps=12, schedule=schedule, warmup_steps=2, checkpoint_every_steps=4)
    a = run(tmp_path / "a", config)
    run(
        tmp_path / "b",
        cfg(epochs=3, max_steps=7, schedule=schedule, warmup_steps=2, checkpoint_every_steps=4),
    )
    b = run(tmp_path / "b", config, resume=True, model_seed=5)  # other init: all state comes from last.pt
    assert a.step == b.step == 12
    for (name, pa), pb in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb), name
    rec = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rec if r["split"] == "val"] == [5, 10]


def test_interrupt_saves_and_resumes_exactly(tmp_path: Path) -> None:
    class Interrupting(TinyVAE):
        calls = 0

        def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
            Interrupting.calls += 1
            if Interrupting.calls == 3 and self.training:
                signal.raise_signal(signal.SIGINT)  # Ctrl-C during step 3
            return super().loss(batch)

    a = run(tmp_path / "a", cfg(epochs=2))
    trainer = Trainer(Interrupting(), cfg(epochs=2), tmp_path / "b", Blobs(80, 1), Blobs(40, 2))
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 3
    b = run(tmp_path / "b", cfg(epochs=2), resume=True)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True))


def test_early_stopping(tmp_path: Path) -> None:
    trainer = Trainer(
        TinyVAE(), cfg(epochs=30, lr=0.0, early_stopping_patience=2), tmp_path, Blobs(32, 1), Blobs(16, 2)
    )
    summary = trainer.fit()
    assert summary["stopped_early"] and summary["epochs"] == 3  # epoch 1 sets best, 2 and 3 do not improve
    assert load_checkpoint(tmp_path / "last.pt")["bad_epochs"] == 2
    assert (
        Trainer(
            TinyVAE(), cfg(epochs=30, lr=0.0, early_stopping_patience=2), tmp_path, Blobs(32, 1), Blobs(16, 2)
        ).fit(resume=True)["steps"]
        == summary["steps"]
    )


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="corrupt") as err:
        load_checkpoint(tmp_path / "bad.pt")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="validation"):
        Trainer(TinyVAE(), cfg(early_stopping_patience=1), tmp_path, Blobs(8, 1))
    run(tmp_path / "r", cfg(epochs=1), val=False)
    with pytest.raises(InputError, match="batch_size"):
        run(tmp_path / "r", cfg(epochs=2, batch_size=8), resume=True, val=False)


def test_bf16_autocast_runs_and_global_rng_untouched(tmp_path: Path) -> None:
    trainer = Trainer(TinyVAE(), cfg(epochs=1, precision="bf16"), tmp_path, Blobs(32, 1))
    before = torch.get_rng_state()
    summary = trainer.fit()
    assert torch.equal(before, torch.get_rng_state())  # the trainer forks the global RNG
    assert summary["steps"] == 2 and summary["best_val_loss"] is None
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


class Unconfigured(torch.nn.Module):
    """A model with a loss and no ``config``: the trainer trains it and records no model config."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Linear(4, 4)

    def loss(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        return {"loss": (self.w(batch["features"]) - batch["features"]).pow(2).mean()}


def test_a_model_without_config_trains_and_records_none(tmp_path: Path) -> None:
    Trainer(Unconfigured(), cfg(epochs=1), tmp_path, Blobs(32, 1)).fit()
    info = json.loads((tmp_path / "config.json").read_text())
    assert info["model"] is None and info["model_class"].endswith(".Unconfigured")
