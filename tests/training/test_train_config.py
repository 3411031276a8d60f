"""Tests of TrainConfig, config files and ``--set key=value`` overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from mlfastsim._utils import InputError
from mlfastsim.training import (
    TrainConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config_file,
)


@dataclass(frozen=True)
class Block:
    """A nested section."""

    width: int = 8
    act: Literal["relu", "gelu"] = "relu"
    dims: tuple[int, ...] = (4, 2)


@dataclass(frozen=True)
class ModelCfg:
    """A model-like config with a nested block."""

    beta: float = 1.0
    use_cond: bool = False
    name: str = "x"
    block: Block = field(default_factory=Block)


def test_overrides_coerce_types() -> None:
    cfg = apply_overrides(
        TrainConfig(),
        [
            "lr=3e-4",
            "epochs=5",
            "max_steps=none",
            "grad_clip=none",
            "schedule=cosine",
            "early_stopping_patience=3",
        ],
    )
    assert cfg.lr == 3e-4 and cfg.epochs == 5 and cfg.max_steps is None and cfg.grad_clip is None
    assert cfg.schedule == "cosine" and cfg.early_stopping_patience == 3
    assert apply_overrides(cfg, ["max_steps=100"]).max_steps == 100
    assert TrainConfig().lr == 1e-3  # frozen originals untouched


def test_nested_dotted_overrides() -> None:
    cfg = apply_overrides(
        ModelCfg(), ["block.width=16", "block.act=gelu", "use_cond=true", "block.dims=[3,2,1]"]
    )
    assert cfg.block == Block(16, "gelu", (3, 2, 1)) and cfg.use_cond is True
    assert apply_overrides(cfg, ["block.dims=5,6", "beta=2", "name= jets "]).block.dims == (5, 6)
    assert apply_overrides(cfg, ["beta=2"]).beta == 2.0 and isinstance(
        apply_overrides(cfg, ["beta=2"]).beta, float
    )


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("lrr=1", "unknown key 'lrr'"),
        ("block.depth=2", "unknown key 'depth'"),
        ("beta.x=2", "no sub-keys"),
        ("block=3", "section"),
        ("beta=big", "not a valid float"),
        ("use_cond=maybe", "not a valid bool"),
        ("block.act=tanh", "not one of relu, gelu"),
        ("block.width=1.5", "not a valid int"),
        ("noequals", "expected key=value"),
    ],
)
def test_bad_overrides_one_line(override: str, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        apply_overrides(ModelCfg(), [override])
    assert "\n" not in str(err.value)


def test_invalid_values_rejected_by_config() -> None:
    with pytest.raises(InputError, match="batch_size=0"):
        apply_overrides(TrainConfig(), ["batch_size=0"])
    with pytest.raises(InputError, match="not one of adam, adamw"):
        apply_overrides(TrainConfig(), ["optimizer=sgd"])


def test_from_dict_round_trip() -> None:
    cfg = config_from_dict(ModelCfg, {"beta": 2, "block": {"dims": [1, 2]}})
    assert cfg == ModelCfg(beta=2.0, block=Block(dims=(1, 2)))
    assert config_from_dict(ModelCfg, config_to_dict(cfg)) == cfg
    with pytest.raises(InputError, match="unknown key 'bogus'"):
        config_from_dict(TrainConfig, {"bogus": 1})
    with pytest.raises(InputError, match=r"block\.width"):
        config_from_dict(ModelCfg, {"block": {"width": "wide"}})


def test_load_config_file(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text('epochs = 3\nschedule = "cosine"\n[model]\nbeta = 0.5\n')
    assert load_config_file(toml) == {"epochs": 3, "schedule": "cosine", "model": {"beta": 0.5}}
    js = tmp_path / "run.json"
    js.write_text('{"lr": 0.01}')
    assert config_from_dict(TrainConfig, load_config_file(js)).lr == 0.01
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 3\n")
    for path, match in [
        (bad, "invalid TOML"),
        (tmp_path / "none.toml", "not found"),
        (tmp_path / "x.yaml", "unsupported"),
    ]:
        with pytest.raises(InputError, match=match) as err:
            load_config_file(path)
        assert "\n" not in str(err.value)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="top level"):
        load_config_file(tmp_path / "list.json")
