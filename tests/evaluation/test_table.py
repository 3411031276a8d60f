"""The shared table formatter: classifier cells say when the classifier did not learn; channels not simulated."""

from __future__ import annotations

import numpy as np

from mlfastsim.evaluation.table import NOT_SIMULATED, cell, format_table
from mlfastsim.metrics import classifier_test


def test_classifier_cells_read_no_power_when_it_did_not_learn_and_note_the_size() -> None:
    rng = np.random.default_rng(4)
    x, same, shifted = rng.normal(size=(800, 3)), rng.normal(size=(800, 3)), rng.normal(size=(800, 3))
    shifted[:, 0] += 2.0
    kw = {"seed": 4, "hidden": (32, 32), "epochs": 8, "n_threads": 1}
    flat, sharp = classifier_test(x, same, **kw).to_dict(), classifier_test(x, shifted, **kw).to_dict()
    assert cell(flat) == f"no power (n={flat['n']})"
    text = cell(sharp)
    assert text.startswith(f"{sharp['value']:.3g} ± ") and f"raw {sharp['raw_auc']:.3g}" in text
    assert f"n={sharp['n']}" in text
    # other metric results keep their format
    assert cell({"value": 1.23456, "uncertainty": 0.01, "n": 5}) == "1.235 ± 0.01"
    nan = float("nan")
    assert cell({"value": nan, "uncertainty": nan, "n": 0, "not_simulated": True}) == NOT_SIMULATED
    table = format_table(
        {"metrics": {"a": {"classifier AUC (high-level)": flat}}, "floors": {"truth vs truth": "halves"}}
    )
    assert "no power" in table and "0.5" not in table.splitlines()[2]
