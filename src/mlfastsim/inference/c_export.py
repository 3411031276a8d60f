"""Plain-MLP generators as one self-contained C source (LHCb Lamarr's approach: for networks this small a
runtime's overhead dominates, so the weights are compiled in). C99, no dependency but ``libm``.

The source defines ``void <name>_sample(int n, const float *in0, const float *in1, …, float *out)`` — one
pointer per input of the sampler's spec, row-major ``[n, width]``, in spec order (noise drawn by the caller
as the spec declares), the first output (``features [n, n_out]``) written to ``out`` — and the string
``<name>_info`` (the export record, JSON). Weights are stored input-major, so each layer is a sequence of
``y += W[i] · x[i]`` vector updates that compilers vectorise without reassociating sums.

The parity check compiles the source with the system C compiler (``$CC``, else ``cc``/``gcc``) into a shared
library and calls it through ``ctypes``.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mlfastsim._utils import InputError
from mlfastsim.inference.export import _parity_inputs, build_sampler, parity, sampler_metadata
from mlfastsim.inference.runs import LoadedRun
from mlfastsim.models.base import Batch, PlainMLP, SamplerSpec
from mlfastsim.models.export_nn import ZeroBelow

__all__ = ["CGenerator", "c_source", "compile_shared", "load_shared", "write_c"]

#: Flags of the parity build; :class:`CGenerator` (bench, sampling) builds with :data:`FAST_FLAGS`.
PARITY_FLAGS = ("-O2", "-std=c99")
FAST_FLAGS = ("-O3", "-march=native", "-std=c99")

_ACTIVATIONS = {
    nn.ReLU: "v > 0.0f ? v : 0.0f",
    nn.Tanh: "tanhf(v)",
    nn.Sigmoid: "1.0f / (1.0f + expf(-v))",
    nn.SiLU: "v / (1.0f + expf(-v))",
}


def _floats(values: np.ndarray) -> str:
    """float32 values as C literals that round-trip exactly, 8 a line."""
    items = [np.format_float_scientific(np.float32(v), unique=True) + "f" for v in values.ravel()]
    return ",\n".join("  " + ", ".join(items[i : i + 8]) for i in range(0, len(items), 8))


def _activation(module: nn.Module) -> str:
    if isinstance(module, ZeroBelow):
        return f"v >= {np.format_float_scientific(np.float32(module.threshold), unique=True)}f ? v : 0.0f"
    if isinstance(module, nn.LeakyReLU):
        slope = np.format_float_scientific(np.float32(module.negative_slope), unique=True)
        return f"v > 0.0f ? v : {slope}f * v"
    for cls, expr in _ACTIVATIONS.items():
        if isinstance(module, cls):
            return expr
    raise InputError(f"C export: the layer {type(module).__name__} is not a Linear or a supported activation")


def _symbol(name: str) -> str:
    stem = re.sub(r"\W", "_", name)
    return stem if re.match(r"[A-Za-z_]", stem) else f"m_{stem}"


def c_source(sampler: nn.Module, spec: SamplerSpec, metadata: dict[str, Any], name: str) -> str:
    """The C source of the plain-MLP ``sampler`` (:class:`~mlfastsim.models.base.PlainMLP`)."""
    if not isinstance(sampler, PlainMLP):
        raise InputError(
            f"the {metadata['model']} sampler is not a plain MLP; export it to ONNX or TorchScript instead"
        )
    widths = []
    for t in spec.inputs:
        if len(t.shape) != 2 or not isinstance(t.shape[1], int):
            raise InputError(f"C export: input {t.name} is not [batch, width]")
        widths.append(t.shape[1])
    layers: list[tuple[nn.Linear, list[str]]] = []
    for module in sampler.layers():
        if isinstance(module, nn.Linear):
            layers.append((module, []))
        elif layers:
            layers[-1][1].append(_activation(module))  # elementwise, in order
        else:
            raise InputError(f"C export: {type(module).__name__} does not follow a Linear layer")
    if layers[0][0].in_features != sum(widths):
        raise InputError("C export: the MLP's input is not the concatenation of the sampler's inputs")
    fn = _symbol(name)
    width = max(max(lin.out_features for lin, _ in layers), sum(widths))
    info = json.dumps(metadata).replace("\\", "\\\\").replace('"', '\\"')
    lines = [
        f"/* {fn}.c — written by mlfastsim {metadata['version']} (mlfastsim export --format c): the sampler of",
        f"   a {metadata['model']} run on {metadata['kind']} ({metadata['run']}), backend c.",
        f"   void {fn}_sample(int n, {', '.join(f'const float *{t.name}' for t in spec.inputs)}, float *out);",
    ]
    for t in spec.inputs:
        lines.append(f"     {t.name} [n, {t.shape[1]}]: {t.source} — {t.doc}")
    out_spec = spec.outputs[0]
    lines += [
        f"     out [n, {layers[-1][0].out_features}]: {out_spec.name} — {out_spec.doc}",
        f"   Parity with PyTorch: {json.dumps(metadata.get('parity', {}).get('outputs', 'checked at export'))}.",
        "   Build: cc -O3 -march=native -c this.c (C99; link with -lm). */",
        "#include <math.h>",
        "#include <string.h>",
        "",
        f'const char {fn}_info[] = "{info}";',
        "",
    ]
    for k, (lin, _) in enumerate(layers):
        w = lin.weight.detach().float().numpy().T  # input-major [in, out]
        b = (
            lin.bias.detach().float().numpy()
            if lin.bias is not None
            else np.zeros(lin.out_features, np.float32)
        )
        lines += [f"static const float W{k}[{w.size}] = {{\n{_floats(w)}\n}};"]
        lines += [f"static const float B{k}[{b.size}] = {{\n{_floats(b)}\n}};", ""]
    args = ", ".join(f"const float *{t.name}" for t in spec.inputs)
    lines += [f"void {fn}_sample(int n, {args}, float *out) {{", f"  float x[{width}], y[{width}];"]
    lines.append("  for (int e = 0; e < n; ++e) {")
    offset = 0
    for t, size in zip(spec.inputs, widths, strict=True):
        lines.append(f"    memcpy(x + {offset}, {t.name} + (long)e * {size}, {size} * sizeof(float));")
        offset += size
    for k, (lin, act) in enumerate(layers):
        n_in, n_out = lin.in_features, lin.out_features
        last = k == len(layers) - 1
        dest = f"out + (long)e * {n_out}" if last else "y"
        lines += [
            "    {",
            f"      float *o = {dest};",
            f"      memcpy(o, B{k}, {n_out} * sizeof(float));",
            f"      for (int i = 0; i < {n_in}; ++i) {{",
            f"        const float xi = x[i], *w = W{k} + i * {n_out};",
            f"        for (int j = 0; j < {n_out}; ++j) o[j] += w[j] * xi;",
            "      }",
        ]
        if act:
            chain = " ".join(f"v = {a};" for a in act)
            lines.append(f"      for (int j = 0; j < {n_out}; ++j) {{ float v = o[j]; {chain} o[j] = v; }}")
        if not last:
            lines.append(f"      memcpy(x, o, {n_out} * sizeof(float));")
        lines.append("    }")
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def _compiler() -> str:
    for candidate in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if candidate and shutil.which(candidate):
            return candidate
    raise InputError("C export: no C compiler found (set CC, or install gcc) to check the source's parity")


def compile_shared(source: Path, library: Path, flags: tuple[str, ...] = PARITY_FLAGS) -> Path:
    """Compile ``source`` into the shared library ``library``; one-line InputError when it fails."""
    cmd = [_compiler(), *flags, "-shared", "-fPIC", str(source), "-o", str(library), "-lm"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["?"])[0]
        raise InputError(f"C export: {' '.join(cmd[:1])} failed on {source.name} ({first[:200]})")
    return library


def load_shared(library: Path, name: str, n_inputs: int) -> Any:
    """The ``<name>_sample`` function of a compiled library, typed for ctypes."""
    fn = getattr(ctypes.CDLL(str(library)), f"{_symbol(name)}_sample")
    pointer = ctypes.POINTER(ctypes.c_float)
    fn.argtypes = [ctypes.c_int, *([pointer] * n_inputs), pointer]
    fn.restype = None
    return fn


def _call(fn: Any, inputs: list[np.ndarray], n_out: int) -> np.ndarray:
    n = len(inputs[0])
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in inputs]
    out = np.empty((n, n_out), np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    fn(n, *(a.ctypes.data_as(pointer) for a in arrays), out.ctypes.data_as(pointer))
    return out


def _n_out(sampler: nn.Module) -> int:
    assert isinstance(sampler, PlainMLP)
    last = [m for m in sampler.layers() if isinstance(m, nn.Linear)][-1]
    return int(last.out_features)


def write_c(
    sampler: nn.Module,
    spec: SamplerSpec,
    inputs: dict[str, Tensor],
    ref: list[Tensor],
    meta: dict[str, Any],
    tmp: Path,
    name: str,
) -> dict[str, Any]:
    """Write the C source of ``sampler`` (functions ``<name>_…``) to ``tmp`` after compiling it and comparing
    its first output with PyTorch's ``ref`` on ``inputs``; returns the parity report (recorded in the source)."""
    source = c_source(sampler, spec, meta, name)
    with tempfile.TemporaryDirectory() as work:
        src, lib = Path(work) / f"{_symbol(name)}.c", Path(work) / "sampler.so"
        src.write_text(source)
        fn = load_shared(compile_shared(src, lib), name, len(spec.inputs))
        got = _call(fn, [inputs[t.name].numpy() for t in spec.inputs], _n_out(sampler))
    one = SamplerSpec(spec.inputs, spec.outputs[:1], spec.mode)
    report = parity(one, ref[:1], [got.reshape(tuple(ref[0].shape))])
    tmp.write_text(c_source(sampler, spec, {**meta, "parity": report}, name))
    return report


