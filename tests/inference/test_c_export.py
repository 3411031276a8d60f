"""C export of plain-MLP generators (Lamarr's approach), generated from the family registry: every family whose
pure sampler is a PlainMLP is exported to C, compiled here with the system compiler into a standalone program
and checked against PyTorch on the same noise and conditions; the others are refused in one line."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import numpy as np
import pytest
import torch

from mlfastsim._utils import InputError
from mlfastsim.data.kinds import KINDS
from mlfastsim.inference import export as export_module
from mlfastsim.inference import load_run, sample_run
from mlfastsim.inference.backends import with_backend
from mlfastsim.inference.export import build_sampler, export_run
from mlfastsim.models import FAMILIES, Exportable, PlainMLP
from mlfastsim.training.runs import train_run

CASES = [(f.name, f.kinds[0]) for f in FAMILIES.values()]
CC = shutil.which("gcc") or shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no system C compiler")


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    family, kind_name = request.param
    if not issubclass(FAMILIES[family].model, Exportable):
        pytest.skip(f"{family} declares no exportable sampler")
    kind = KINDS[kind_name]
    tmp = tmp_path_factory.mktemp(f"c-{family}")
    data = tmp / f"train{kind.default_suffix}"
    kind.write(data, kind.example(40, seed=1))
    cfg = request.getfixturevalue("make_run_config")(family, kind_name, max_steps=3, seed=0)
    train_run(cfg, data, tmp / "run")
    return {"dir": tmp / "run", "run": load_run(tmp / "run"), "tmp": tmp}


def _main(name: str, widths: list[int], n_out: int, n: int) -> str:
    """A C program that reads the inputs (float32, row-major, one file each) and prints the outputs."""
    reads = "\n".join(
        f'  float *in{i} = malloc(sizeof(float) * {n * w}); FILE *f{i} = fopen(argv[{i + 1}], "rb");\n'
        f"  if (fread(in{i}, sizeof(float), {n * w}, f{i}) != {n * w}) return 1; fclose(f{i});"
        for i, w in enumerate(widths)
    )
    args = ", ".join(f"in{i}" for i in range(len(widths)))
    return f"""#include <stdio.h>
#include <stdlib.h>
#include "{name}.c"
int main(int argc, char **argv) {{
{reads}
  float out[{n * n_out}];
  {name}_sample({n}, {args}, out);
  for (int i = 0; i < {n * n_out}; ++i) printf("%.9g\\n", out[i]);
  return 0;
}}
"""


def test_plain_mlp_generators_compile_and_match_pytorch(trained: dict[str, Any]) -> None:
    run, tmp = trained["run"], trained["tmp"]
    sampler = build_sampler(run, "conditioned")
    if not isinstance(sampler, PlainMLP):
        with pytest.raises(InputError, match="not a plain MLP"):
            export_run(run, "c", tmp / "x.c")
        assert not (tmp / "x.c").exists()
        return
    meta = export_run(run, "c", tmp / "generator.c", trained["dir"])
    assert meta["parity"]["ok"] and meta["parity"]["outputs"]["features"]["max_rel"] <= 1e-5
    text = (tmp / "generator.c").read_text()
    assert "const char generator_info[]" in text and run.family in text and '\\"backend\\": \\"c\\"' in text
    # the standalone program, built with the system compiler, on fresh noise and conditions
    n = 9
    events = run.kind.example(n, seed=11)
    inputs = export_module.draw_inputs(
        sampler.spec, n, torch.Generator().manual_seed(3), run.codec.conditions(events, run.keys)
    )
    paths = []
    for name, value in inputs.items():
        paths.append(tmp / f"{name}.bin")
        value.numpy().astype(np.float32).tofile(paths[-1])
    widths = [t.shape[1] for t in sampler.spec.inputs]
    with torch.no_grad():
        ref = sampler(*inputs.values())[0].numpy()
    (tmp / "main.c").write_text(_main("generator", widths, ref.size // n, n))
    assert CC is not None
    subprocess.run([CC, "-O2", "-std=c99", "-I", str(tmp), str(tmp / "main.c"), "-o", str(tmp / "gen"), "-lm"],
                   check=True)  # fmt: skip
    printed = subprocess.run([str(tmp / "gen"), *map(str, paths)], capture_output=True, text=True, check=True)
    got = np.array(printed.stdout.split(), dtype=np.float64).reshape(ref.shape)
    assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()
    # the C backend samples like PyTorch from the same seeded noise
    c_out = sample_run(with_backend(run, "c"), conditions=events, seed=5)
    torch_out = sample_run(run, conditions=events, seed=5)
    floats = [k for k, v in vars(torch_out).items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    for k in floats:
        np.testing.assert_allclose(getattr(c_out, k), getattr(torch_out, k), rtol=1e-4, atol=1e-4)


def test_c_export_refuses_the_prior_mode_in_one_line(trained: dict[str, Any]) -> None:
    run, tmp = trained["run"], trained["tmp"]
    if not isinstance(build_sampler(run, "conditioned"), PlainMLP) or run.model.needs_conditions():
        pytest.skip("only for plain-MLP generators with a condition bank")
    with pytest.raises(InputError, match="not a plain MLP") as info:
        export_run(run, "c", tmp / "prior.c", mode="prior")
    assert "\n" not in str(info.value) and not (tmp / "prior.c").exists()
