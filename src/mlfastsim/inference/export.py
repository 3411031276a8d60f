"""Export a trained run's sampling path — ONNX, TorchScript or (plain-MLP generators) C — with a parity check
against PyTorch on fixed noise; the file is written only when it passes.

Every family that declares :class:`~mlfastsim.models.base.Exportable` is exported by the same driver: the
family builds a *pure sampler* (noise and conditions in as tensors, sample out, nothing random inside), the
driver draws fixed noise for its declared inputs, takes conditions from the kind's example events through the
run's codec, exports, runs the exported file on the same inputs and compares. Tolerances
(:data:`PARITY_RTOL`): float outputs within 1e-5 of the PyTorch output's largest magnitude (L∞, per output),
boolean and integer outputs identical. A file that fails is deleted (it was written to a temporary name
beside the target, which is renamed only after the check) and the export fails with one line.

Each file records the model family, the data kind, the run, the package version and the backend, with the
sampler's spec (inputs, their noise distributions or codec keys, outputs) and the parity reached:
ONNX in ``metadata_props["mlfastsim"]``, TorchScript in the extra file ``mlfastsim.json``, C in a comment
and the string ``mlfastsim_info``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from mlfastsim._utils import InputError, atomic_path, check_writable, jsonable, package_version, require
from mlfastsim.inference.runs import LoadedRun
from mlfastsim.models import Exportable, SamplerSpec

__all__ = [
    "FORMATS",
    "PARITY_RTOL",
    "ParityError",
    "build_sampler",
    "draw_inputs",
    "export_onnx_bytes",
    "export_run",
    "onnx_feed",
    "onnx_metadata",
    "onnx_session",
    "parity",
    "sampler_metadata",
]

FORMATS = ("onnx", "torchscript", "c")
#: Largest |exported − PyTorch| per float output, relative to the largest |PyTorch| of that output.
PARITY_RTOL = 1e-5
#: Events in the parity check (a fixed seed: the same noise and conditions at every export).
PARITY_EVENTS = 64
PARITY_SEED = 12345
ONNX_OPSET = 17

Mode = Literal["conditioned", "prior"]


class ParityError(InputError):
    """An exported file disagrees with PyTorch beyond the tolerance (it is not kept)."""


def build_sampler(run: LoadedRun, mode: Mode | None = None) -> nn.Module:
    """The run's pure sampler for ``mode`` (default: ``conditioned``), in eval mode; one-line InputError
    when the family does not declare :class:`~mlfastsim.models.base.Exportable` or cannot sample so."""
    model = run.model
    if not isinstance(model, Exportable):
        raise InputError(
            f"the {run.family} family has no exportable sampler (it declares no pure_sampler): "
            "use it through PyTorch ('mlfastsim sample --backend torch')"
        )
    try:
        sampler = model.pure_sampler(mode or "conditioned")
    except ValueError as exc:
        raise InputError(f"the {run.family} run cannot be exported in {mode} mode: {exc}") from None
    return sampler.eval()


def _spec(sampler: nn.Module) -> SamplerSpec:
    spec = getattr(sampler, "spec", None)  # declared by Exportable: every pure sampler carries its spec
    if not isinstance(spec, SamplerSpec):
        raise TypeError(f"{type(sampler).__name__} has no SamplerSpec 'spec'")
    return spec


def _axes(spec: SamplerSpec, conditions: dict[str, Tensor] | None) -> dict[str, int]:
    """Sizes of the named axes other than ``batch`` (e.g. ``particles``), read off the given conditions."""
    sizes: dict[str, int] = {}
    for t in spec.inputs:
        key = t.source.removeprefix("batch:")
        if t.source.startswith("batch:") and conditions is not None and key in conditions:
            for axis, size in enumerate(t.shape):
                if isinstance(size, str) and size != "batch":
                    sizes[size] = int(conditions[key].shape[axis])
    return sizes


def draw_inputs(
    spec: SamplerSpec, n: int, generator: torch.Generator, conditions: dict[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """The sampler's inputs for ``n`` events: noise drawn from ``generator`` in ``spec`` order, conditions
    from ``conditions`` (the codec's batch: ``batch:KEY`` inputs take ``conditions[KEY]``)."""
    out: dict[str, Tensor] = {}
    dtypes = {"float32": torch.float32, "bool": torch.bool, "int64": torch.int64}
    sizes = {**_axes(spec, conditions), "batch": n}
    for t in spec.inputs:
        shape = tuple(s if isinstance(s, int) else sizes.get(s, 1) for s in t.shape)
        if t.source.startswith("batch:"):
            key = t.source.removeprefix("batch:")
            if conditions is None or key not in conditions:
                raise InputError(f"the exported sampler needs the condition {key!r}; give --conditions FILE")
            out[t.name] = conditions[key].to(dtypes[t.dtype])
        elif t.source == "normal":
            out[t.name] = torch.randn(shape, generator=generator)
        elif t.source == "uniform":
            out[t.name] = torch.rand(shape, generator=generator)
        else:
            raise TypeError(f"input {t.name}: unknown source {t.source!r}")
    return out


def _parity_inputs(run: LoadedRun, spec: SamplerSpec) -> dict[str, Tensor]:
    """Fixed inputs: the kind's example events (fixed seed) through the run's codec, fixed noise."""
    cond = None
    if any(t.source.startswith("batch:") for t in spec.inputs):
        events = run.kind.example(PARITY_EVENTS, seed=PARITY_SEED)
        cond = run.codec.conditions(events, run.keys)
    return draw_inputs(spec, PARITY_EVENTS, torch.Generator().manual_seed(PARITY_SEED), cond)


def parity(spec: SamplerSpec, reference: list[Tensor], exported: list[np.ndarray]) -> dict[str, Any]:
    """Compare outputs per :data:`PARITY_RTOL`: ``{"ok", "outputs": {name: {"max_rel"} or {"mismatch"}}}``."""
    report: dict[str, Any] = {"ok": True, "rtol": PARITY_RTOL, "events": len(reference[0]), "outputs": {}}
    for t, ref, got in zip(spec.outputs, reference, exported, strict=True):
        r, g = ref.detach().numpy(), np.asarray(got)
        if r.shape != g.shape:
            report["outputs"][t.name] = {"shape": [list(r.shape), list(g.shape)]}
            report["ok"] = False
        elif r.dtype.kind == "f":
            scale = max(float(np.abs(r).max()) if r.size else 0.0, 1e-30)
            rel = float(np.abs(r - g).max()) / scale if r.size else 0.0
            report["outputs"][t.name] = {"max_rel": rel}
            report["ok"] &= bool(rel <= PARITY_RTOL)
        else:
            mismatch = int((r != g).sum())
            report["outputs"][t.name] = {"mismatch": mismatch}
            report["ok"] &= mismatch == 0
    return report


def _as_list(out: Any) -> list[Tensor]:
    return list(out) if isinstance(out, tuple | list) else [out]


def sampler_metadata(run: LoadedRun, run_dir: str | Path | None, backend: str, spec: SamplerSpec) -> dict:
    """What every exported file records: model, kind, run, version, backend, spec."""
    return {
        "producer": "mlfastsim export",
        "model": run.family,
        "kind": run.kind.name,
        "run": str(run_dir) if run_dir is not None else None,
        "step": run.checkpoint.get("step"),
        "version": package_version(),
        "backend": backend,
        "spec": jsonable(dataclasses.asdict(spec)),
    }


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' advisory warnings (tracer, deprecations) are not the user's business."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _attention_traceable() -> Iterator[None]:
    """``nn.MultiheadAttention``'s eval fast path (``aten::_native_multi_head_attention``, which ONNX cannot
    express) off while tracing, so the exporter sees the same attention as composed operators."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


def _register_symbolics() -> None:
    """ONNX operators the TorchScript-based exporter does not map itself: ``cosh`` and ``sinh`` (ONNX ``Cosh``,
    ``Sinh``, opset 9; the jet pT and mass of ``particle-vae``'s detector-mode context, E = Σ pT cosh η,
    p_z = Σ pT sinh η)."""
    for op in ("cosh", "sinh"):
        name = op.capitalize()
        torch.onnx.register_custom_op_symbolic(f"aten::{op}", lambda g, x, name=name: g.op(name, x), 9)
    torch.onnx.register_custom_op_symbolic(  # √(a² + b²), as the jet pT |Σ p⃗_T| is taken
        "aten::hypot", lambda g, a, b: g.op("Sqrt", g.op("Add", g.op("Mul", a, a), g.op("Mul", b, b))), 9
    )


def export_onnx_bytes(sampler: nn.Module, inputs: dict[str, Tensor], metadata: dict[str, Any]) -> bytes:
    """The ONNX model (opset :data:`ONNX_OPSET`, the declared dynamic axes) with ``metadata`` stored."""
    onnx = require("onnx", "export")
    _register_symbolics()
    spec = _spec(sampler)
    dynamic: dict[str, dict[int, str]] = {}
    for t in (*spec.inputs, *spec.outputs):
        axes = {i: s for i, s in enumerate(t.shape) if isinstance(s, str)}
        if axes:
            dynamic[t.name] = axes
    buffer = io.BytesIO()
    with _quiet(), torch.no_grad(), _attention_traceable():
        torch.onnx.export(
            sampler,
            tuple(inputs[t.name] for t in spec.inputs),
            buffer,  # type: ignore[arg-type]  # the exporter writes to file-like objects too
            input_names=[t.name for t in spec.inputs],
            output_names=[t.name for t in spec.outputs],
            dynamic_axes=dynamic,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = "mlfastsim", json.dumps(metadata)
    proto.producer_name = "mlfastsim"
    proto.doc_string = (
        f"mlfastsim {metadata['version']} sampler of a {metadata['model']} run ({metadata['kind']})"
    )
    data: bytes = proto.SerializeToString()
    return data


def _set_onnx_metadata(path: Path, metadata: dict[str, Any]) -> None:
    onnx = require("onnx", "export")
    proto = onnx.load(str(path))
    for entry in proto.metadata_props:
        if entry.key == "mlfastsim":
            entry.value = json.dumps(metadata)
    onnx.save(proto, str(path))


def onnx_metadata(model: bytes | str | Path) -> dict[str, Any]:
    """The ``mlfastsim`` record of an exported ONNX file (empty when it has none)."""
    session = onnx_session(model)
    raw = session.get_modelmeta().custom_metadata_map.get("mlfastsim")
    return json.loads(raw) if raw else {}


def onnx_session(model: bytes | str | Path, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and no inter-op parallelism."""
    ort = require("onnxruntime", "export")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads == 1:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def onnx_feed(session: Any, inputs: dict[str, Tensor]) -> dict[str, np.ndarray]:
    """The inputs the ONNX graph takes (an exporter drops inputs the graph does not use)."""
    return {i.name: inputs[i.name].numpy() for i in session.get_inputs()}


def _check_onnx(path: Path, spec: SamplerSpec, inputs: dict[str, Tensor], ref: list[Tensor]) -> dict:
    session = onnx_session(path)
    return parity(spec, ref, session.run([t.name for t in spec.outputs], onnx_feed(session, inputs)))


def _check_torchscript(path: Path, spec: SamplerSpec, inputs: dict[str, Tensor], ref: list[Tensor]) -> dict:
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        got = _as_list(loaded(*(inputs[t.name] for t in spec.inputs)))
    return parity(spec, ref, [g.numpy() for g in got])


def _torchscript_bytes(traced: Any, meta: dict[str, Any]) -> bytes:
    """A traced sampler as TorchScript archive bytes, with the export's metadata as ``mlfastsim.json``."""
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files={"mlfastsim.json": json.dumps(meta)})
    return buffer.getvalue()


