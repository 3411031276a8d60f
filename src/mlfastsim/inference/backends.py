"""Sampling backends: a run's exported sampler behind the :class:`~mlfastsim.models.base.GenerativeModel`
protocol, so that ``sample_run`` and ``bench`` use ONNX Runtime (or the compiled C of a plain-MLP generator)
exactly as they use PyTorch — the noise drawn from the same seeded generator, the codec's conditions in, the
codec decoding what comes out.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from mlfastsim._utils import InputError
from mlfastsim.inference.export import Mode, draw_inputs, export_run, onnx_feed, onnx_metadata, onnx_session
from mlfastsim.inference.runs import LoadedRun
from mlfastsim.models.base import Batch, GenerativeModel, SamplerSpec, TensorSpec

__all__ = ["BACKENDS", "NativeTimed", "OnnxGenerator", "spec_from_dict", "with_backend"]

BACKENDS = ("torch", "onnx", "c")


@runtime_checkable
class NativeTimed(Protocol):
    """An exported backend that can time its artifact alone (no noise drawing, no Python conversions)."""

    def time_native(self, n: int, calls: int) -> dict[str, Any]:
        """µs per call (``wall_us_per_call``, ``cpu_us_per_call``) on fixed inputs of ``n`` events."""
        ...


def spec_from_dict(data: dict[str, Any]) -> SamplerSpec:
    """The :class:`SamplerSpec` an exported file records (JSON) as a dataclass again."""

    def tensors(items: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec(**{**d, "shape": tuple(d["shape"])}) for d in items)

    return SamplerSpec(tensors(data["inputs"]), tensors(data["outputs"]), data["mode"])


def _mode_for(cond: Batch | None) -> Mode:
    return "conditioned" if cond else "prior"


class OnnxGenerator(nn.Module):
    """A run's sampler in ONNX Runtime (``threads`` intra-op threads). Without ``model_file`` the run is
    exported on first use of each mode (conditioned / prior), parity-checked, and kept in memory; with it,
    that file is used (it must have been exported from a run of the same family and kind)."""

    def __init__(
        self, run: LoadedRun, threads: int = 1, model_file: str | Path | None = None, run_dir: Any = None
    ) -> None:
        super().__init__()
        self.config = run.model_config
        self._run, self._threads, self._run_dir = run, threads, run_dir
        self._sessions: dict[str, tuple[Any, SamplerSpec]] = {}
        self._file_mode: str | None = None
        if model_file is not None:
            path = Path(model_file)
            if not path.is_file():
                raise InputError(f"--onnx {path}: no such file; write one with 'mlfastsim export'")
            try:
                meta = onnx_metadata(path)
            except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise InputError(f"--onnx {path}: not a readable ONNX model ({reason[:200]})") from None
            if meta.get("model") != run.family or meta.get("kind") != run.kind.name:
                raise InputError(
                    f"--onnx {path}: exported from a {meta.get('model')} run on {meta.get('kind')}, but --run "
                    f"is a {run.family} run on {run.kind.name}"
                )
            spec = spec_from_dict(meta["spec"])
            self._file_mode = spec.mode
            self._sessions[spec.mode] = (onnx_session(path, threads), spec)

    def needs_conditions(self) -> bool:
        if self._file_mode is not None:
            return self._file_mode == "conditioned" and bool(
                [t for t in self._sessions[self._file_mode][1].inputs if t.source.startswith("batch:")]
            )
        model = self._run.model
        return bool(model.needs_conditions()) if isinstance(model, GenerativeModel) else True

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError("an exported sampler is not trained")

    def _session(self, mode: Mode) -> tuple[Any, SamplerSpec]:
        if mode not in self._sessions:
            if self._file_mode is not None:
                raise InputError(
                    f"the --onnx file samples in {self._file_mode} mode; "
                    + ("give --conditions FILE" if self._file_mode == "conditioned" else "sample with --n N")
                    + f" or export the run with --mode {mode}"
                )
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "sampler.onnx"
                meta = export_run(self._run, "onnx", path, self._run_dir, mode)
                self._sessions[mode] = (
                    onnx_session(path.read_bytes(), self._threads),
                    spec_from_dict(meta["spec"]),
                )
        return self._sessions[mode]

    def time_native(self, n: int, calls: int) -> dict[str, Any]:
        """µs per ``session.run`` alone (conditioned mode, fixed random inputs of ``n`` events, 100 warm-up
        runs): wall and process CPU time, ONNX Runtime with this generator's threads."""
        mode: Mode = "conditioned" if self._file_mode in (None, "conditioned") else "prior"
        session, spec = self._session(mode)
        inputs = draw_inputs(spec, n, torch.Generator().manual_seed(0), self._fixed_conditions(spec, n))
        feed, names = onnx_feed(session, inputs), [t.name for t in spec.outputs]
        for _ in range(100):
            session.run(names, feed)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            session.run(names, feed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"wall_us_per_call": 1e6 * wall / calls, "cpu_us_per_call": 1e6 * cpu / calls, "calls": calls}

    def _fixed_conditions(self, spec: SamplerSpec, n: int) -> Batch | None:
        if not any(t.source.startswith("batch:") for t in spec.inputs):
            return None
        events = self._run.kind.example(n, seed=0)
        return self._run.codec.conditions(events, self._run.keys)

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        session, spec = self._session(_mode_for(cond))
        inputs = draw_inputs(spec, n, generator or torch.Generator().manual_seed(0), cond)
        outs = session.run([t.name for t in spec.outputs], onnx_feed(session, inputs))
        return {t.name: torch.from_numpy(o) for t, o in zip(spec.outputs, outs, strict=True)}


def with_backend(
    run: LoadedRun, backend: str, threads: int = 1, model_file: str | Path | None = None, run_dir: Any = None
) -> LoadedRun:
    """``run`` with its model replaced by the ``backend``'s sampler (``torch``: ``run`` itself)."""
    if backend == "torch":
        return run
    if backend == "onnx":
        return dataclasses.replace(run, model=OnnxGenerator(run, threads, model_file, run_dir))
    if backend == "c":
        from mlfastsim.inference.c_export import CGenerator

        return dataclasses.replace(run, model=CGenerator(run, run_dir))
    raise InputError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")
