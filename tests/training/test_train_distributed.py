"""Tests of DDP training on CPU (gloo, 2 processes under torchrun) and of the epoch-seeded samplers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from mlfastsim.training.distributed import DistInfo, EpochSampler, ShardSampler, init_distributed

WORKER = """
import importlib.util, os, sys
from pathlib import Path
import torch
from mlfastsim.training import TrainConfig, Trainer, cleanup
spec = importlib.util.spec_from_file_location("tiny", sys.argv[1])
tiny = sys.modules["tiny"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tiny)
out = Path(sys.argv[2])
config = TrainConfig(epochs=1, batch_size=8, lr=1e-2, device="cpu", seed=4, log_every_steps=1)
trainer = Trainer(tiny.TinyVAE(seed=int(os.environ["RANK"])), config, out / "run",
                  tiny.Blobs(40, 1), tiny.Blobs(10, 2))
summary = trainer.fit()
torch.save({"params": [p.detach() for p in trainer.model.parameters()], "summary": summary},
           out / f"rank{trainer.dist.rank}.pt")
cleanup()
"""

#: std::terminate in a rank as gloo's threads are torn down at exit, after both ranks saved their results and
#: left the process group (seen twice in CI runs on 2 cores; a barrier before destroy_process_group did not
#: cure it). Any other failure, or this one three times in a row, fails the test.
TEARDOWN_ABORT = "terminate called without an active exception"


def test_single_process_is_not_distributed() -> None:
    info = init_distributed("cpu")
    assert info == DistInfo(0, 1, 0, True) and not info.enabled


def test_epoch_sampler_is_seeded_and_skips() -> None:
    data = list(range(10))
    one = DistInfo()
    assert list(EpochSampler(data, one, 1, 0)) == list(EpochSampler(data, one, 1, 0))  # type: ignore[arg-type]
    assert list(EpochSampler(data, one, 1, 0)) != list(EpochSampler(data, one, 1, 1))  # type: ignore[arg-type]
    assert list(EpochSampler(data, one, 1, 2, skip=4)) == list(EpochSampler(data, one, 1, 2))[4:]  # type: ignore[arg-type]
    ranks = [list(EpochSampler(data, DistInfo(r, 2, r, r == 0), 1, 3)) for r in range(2)]  # type: ignore[arg-type]
    assert sorted(ranks[0] + ranks[1]) == data
    assert sorted(i for r in range(3) for i in ShardSampler(10, DistInfo(r, 3, r, r == 0))) == data


def test_ddp_two_cpu_processes_end_identical(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFASTSIM_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    for _ in range(3):  # gloo's teardown sometimes aborts a rank after training ended (below): run again
        proc = subprocess.run(
            [*cmd, str(Path(__file__).with_name("test_trainer.py")), str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        if proc.returncode == 0 or TEARDOWN_ABORT not in proc.stderr:
            break
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2))
    assert r0["summary"]["steps"] == r1["summary"]["steps"] == 3  # 40 samples / 2 ranks / batch 8
    assert r0["summary"]["best_val_loss"] == r1["summary"]["best_val_loss"]  # all-reduced over ranks
    for p0, p1 in zip(r0["params"], r1["params"], strict=True):
        assert torch.equal(p0, p1)
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert len(ckpt["rng_states"]) == 2 and ckpt["config"]["world_size"] == 2
    assert all(torch.equal(p, q) for p, q in zip(ckpt["model_state"].values(), r0["params"], strict=True))
