"""``torchrun --nproc_per_node 2 -m mlfastsim train`` for every family (GANs included), gloo on CPU: both
processes train in step, rank 0 alone writes, and the checkpoint records the world size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from mlfastsim._utils import config_to_dict
from mlfastsim.bench.scaling import timed_seconds, torchrun_command
from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import load_run
from mlfastsim.models import FAMILIES, Fitted

#: Run in the default suite (a GAN: per-group steps and gradient averaging); the other families are marked slow.
QUICK = {"cgan-pid"}
PAIRS = [
    pytest.param(name, marks=() if name in QUICK else pytest.mark.slow, id=name) for name in sorted(FAMILIES)
]


@pytest.mark.parametrize("family", PAIRS)
def test_torchrun_trains_every_family_on_two_processes(
    tmp_path: Path, family: str, make_run_config: Callable[..., Any]
) -> None:
    kind = FAMILIES[family].kinds[0]
    data = tmp_path / f"data{KINDS[kind].default_suffix}"
    KINDS[kind].write(data, KINDS[kind].example(48, seed=1))
    cfg = config_to_dict(make_run_config(family, kind, batch_size=8, max_steps=3, seed=0))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({k: cfg[k] for k in ("model", "train", "data")}))
    out = tmp_path / "run"
    extra = ["--config", str(config), "--set", "train.log_every_steps=1", "--set", "train.device=cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFASTSIM_PROGRESS": "0"}
    proc = subprocess.run(
        torchrun_command(2, family, str(data), str(out), extra), env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 2  # one line per process
    assert load_run(out).family == family
    if isinstance(load_run(out).model, Fitted):  # the library: every rank fits the same, rank 0 writes
        assert all(s["stored_events"] > 0 for s in summaries)
        return
    ckpt = torch.load(out / "last.pt", weights_only=False)
    assert ckpt["config"]["world_size"] == 2 and len(ckpt["rng_states"]) == 2
    assert all(s["steps"] == 3 for s in summaries)  # gradient descent in step on both ranks' batches
    seconds, steps, _ = timed_seconds(out, warmup=1)
    assert steps == 2 and seconds > 0


def test_the_command_line_is_the_package_main() -> None:
    cmd = torchrun_command(2, "gvae", "d.h5", "run", ["--max-steps", "3"])
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert cmd[cmd.index("-m", 3) : cmd.index("-m", 3) + 3] == ["-m", "mlfastsim", "train"]