class CGenerator(nn.Module):
    """A run's plain-MLP sampler compiled from its C export (:data:`FAST_FLAGS`) and called through ctypes,
    behind :class:`~mlfastsim.models.base.GenerativeModel` (conditioned sampling only)."""

    def __init__(self, run: LoadedRun, run_dir: Any = None) -> None:
        super().__init__()
        self.config = run.model_config
        sampler = build_sampler(run, "conditioned")
        spec = sampler.spec
        assert isinstance(spec, SamplerSpec)
        self._spec = spec
        name = "mlfastsim_sampler"
        meta = sampler_metadata(run, run_dir, "c", spec)
        inputs = _parity_inputs(run, spec)
        with torch.no_grad():
            ref = sampler(*(inputs[t.name] for t in spec.inputs))
        with tempfile.TemporaryDirectory() as work:  # the loaded library outlives its file
            src = Path(work) / f"{name}.c"
            report = write_c(sampler, spec, inputs, [ref[0]], meta, src, name)
            if not report["ok"]:
                raise InputError(
                    f"C export of the {run.family} run failed its parity check ({report['outputs']})"
                )
            lib = compile_shared(src, Path(work) / "fast.so", FAST_FLAGS)
            self._fn = load_shared(lib, name, len(spec.inputs))
            self._source = src.read_text()
        self._n_out = _n_out(sampler)
        self.flags = " ".join(FAST_FLAGS)

    def needs_conditions(self) -> bool:
        return True

    def time_native(self, n: int, calls: int) -> dict[str, Any]:
        """µs per call of the compiled function alone (a C loop timed with ``clock_gettime``, after 100 warm-up
        calls, on fixed inputs): wall and process CPU time; built with :data:`FAST_FLAGS`."""
        widths = [int(t.shape[1]) for t in self._spec.inputs]
        decl = "\n".join(
            f"  float *in{i} = malloc(sizeof(float) * {w} * n);"
            f" for (long k = 0; k < (long){w} * n; ++k) in{i}[k] = 0.37f * (float)(k % 7) - 1.1f;"
            for i, w in enumerate(widths)
        )
        args = ", ".join(f"in{i}" for i in range(len(widths)))
        driver = f"""#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "mlfastsim_sampler.c"
static double now(clockid_t c) {{ struct timespec t; clock_gettime(c, &t); return t.tv_sec * 1e9 + t.tv_nsec; }}
int main(int argc, char **argv) {{
  int n = atoi(argv[1]), calls = atoi(argv[2]);
{decl}
  float *out = malloc(sizeof(float) * {self._n_out} * n);
  for (int k = 0; k < 100; ++k) mlfastsim_sampler_sample(n, {args}, out);
  double w = now(CLOCK_MONOTONIC), c = now(CLOCK_PROCESS_CPUTIME_ID);
  for (int k = 0; k < calls; ++k) mlfastsim_sampler_sample(n, {args}, out);
  w = now(CLOCK_MONOTONIC) - w; c = now(CLOCK_PROCESS_CPUTIME_ID) - c;
  double sum = 0; for (long k = 0; k < (long){self._n_out} * n; ++k) sum += out[k];
  printf("%.3f %.3f %g\\n", w / calls / 1e3, c / calls / 1e3, sum);
  return 0;
}}
"""
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work)
            (folder / "mlfastsim_sampler.c").write_text(self._source)
            (folder / "bench.c").write_text(driver)
            cmd = [
                _compiler(),
                *FAST_FLAGS,
                "-I",
                work,
                str(folder / "bench.c"),
                "-o",
                str(folder / "bench"),
                "-lm",
            ]
            subprocess.run(cmd, check=True, capture_output=True)
            done = subprocess.run(
                [str(folder / "bench"), str(n), str(calls)], check=True, capture_output=True
            )
        wall, cpu, _ = done.stdout.decode().split()
        return {
            "wall_us_per_call": float(wall),
            "cpu_us_per_call": float(cpu),
            "calls": calls,
            "flags": self.flags,
        }

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError("an exported sampler is not trained")

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        from mlfastsim.inference.export import draw_inputs

        inputs = draw_inputs(self._spec, n, generator or torch.Generator().manual_seed(0), cond)
        out = _call(self._fn, [inputs[t.name].numpy() for t in self._spec.inputs], self._n_out)
        features, mask = self._spec.outputs[:2]
        mask_shape = tuple(int(d) for d in mask.shape[1:])
        return {
            features.name: torch.from_numpy(out).reshape(n, *(int(d) for d in features.shape[1:])),
            mask.name: torch.ones((n, *mask_shape), dtype=torch.bool),
        }
