"""The particle-jets evaluation suite: JetNet-exact W1M/W1P/W1EFP/EFPs (golden values from jetnet 0.2.5 and
hand calculations), floors, distortions, particle-level classifier, detector-mode response, pairing by id."""

from __future__ import annotations

import dataclasses
import json
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlfastsim.data.kinds.particle_jets.container import ParticleJets
from mlfastsim.evaluation import driver
from mlfastsim.evaluation.suites import SUITES
from mlfastsim.evaluation.suites.particle_jets import ParticleJetSuite, common_level
from mlfastsim.evaluation.table import FLOOR, RESIM
from mlfastsim.metrics import efp_graphs, emd_matrix, fpd, kpd
from mlfastsim.metrics.jetnet import (
    batched_w1,
    batched_w1_particles,
    fpd_kpd_features,
    jetnet_jets,
    relative_jet_mass,
    w1efp_columns,
)
from mlfastsim.physics.kinematics import jet_pt_mass

P = 30
FAST = ParticleJetSuite(cov_mmd_samples=20, cov_mmd_batches=2, n_jobs=1)


# ---------------------------------------------------------------- toy jets with a toy detector
def _level(
    eta: np.ndarray, phi: np.ndarray, pt: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """JetNet arrays (particles [N, P, 4] by decreasing pT, jets [N, 4]) from absolute-pT constituents."""
    pt = np.where(keep, pt, 0.0)
    jpt, jm = jet_pt_mass(eta, phi, pt)
    order = np.argsort(-pt, axis=1, kind="stable")
    e, f, p = (np.take_along_axis(a, order, 1) for a in (eta, phi, pt))
    m = p > 0
    return np.stack([e * m, f * m, p / jpt[:, None], m], -1), np.stack([jpt, 0 * jpt, jm, m.sum(1)], 1)


def _detector(eta: np.ndarray, phi: np.ndarray, pt: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """95 % efficiency above 2 GeV, 8 % pT resolution, 3 % scale loss, 0.004 angular smearing."""
    rng = np.random.default_rng(seed)
    keep = (rng.random(pt.shape) < 0.95) & (pt > 2.0)
    smeared = pt * np.clip(1 + 0.08 * rng.standard_normal(pt.shape), 0.05, None) * 0.97
    d_eta, d_phi = (0.004 * rng.standard_normal(pt.shape) for _ in range(2))
    return _level(eta + d_eta, phi + d_phi, smeared, keep)


def toy_jets(n: int, seed: int, detector_seed: int | None = None) -> ParticleJets:
    """n jets of 8–24 constituents at pT ≈ 1 TeV, both levels; event ids 0 … n−1."""
    rng = np.random.default_rng(seed)
    real = np.arange(P)[None, :] < rng.integers(8, 25, n)[:, None]
    w = rng.exponential(1.0, (n, P)) ** 2 * real
    pt = w / w.sum(1, keepdims=True) * (1000 * (1 + 0.05 * rng.standard_normal(n)))[:, None]
    sigma = 0.03 + 0.15 / np.sqrt(1 + 0.05 * pt)
    eta, phi = (rng.standard_normal((n, P)) * sigma * real for _ in range(2))
    gen, gen_jets = _level(eta, phi, pt, real)
    reco, reco_jets = _detector(eta, phi, pt, seed + 10_000 if detector_seed is None else detector_seed)
    return ParticleJets(gen=gen, gen_jets=gen_jets, reco=reco, reco_jets=reco_jets, event_id=np.arange(n))


def _with(ev: ParticleJets, **changes: Any) -> ParticleJets:
    fields = {f: getattr(ev, f) for f in ("gen", "gen_jets", "reco", "reco_jets", "y", "event_id")}
    return ParticleJets(**{**fields, **changes})


def wide(ev: ParticleJets, factor: float = 1.2) -> ParticleJets:
    """Angles of the reco constituents × factor: jet mass × ≈ factor (recomputed)."""
    reco, jets = ev.particles("reco").copy(), ev.jets("reco").copy()
    reco[..., :2] *= factor
    jets[:, 2] = relative_jet_mass(jetnet_jets(reco)[0]) * jets[:, 0]
    return _with(ev, reco=reco, reco_jets=jets)


def collinear_split(ev: ParticleJets) -> ParticleJets:
    """Every reco constituent above 5 % of the jet pT split into two collinear halves: a constituent-pT
    distortion that every IRC-safe observable (EFPs, FPD, the jet mass) is exactly blind to."""
    reco = ev.particles("reco").copy()
    for j in range(len(reco)):
        n = int(reco[j, :, 3].sum())
        for i in np.flatnonzero(reco[j, :n, 2] > 0.05):
            if n < P:
                reco[j, i, 2] /= 2
                reco[j, n] = reco[j, i]
                n += 1
    return _with(ev, reco=reco)


# ---------------------------------------------------------------- JetNet exactness
def _golden_jets(n: int, phase: float) -> np.ndarray:
    """Deterministic JetNet-format jets [n, 12, 4]; Σ pT_rel between 0.7 and 1 (a truncated jet)."""
    k, i = np.arange(n)[:, None].astype(float), np.arange(12)[None, :].astype(float)
    mask = i < (3 + (np.arange(n) * 7 + int(phase * 10)) % 10)[:, None]
    eta = 0.25 * np.sin(1.3 * k + 2.1 * i + phase) * np.exp(-0.04 * i)
    phi = 0.25 * np.cos(0.7 * k + 1.7 * i + 2 * phase) * np.exp(-0.04 * i)
    w = np.where(mask, np.exp(-0.25 * i) * (1.2 + np.sin(k + 3.1 * i + phase)), 0.0)
    pt = w / w.sum(1, keepdims=True) * (0.85 + 0.15 * np.cos(k))
    out = np.stack([eta, phi, pt, mask.astype(float)], -1)
    out[~mask] = 0.0
    return out


# jetnet 0.2.5 (energyflow 1.4.0) on _golden_jets(200, 0) vs _golden_jets(150, 0.7), its module rng set to
# default_rng(11) (default_rng(12) for the masked W1P) before each call; EFPs of jet 1 in efp_graphs' order.
GOLDEN_MASS = [0.2454926590984029, 0.2144578634496856, 0.12458057684120148, 0.1546324481605645]
GOLDEN_EFP_1 = [
    0.931045345880221, 0.2278231478459556, 0.09169773441850974, 0.05631731598892454, 0.05190338669444014,
    0.040347717410713455, 0.022783321795543925, 0.00991350821416124, 0.01407118098976024, 0.013857629185913743,
    0.020890866505567315, 0.012830388206832154, 0.01182479294059324, 0.018743571007344077, 0.010074665297257654,
    0.009442386686208778, 0.003440096996434185, 0.005722420052156792, 0.005626654641131007, 0.0056059465175521085,
    0.0024597454099002498, 0.004552798860716052, 0.009192143988907808, 0.008408474497487547,
    0.0035548946183478346, 0.0034459698850472275, 0.0034200112030717696, 0.005190568089848186,
    0.0022585266475469512, 0.005164170284715695, 0.0032057407469973467, 0.0031570887028168557,
    0.0031716400801963755, 0.0047594229685279845, 0.002923059429366127, 0.0026939615503525855,
]  # fmt: skip
GOLDEN_W1M = ([0.0068999817010119355], [0.0014793287079925195])  # num_eval_samples=100, num_batches=5
GOLDEN_W1P = (
    [0.0054440877665238585, 0.004971210344051838, 0.0093154977456366],
    [0.0006256622686721561, 0.0010709817921237114, 0.003408652039330015],
)
GOLDEN_W1P_MASK = (  # mask1/mask2 passed, num_eval_samples=120, num_batches=3
    [0.007017908897098302, 0.0041230314638542, 0.007403778144184273],
    [0.0014415155920555782, 0.0012115634340139551, 0.003885738327340628],
)
GOLDEN_W1EFP = (
    [0.0005332285438832796, 0.0005159792369342647, 0.000516133045483425, 0.00023180549372039068,
     0.0004237107133686151],
    [0.0001671331566661651, 0.00014651463782685499, 0.0001414033193329422, 9.150018130506969e-05,
     0.00011377061497030881],
)  # fmt: skip
GOLDEN_KPD = (-0.011788158241464286, 0.010207000519913486)  # kpd(num_batches=4, batch_size=100, seed=42)
GOLDEN_FPD_ERR = 0.15612300337182466  # fpd(min 60, max 150, 5 batches, 4 points, seed 42): 4.6e-19 ± this
GOLDEN_EMD_ROW0 = [0.1875902612976564, 0.1983931859506684, 0.26190613500054905, 0.39812230385648584]


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    a, ma = jetnet_jets(_golden_jets(200, 0.0))
    b, mb = jetnet_jets(_golden_jets(150, 0.7))
    return {"a": a, "ma": ma, "b": b, "mb": mb, "ea": fpd_kpd_features(a), "eb": fpd_kpd_features(b)}


def test_relative_mass_and_efps_match_jetnet(golden: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(relative_jet_mass(golden["a"])[:4], GOLDEN_MASS, rtol=1e-12)
    np.testing.assert_allclose(golden["ea"][1], GOLDEN_EFP_1, rtol=1e-12)  # unnormalised: d = 0 is Σ pT_rel
    assert w1efp_columns() == (17, 18, 19, 20, 21)


def test_w1_batch_protocol_matches_jetnet(golden: dict[str, np.ndarray]) -> None:
    a, b = golden["a"], golden["b"]
    m = batched_w1(relative_jet_mass(a), relative_jet_mass(b), 100, 5, seed=np.random.default_rng(11))
    np.testing.assert_allclose((m.means, m.stds), GOLDEN_W1M, rtol=1e-10)
    p = batched_w1_particles(a, a[..., 2] >= 0, b, b[..., 2] >= 0, 100, 5, seed=np.random.default_rng(11))
    np.testing.assert_allclose((p.means, p.stds), GOLDEN_W1P, rtol=1e-10)  # exclude_zeros alone
    p = batched_w1_particles(a, golden["ma"], b, golden["mb"], 120, 3, seed=np.random.default_rng(12))
    np.testing.assert_allclose((p.means, p.stds), GOLDEN_W1P_MASK, rtol=1e-10)
    cols = list(w1efp_columns())
    e = batched_w1(golden["ea"][:, cols], golden["eb"][:, cols], 100, 5, seed=np.random.default_rng(11))
    np.testing.assert_allclose((e.means, e.stds), GOLDEN_W1EFP, rtol=1e-10)
    assert e.average().value == pytest.approx(np.mean(GOLDEN_W1EFP[0]))
    assert e.average().uncertainty == pytest.approx(np.linalg.norm(GOLDEN_W1EFP[1]))


def test_fpd_kpd_and_emd_match_jetnet(golden: dict[str, np.ndarray]) -> None:
    f = fpd(golden["ea"], golden["eb"], min_samples=60, max_samples=150, num_batches=5, num_points=4, seed=42)
    assert f.value < 1e-12 and f.uncertainty == pytest.approx(GOLDEN_FPD_ERR, rel=1e-6)
    k = kpd(golden["ea"], golden["eb"], num_batches=4, batch_size=100, seed=42)
    assert (k.value, k.uncertainty) == pytest.approx(GOLDEN_KPD, rel=1e-9)
    d = emd_matrix(golden["b"][:1], golden["mb"][:1], golden["a"][:4], golden["ma"][:4], R=1.0, n_jobs=1)
    np.testing.assert_allclose(d[0], GOLDEN_EMD_ROW0, rtol=1e-9)  # energyflow emds(gen, real), R = 1


def test_efps_by_brute_force_on_a_truncated_jet() -> None:
    """Every EFP of d ≤ 4 as the plain sum over vertex assignments, with z_i = pT_rel (Σ = 0.8, unnormalised)."""
    jet = np.array([[[0.1, -0.2, 0.5, 1], [-0.15, 0.05, 0.2, 1], [0.3, 0.25, 0.1, 1], [0, 0, 0, 0]]])
    parts, _ = jetnet_jets(jet)
    z, x = parts[0, :3, 2], parts[0, :3, :2]
    theta = np.linalg.norm(x[:, None] - x[None], axis=-1)
    got = fpd_kpd_features(parts)[0]
    for col, (n, edges) in enumerate(efp_graphs(4)):
        want = sum(
            np.prod(z[list(idx)]) * np.prod([theta[idx[u], idx[v]] for u, v in edges])
            for idx in product(range(3), repeat=n)
        )
        assert got[col] == pytest.approx(want, rel=1e-12, abs=1e-15), (n, edges)
    assert got[0] == pytest.approx(0.8)  # normalised EFPs would give 1


def test_w1m_of_two_known_samples() -> None:
    """Two particles of pT_rel ½ at η_rel = ±a: m² = 2·¼·(cosh 2a − 1); W1 of two point masses is |Δm|."""

    def jets(a: float) -> np.ndarray:
        return np.tile(np.array([[a, 0, 0.5, 1], [-a, 0, 0.5, 1]]), (40, 1, 1))

    m1, m2 = (np.sqrt(0.5 * (np.cosh(2 * a) - 1)) for a in (0.1, 0.2))
    x1, x2 = (relative_jet_mass(jetnet_jets(jets(a))[0]) for a in (0.1, 0.2))
    np.testing.assert_allclose(x1, m1, rtol=1e-12)
    res = batched_w1(x1, x2, seed=0)
    assert res.batch_size == 40 and res.means[0] == pytest.approx(m2 - m1, rel=1e-12) and res.stds[0] < 1e-15


def test_masked_and_negative_particles_are_corrected() -> None:
    jet = np.array([[[0.1, 0.1, 0.6, 1], [0.2, -0.1, -0.1, 1], [0.3, 0.3, 0.4, 0]]])
    parts, mask = jetnet_jets(jet)
    assert mask.tolist() == [[True, True, False]]
    assert parts[0, 1, 2] == 0 and not parts[0, 2].any()  # gen_jet_corrections


# ---------------------------------------------------------------- the suite on toy jets
@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, Any]]:
    ref, other = FAST.prepare(toy_jets(600, 1)), toy_jets(600, 2)
    samples = {"floor": other, "wide": wide(other), "split": collinear_split(other)}
    return {name: FAST.distribution_metrics(ref, FAST.prepare(ev), seed=0) for name, ev in samples.items()}


def test_level_is_reco_when_both_hold_it(rows: dict[str, dict[str, Any]]) -> None:
    assert rows["floor"]["level"] == "reco"
    gen_only = ParticleJets(gen=toy_jets(5, 0).gen, gen_jets=toy_jets(5, 0).gen_jets)
    assert common_level(toy_jets(5, 1), gen_only) == "gen"


def test_wider_jets_score_worse_than_the_floor(rows: dict[str, dict[str, Any]]) -> None:
    floor, bad = rows["floor"], rows["wide"]
    for key in ("W1M", "W1EFP", "FPD (36 EFPs)", "W1 jet mass"):
        assert bad[key]["value"] > 5 * floor[key]["value"] + 3 * bad[key]["uncertainty"], key
    assert bad["W1P eta_rel"]["value"] > 5 * floor["W1P eta_rel"]["value"]


def test_particle_classifier_sees_what_fpd_is_blind_to(rows: dict[str, dict[str, Any]]) -> None:
    floor, split = rows["floor"], rows["split"]
    assert (
        split["FPD (36 EFPs)"]["value"]
        < floor["FPD (36 EFPs)"]["value"] + 3 * floor["FPD (36 EFPs)"]["uncertainty"]
    )
    assert split["W1M"]["value"] < 2 * floor["W1M"]["value"] + 1e-9  # collinear safe
    auc = split["classifier AUC (particle-level)"]
    assert (
        auc["value"] > 0.75
        and auc["value"] - 5 * auc["uncertainty"] > floor["classifier AUC (particle-level)"]["value"]
    )
    assert split["W1P pt_rel"]["value"] > 3 * floor["W1P pt_rel"]["value"]


def test_identical_samples_score_zero_but_the_floor_does_not() -> None:
    ref = toy_jets(200, 3)
    same = ParticleJetSuite(cov_mmd_batches=0).distribution_metrics(
        FAST.prepare(ref), FAST.prepare(ref), seed=0
    )
    assert same["W1 jet mass"]["value"] == 0 and same["W1 multiplicity"]["value"] == 0


# ---------------------------------------------------------------- detector mode, pairing, end to end
def test_response_of_a_candidate_equal_to_the_reference_is_the_reference() -> None:
    ref = toy_jets(300, 4)
    row, emd = FAST.paired_metrics(FAST.prepare(ref), FAST.prepare(_with(ref)), seed=0, n_jobs=1)
    for q in ("pT", "mass"):
        for stat in ("mean", "width"):
            assert row[f"response {q} {stat}"] == row[f"response {q} {stat}: reference detector"]
            assert row[f"response {q} {stat} ratio to reference"]["value"] == 1.0
    assert 0.9 < row["response pT mean"]["value"] < 1.0  # the toy detector's 3 % scale loss, 5 % inefficiency
    np.testing.assert_allclose(emd, 0.0, atol=1e-9)
    hot = ref.jets("reco").copy()
    hot[:, 0] *= 1.1
    row, _ = FAST.paired_metrics(FAST.prepare(ref), FAST.prepare(_with(ref, reco_jets=hot)), seed=0, n_jobs=1)
    assert row["response pT mean ratio to reference"]["value"] == pytest.approx(1.1, rel=1e-6)
    assert row["response mass mean ratio to reference"]["value"] == pytest.approx(1.0)


def test_generation_mode_candidate_gets_no_response() -> None:
    ref = toy_jets(50, 5)
    other_gen = _with(ref, gen_jets=toy_jets(50, 6).gen_jets)
    assert not FAST.detector_mode(ref, other_gen) and FAST.detector_mode(ref, ref)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    ref = toy_jets(300, 7)
    resim = toy_jets(300, 7, detector_seed=99)  # same gen jets, detector run again
    assert np.array_equal(resim.particles("gen"), ref.particles("gen"))
    detector = wide(toy_jets(300, 7, detector_seed=98), 1.3)  # a surrogate detector: too wide reco jets
    shuffled = ref.subset(np.random.default_rng(0).permutation(300))
    out = tmp_path_factory.mktemp("pj_eval")
    saved = SUITES["particle-jets"]
    SUITES["particle-jets"] = FAST  # JetNet's cov_mmd (10⁵ EMDs per sample) cut to 2 batches of 20
    try:
        driver.evaluate(
            "particle-jets", ref, {"detector": detector, "shuffled": shuffled}, out, resim=resim, n_jobs=1
        )
    finally:
        SUITES["particle-jets"] = saved
    return out, json.loads((out / "metrics.json").read_text())


def test_metrics_json_of_an_end_to_end_evaluation(result: tuple[Path, dict[str, Any]]) -> None:
    out, res = result
    m = res["metrics"]
    assert res["kind"] == "particle-jets" and res["n_reference"] == 150
    assert set(m) == {FLOOR, RESIM, "detector", "shuffled"}
    for col in (FLOOR, "detector", "shuffled"):
        assert m[col]["level"] == "reco"
        assert m[col]["W1M"]["batch_size"] == 150 and m[col]["W1M"]["num_batches"] == 5
        assert len(m[col]["W1EFP"]["per_efp"]) == 5
        assert {"FPD (36 EFPs)", "coverage (EMD, R=1)", "classifier AUC (particle-level)"} <= set(m[col])
    assert m[FLOOR]["W1M"]["value"] > 0 and m[FLOOR]["W1 jet mass"]["value"] > 0  # halves, not ref vs ref
    assert "W1M" in res["units"] and res["units"]["W1 jet pT"] == "GeV"
    # pairing by event id: the shuffled copy of the reference is not paired, the resimulation and the detector are
    assert "median EMD to its reference jet" not in m["shuffled"]
    for col in (RESIM, "detector"):
        assert 0.95 < m[col]["response pT mean ratio to reference"]["value"] < 1.05
    assert m["detector"]["response mass mean ratio to reference"]["value"] > 1.15  # 1.3 × wider
    assert (
        m["detector"]["median EMD to its reference jet"]["value"]
        > m[RESIM]["median EMD to its reference jet"]["value"]
    )
    for plot in res["plots"]:
        assert (out / plot).stat().st_size > 1000
    names = {Path(p).name for p in res["plots"]}
    assert {"reco_relative_mass.png", "reco_particle_pt_rel.png", "reco_jet_displays.png"} <= names
    assert {"response_pT.png", "emd_per_event.png"} <= names
    assert (out / "report.html").exists()


def test_suite_is_registered_and_typed() -> None:
    suite = SUITES["particle-jets"]
    assert (
        isinstance(suite, ParticleJetSuite) and suite.cov_mmd_samples == 100 and suite.cov_mmd_batches == 10
    )
    assert dataclasses.is_dataclass(suite) and "EMD" in suite.per_event_label and suite.notes


def test_particle_classifier_input_ignores_slot_order() -> None:
    from mlfastsim.evaluation.suites.particle_jets import _sorted_constituents, _view

    ev = toy_jets(20, 8)
    perm = np.random.default_rng(1).permutation(P)
    shuffled = _with(ev, reco=ev.particles("reco")[:, perm])
    a, b = (_sorted_constituents(_view(e, "reco")) for e in (ev, shuffled))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (20, 3 * P) and (np.diff(a.reshape(20, P, 3)[..., 2], axis=1) <= 0).all()


def test_one_level_for_the_whole_table() -> None:
    """A gen-level candidate (a prior sample) is judged at gen level, and so is the floor beside it."""
    ref, second = toy_jets(60, 1), toy_jets(60, 2)
    gen_only = ParticleJets(gen=toy_jets(60, 3).gen, gen_jets=toy_jets(60, 3).gen_jets)
    prepared = FAST.prepare_all({"reference": ref, FLOOR: second, "prior": gen_only})
    assert {p.level for p in prepared.values()} == {"gen"}
    row = FAST.distribution_metrics(prepared["reference"], prepared[FLOOR], seed=0)
    assert row["level"] == "gen"
    both = FAST.prepare_all({"reference": ref, FLOOR: second})
    assert FAST.distribution_metrics(both["reference"], both[FLOOR], seed=0)["level"] == "reco"
