"""Export of every sampling path, generated from the family registry: every family that declares Exportable is
exported to ONNX and TorchScript and must pass the parity check against PyTorch (a new family gets these tests
by declaring it); one that does not is refused in one line. Plus ONNX Runtime as a sampling backend, and the
error paths (corrupt checkpoint, unknown family, unwritable path, failed parity)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp

from mlfastsim._utils import InputError
from mlfastsim._utils.checkpoint import load_checkpoint, rewrite_checkpoint
from mlfastsim.cli.main import main
from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import export as export_module
from mlfastsim.inference import load_run, sample_run
from mlfastsim.inference.backends import with_backend
from mlfastsim.inference.export import build_sampler, export_run, onnx_metadata
from mlfastsim.models import FAMILIES, Exportable, GenerativeModel
from mlfastsim.training.runs import train_run

#: Every family on its first kind with its default config, plus modes that take another sampling path.
DETECTOR = ("model.mode=detector",)  # particle-vae: generator-level jets in, detector-level jets out
CASES: list[tuple[str, str, tuple[str, ...]]] = [(f.name, f.kinds[0], ()) for f in FAMILIES.values()]
CASES.append(("particle-vae", "particle-jets", DETECTOR))
# families whose exported sampler takes its noise in another order or number than ``sample`` (gvae: a fixed
# ⌈oversample · n_max⌉ mixture draws per jet instead of oversample × the batch's largest hit count)
OTHER_DRAWS = {"gvae"}


def _train(
    family: str, kind_name: str, tmp: Path, make_run_config: Any, overrides: tuple[str, ...] = ()
) -> Path:
    kind = KINDS[kind_name]
    data = tmp / f"train{kind.default_suffix}"
    kind.write(data, kind.example(40, seed=1))
    cfg = make_run_config(family, kind_name, overrides=overrides, max_steps=3, seed=0)
    train_run(cfg, data, tmp / "run")
    return tmp / "run"


def _case_id(case: tuple[str, str, tuple[str, ...]]) -> str:
    return "-".join([case[0], case[1], *(o.split("=")[-1] for o in case[2])])


@pytest.fixture(scope="module", params=CASES, ids=_case_id)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    family, kind_name, overrides = request.param
    tmp = tmp_path_factory.mktemp(f"export-{family}")
    run_dir = _train(family, kind_name, tmp, request.getfixturevalue("make_run_config"), overrides)
    return {"dir": run_dir, "run": load_run(run_dir), "tmp": tmp}


def _modes(model: Any) -> list[str]:
    modes = ["conditioned"]
    if isinstance(model, GenerativeModel) and not model.needs_conditions():
        modes.append("prior")
    return modes


def test_every_exportable_family_passes_parity_in_onnx_and_torchscript(trained: dict[str, Any]) -> None:
    run, tmp = trained["run"], trained["tmp"]
    if not isinstance(run.model, Exportable):
        with pytest.raises(InputError, match="no exportable sampler") as info:
            export_run(run, "onnx", tmp / "x.onnx")
        assert "\n" not in str(info.value) and not (tmp / "x.onnx").exists()
        return
    for mode in _modes(run.model):
        for fmt, suffix in (("onnx", "onnx"), ("torchscript", "pt")):
            out = tmp / f"{mode}.{suffix}"
            meta = export_run(run, fmt, out, trained["dir"], mode)  # type: ignore[arg-type]
            assert meta["parity"]["ok"] and out.exists(), meta["parity"]
            floats = [v["max_rel"] for v in meta["parity"]["outputs"].values() if "max_rel" in v]
            assert floats and max(floats) <= export_module.PARITY_RTOL
            assert not any(p.name.endswith(".tmp") for p in tmp.iterdir())
        recorded = onnx_metadata(tmp / f"{mode}.onnx")
        assert recorded["model"] == run.family and recorded["kind"] == run.kind.name
        assert recorded["version"] and recorded["backend"] == "onnxruntime"
        assert recorded["run"] == str(trained["dir"]) and recorded["parity"]["ok"]
        assert recorded["spec"]["mode"] == mode
        extra = {"mlfastsim.json": ""}
        torch.jit.load(str(tmp / f"{mode}.pt"), _extra_files=extra)
        assert json.loads(extra["mlfastsim.json"])["backend"] == "torchscript"


def test_the_exported_sampler_is_the_model(trained: dict[str, Any]) -> None:
    """The pure sampler follows its conditions and its noise (not a constant, not ignoring inputs)."""
    run = trained["run"]
    if not isinstance(run.model, Exportable):
        pytest.skip(f"{run.family} declares no exportable sampler")
    sampler = build_sampler(run, "conditioned")
    spec = sampler.spec
    events = run.kind.example(16, seed=3)
    cond = run.codec.conditions(events, run.keys)
    a = export_module.draw_inputs(spec, 16, torch.Generator().manual_seed(1), cond)
    b = export_module.draw_inputs(spec, 16, torch.Generator().manual_seed(2), cond)
    with torch.no_grad():
        out_a, out_b = sampler(*a.values()), sampler(*b.values())
    assert not torch.equal(out_a[0], out_b[0]), "the exported sampler ignores its noise"


def test_onnx_backend_samples_like_torch(trained: dict[str, Any]) -> None:
    run = trained["run"]
    if not isinstance(run.model, Exportable):
        pytest.skip(f"{run.family} declares no exportable sampler")
    events = run.kind.example(12, seed=5)
    out = sample_run(with_backend(run, "onnx", threads=1), conditions=events, seed=7)
    assert len(out) == len(events) and np.array_equal(out.event_id, events.event_id)
    again = sample_run(with_backend(run, "onnx", threads=1), conditions=events, seed=7)
    floats = [k for k, v in vars(out).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    assert floats and all(np.array_equal(getattr(out, k), getattr(again, k), equal_nan=True) for k in floats)
    # the exported file is the model: the same seed gives PyTorch's own sample (not only the pure sampler's)
    if run.family in OTHER_DRAWS:
        return  # compared in distribution by the next test
    torch_out = sample_run(run, conditions=events, seed=7)
    for key, value in vars(torch_out).items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
            np.testing.assert_allclose(getattr(out, key), value, rtol=1e-4, atol=1e-5, err_msg=key)


def test_onnx_backend_samples_the_models_distribution(trained: dict[str, Any]) -> None:
    """A family whose pure sampler draws its noise otherwise than ``sample`` (OTHER_DRAWS) cannot be compared
    event by event; its per-event sums of every float output must agree with PyTorch's in distribution
    (two-sample KS test on 1,000 events each, conditioned on the same events)."""
    run = trained["run"]
    if run.family not in OTHER_DRAWS:
        pytest.skip(f"{run.family}: compared event by event")
    events = run.kind.example(1000, seed=11)
    a = sample_run(with_backend(run, "onnx", threads=1), conditions=events, seed=1)
    b = sample_run(run, conditions=events, seed=2)
    floats = [
        k for k, v in vars(b).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim > 1
    ]
    assert floats
    for key in floats:
        sa, sb = (np.nansum(getattr(x, key).reshape(len(events), -1), axis=1) for x in (a, b))
        assert ks_2samp(sa, sb).pvalue > 1e-3, (key, sa.mean(), sb.mean())


def test_cli_export_and_sample_with_onnx_round_trip(tmp_path: Path, make_run_config: Any) -> None:
    run_dir = _train("cgan-pid", "pid", tmp_path, make_run_config)
    kind = KINDS["pid"]
    cond_file = tmp_path / f"cond{kind.default_suffix}"
    kind.write(cond_file, kind.example(20, seed=4))
    onnx_file = tmp_path / "pid.onnx"
    assert main(["export", "--run", str(run_dir), "--format", "onnx", "--out", str(onnx_file)]) == 0
    outs = {}
    for backend in ("torch", "onnx"):
        outs[backend] = tmp_path / f"s-{backend}{kind.default_suffix}"
        extra = ["--onnx", str(onnx_file)] if backend == "onnx" else []
        argv = ["sample", "--run", str(run_dir), "--conditions", str(cond_file), "--out", str(outs[backend])]
        assert main([*argv, "--backend", backend, "--threads", "1", *extra]) == 0
    a, b = kind.read(outs["torch"]), kind.read(outs["onnx"])
    assert b.attrs["backend"] == "onnxruntime" and b.attrs["threads"] == 1 and b.attrs["run"] == str(run_dir)
    # the same seeded noise: ONNX Runtime reproduces PyTorch's sample
    np.testing.assert_allclose(b.dll, a.dll, rtol=1e-4, atol=1e-4)
    prior = tmp_path / "prior.onnx"
    assert (
        main(["export", "--run", str(run_dir), "--format", "onnx", "--mode", "prior", "--out", str(prior)])
        == 0
    )
    argv = ["sample", "--run", str(run_dir), "--n", "9", "--out", str(tmp_path / f"p{kind.default_suffix}")]
    assert main([*argv, "--backend", "onnx", "--onnx", str(prior)]) == 0


@pytest.mark.parametrize(
    "options",
    [
        ("model.response_given=latent",),
        ("model.response_given=jet",),
        ("model.response_given=jet", "data.gen_input=region", "data.gen_particles=12"),
    ],
    ids=["latent", "jet", "region"],
)
def test_cli_detector_particle_vae_onnx_samples_like_torch(
    tmp_path: Path, make_run_config: Any, capsys: pytest.CaptureFixture[str], options: tuple[str, ...]
) -> None:
    """A detector-mode particle-vae (generator-level jets in): the exported sampler, fed the same seeded noise,
    gives the jets and jet responses that PyTorch's ``sample`` gives (not only its own pure sampler), with the
    response drawn from the decoder's state or given the generated constituents, and with the generator-level
    region as input; it has no prior mode (refused in one line)."""
    overrides = (*DETECTOR, *options)
    run_dir = _train("particle-vae", "particle-jets", tmp_path, make_run_config, overrides)
    model = load_run(run_dir).model
    assert isinstance(model, GenerativeModel) and model.needs_conditions()
    kind = KINDS["particle-jets"]
    cond_file = tmp_path / f"cond{kind.default_suffix}"
    kind.write(cond_file, kind.example(30, seed=4))
    onnx_file = tmp_path / "detector.onnx"
    export = ["export", "--run", str(run_dir), "--format", "onnx", "--out"]
    capsys.readouterr()
    assert main([*export, str(tmp_path / "prior.onnx"), "--mode", "prior"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--mode conditioned" in err and not (tmp_path / "prior.onnx").exists(), err
    assert main([*export, str(onnx_file)]) == 0
    assert onnx_metadata(onnx_file)["parity"]["outputs"]["response"]["max_rel"] <= export_module.PARITY_RTOL
    outs = {}
    for backend in ("torch", "onnx"):
        outs[backend] = tmp_path / f"s-{backend}{kind.default_suffix}"
        extra = ["--onnx", str(onnx_file)] if backend == "onnx" else []
        argv = ["sample", "--run", str(run_dir), "--conditions", str(cond_file), "--out", str(outs[backend])]
        assert main([*argv, "--backend", backend, "--threads", "1", "--seed", "3", *extra]) == 0
    a, b = kind.read(outs["torch"]), kind.read(outs["onnx"])
    assert b.attrs["backend"] == "onnxruntime"
    checked = 0
    for k, v in vars(a).items():
        if isinstance(v, np.ndarray) and v.dtype.kind in "fiub":
            np.testing.assert_allclose(getattr(b, k), v, rtol=1e-4, atol=1e-6, err_msg=k)
            checked += 1
    assert checked >= 2, "nothing compared"


def test_error_paths_are_one_line_and_leave_nothing(
    tmp_path: Path, make_run_config: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _train("cgan-pid", "pid", tmp_path, make_run_config)

    def fails(argv: list[str], match: str) -> None:
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err and match in err, err

    out = tmp_path / "x.onnx"
    export = ["export", "--format", "onnx", "--out"]
    (tmp_path / "a_file").write_text("not a folder")
    fails([*export, str(tmp_path / "a_file" / "x.onnx"), "--run", str(run_dir)], "--out")
    # unknown family: a checkpoint claiming one this version does not know
    bad = tmp_path / "bad"
    bad.mkdir()
    ckpt = load_checkpoint(run_dir / "best.pt")
    ckpt["extra"]["family"] = "no-such-family"
    rewrite_checkpoint(bad / "best.pt", ckpt)  # an edited checkpoint with a valid content hash
    fails([*export, str(out), "--run", str(bad)], "unknown model family")
    # corrupt checkpoint
    (bad / "best.pt").write_bytes(b"\x00garbage" * 10)
    fails([*export, str(out), "--run", str(bad)], "corrupt")
    sample = ["sample", "--n", "4", "--out", str(tmp_path / "s.h5"), "--backend", "onnx"]
    fails([*sample, "--run", str(bad)], "corrupt")
    fails([*sample, "--run", str(run_dir), "--onnx", str(tmp_path / "a_file")], "not a readable ONNX")
    assert not out.exists()
    # a file failing its parity check is not left behind (a negative tolerance fails even an exact export)
    monkeypatch.setattr(export_module, "PARITY_RTOL", -1.0)
    fails([*export, str(out), "--run", str(run_dir)], "parity")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".x.onnx")]
