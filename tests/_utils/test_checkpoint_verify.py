"""Checkpoints are verified (issue 13, point 2): a content hash over every tensor byte, weights_only
loading, non-finite weights never written, a diverging training stopped with one line naming the step."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim._utils.checkpoint import NonFiniteError, load_checkpoint, save_checkpoint
from mlfastsim.training import TrainConfig, Trainer
from mlfastsim.training.trainer import TrainingDiverged


def _save(path: Path, model: torch.nn.Module, **extra: Any) -> None:
    save_checkpoint(path, model=model, optimizer=None, scheduler=None, step=3, epoch=0, config={}, **extra)


def _tensor_offset(path: Path, member_suffix: str) -> int:
    """Byte offset in the file of the data of the zip member ``.../data/<n>`` (a stored tensor)."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(member_suffix))
        with path.open("rb") as fh:
            fh.seek(info.header_offset + 26)
            name_len, extra_len = (int.from_bytes(fh.read(2), "little") for _ in range(2))
        return info.header_offset + 30 + name_len + extra_len


def test_bytes_changed_inside_a_tensor_are_refused(tmp_path: Path) -> None:
    model = torch.nn.Linear(64, 64)
    path = tmp_path / "last.pt"
    _save(path, model)
    assert torch.equal(load_checkpoint(path)["model_state"]["weight"], model.weight.detach())
    raw = bytearray(path.read_bytes())
    offset = _tensor_offset(path, "data/0") + 400  # inside the weight matrix, not in any header
    raw[offset : offset + 4] = b"\x00\x00\x80\x7f"  # an inf where a weight was: the zip itself stays valid
    path.write_bytes(bytes(raw))
    torch.load(path, weights_only=True)  # torch alone loads it without complaint
    with pytest.raises(InputError, match="content hash does not match") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_a_truncated_checkpoint_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    _save(path, torch.nn.Linear(8, 8))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputError, match="corrupt or unreadable") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_checkpoints_load_with_weights_only_and_refuse_pickled_code(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    _save(path, torch.nn.Linear(4, 4), extra={"codec": {"mean": 1.5}})
    assert torch.load(path, weights_only=True)["extra"]["codec"] == {"mean": 1.5}
    evil = tmp_path / "evil.pt"
    torch.save({"format": 2, "model_state": {}, "hook": Path("x")}, evil)  # an arbitrary class: not loaded
    with pytest.raises(InputError, match="corrupt or unreadable"):
        load_checkpoint(evil)


def test_a_checkpoint_without_a_hash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    torch.save({"format": 1, "model_state": {}}, path)
    with pytest.raises(InputError, match="no content hash"):
        load_checkpoint(path)


def test_non_finite_weights_are_never_written(tmp_path: Path) -> None:
    model = torch.nn.Linear(4, 4)
    path = tmp_path / "last.pt"
    _save(path, model)
    good = path.read_bytes()
    with torch.no_grad():
        model.weight[1, 2] = float("nan")
    with pytest.raises(NonFiniteError, match="weight"):
        _save(path, model)
    assert path.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


class _Diverging(torch.nn.Module):
    """A quadratic loss that turns NaN from its 6th evaluation on (as a diverging model's does)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([3.0]))
        self.calls = 0

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.calls += 1
        value = ((self.w - batch["x"].mean()) ** 2).sum()
        return {"loss": value * float("nan") if self.calls > 5 else value}


def test_a_diverging_training_stops_with_one_line_naming_the_step(tmp_path: Path) -> None:
    data = [{"x": torch.ones(1)} for _ in range(8)]
    cfg = TrainConfig(epochs=5, batch_size=4, device="cpu", seed=0)
    with pytest.raises(TrainingDiverged) as info:
        Trainer(_Diverging(), cfg, tmp_path, data).fit()  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and "at step 6:" in message and "nan" in message
    kept = load_checkpoint(tmp_path / "last.pt")  # the last good checkpoint is kept and verifies
    assert kept["step"] == 4 and f"last good checkpoint {tmp_path / 'last.pt'} (step 4) is kept" in message


class _HasModuleSlot(torch.nn.Module):
    """A user's model whose submodule happens to be called ``module`` (not a wrapper)."""

    def __init__(self) -> None:
        super().__init__()
        self.module = torch.nn.Linear(2, 2)
        self.head = torch.nn.Linear(2, 1)


def test_checkpoints_unwrap_ddp_and_the_loss_adapter_only(tmp_path: Path) -> None:
    """The saved state is the user's model's, through DDP and the trainer's loss adapter; a model with a
    submodule named ``module`` is saved whole (a probe for a ``module`` attribute would save a part)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from mlfastsim._utils.checkpoint import unwrap_model
    from mlfastsim.training.distributed import LossAdapter

    model = _HasModuleSlot()
    assert unwrap_model(model) is model
    assert unwrap_model(LossAdapter(model)) is model
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        wrapped = DistributedDataParallel(LossAdapter(model))
        assert unwrap_model(wrapped) is model
        _save(tmp_path / "last.pt", wrapped)
    finally:
        dist.destroy_process_group()
    assert set(load_checkpoint(tmp_path / "last.pt")["model_state"]) == set(model.state_dict())
