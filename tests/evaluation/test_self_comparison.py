"""evaluate flags a candidate that is (a subset of) the reference (issue 13, point 6), for every data kind."""

from __future__ import annotations

import numpy as np
import pytest

from mlfastsim.data.kinds import KINDS
from mlfastsim.evaluation.driver import copied_fraction


@pytest.mark.parametrize("name", list(KINDS))
def test_copies_of_the_reference_are_recognised_and_other_samples_are_not(name: str) -> None:
    kind = KINDS[name]
    ref = kind.example(40, 1)
    assert copied_fraction(ref, ref) == 1.0
    assert copied_fraction(ref, ref.subset(np.arange(1, 40, 3))) == 1.0  # a subset, in another order of ids
    other = kind.example(40, 2)  # an independent sample: ids may coincide (paired by id), values do not
    assert copied_fraction(ref, other) < 0.5
    half = kind.concatenate([ref.subset(np.arange(20)), other.subset(np.arange(20, 40))])
    assert copied_fraction(ref, half) == pytest.approx(0.5, abs=0.05)


def test_evaluate_warns_about_a_copy_and_records_it(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    kind = KINDS["tpc"]
    ref, other = kind.example(200, 1), kind.example(200, 2)
    from mlfastsim.evaluation.driver import evaluate

    result = evaluate("tpc", ref, {"copy": ref.subset(np.arange(100)), "other": other}, tmp_path, plots=False)
    assert len(result["warnings"]) == 1 and "'copy'" in result["warnings"][0]
    assert "(a subset of) the reference" in capsys.readouterr().err