def export_run(
    run: LoadedRun,
    fmt: str,
    out: str | Path,
    run_dir: str | Path | None = None,
    mode: Mode | None = None,
    overwrite: bool | None = None,
) -> dict[str, Any]:
    """Export ``run``'s sampler to ``out`` in ``fmt`` (``onnx``, ``torchscript``, ``c``) after the parity
    check; returns the metadata written, with ``parity`` and ``path``. Raises InputError (one line) for an
    unknown format, a family that cannot be exported, an unwritable path, an existing ``out`` when
    ``overwrite`` is False (None: not checked, for library callers writing to their own temporaries) or a
    failed parity check (then nothing is left at ``out``). The file is written to a temporary beside ``out``
    and renamed over it only after the check: an existing ``out`` is replaced whole or not at all."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    target = check_writable(out, overwrite=overwrite)
    sampler = build_sampler(run, mode)
    spec = _spec(sampler)
    inputs = _parity_inputs(run, spec)
    with torch.no_grad():
        ref = _as_list(sampler(*(inputs[t.name] for t in spec.inputs)))
    backend = {"onnx": "onnxruntime", "torchscript": "torchscript", "c": "c"}[fmt]
    meta = sampler_metadata(run, run_dir, backend, spec)
    with atomic_path(target) as tmp:
        if fmt == "c":
            from mlfastsim.inference.c_export import write_c

            meta["parity"] = write_c(sampler, spec, inputs, ref, meta, tmp, target.stem)
        elif fmt == "onnx":
            tmp.write_bytes(export_onnx_bytes(sampler, inputs, meta))
            meta["parity"] = _check_onnx(tmp, spec, inputs, ref)
            _set_onnx_metadata(tmp, meta)  # the file records the parity it reached
        else:
            with _quiet(), torch.no_grad():
                traced = torch.jit.trace(sampler, tuple(inputs[t.name] for t in spec.inputs))
            # saved to memory, then written from Python: torch.jit.save to a path aborts the process in C++
            # when the disk fills, where a Python write raises ENOSPC (one line, temporary removed)
            tmp.write_bytes(_torchscript_bytes(traced, meta))
            meta["parity"] = _check_torchscript(tmp, spec, inputs, ref)
            tmp.write_bytes(_torchscript_bytes(traced, meta))
        if not meta["parity"]["ok"]:
            raise ParityError(
                f"{fmt} export of the {run.family} run failed its parity check against PyTorch "
                f"({_worst(meta['parity'])}; tolerance {PARITY_RTOL:g} relative); nothing was written"
            )
    return {**meta, "path": str(target)}


def _worst(report: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in report["outputs"].items())
