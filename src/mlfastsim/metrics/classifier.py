"""Classifier two-sample test (CaloChallenge style): calibrated and raw held-out AUC of reference vs
generated, with a diagnostic of whether the classifier learned anything; ROC AUC with its interval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlfastsim.metrics.result import MetricResult

__all__ = ["ClassifierResult", "classifier_test", "roc_auc", "roc_auc_interval"]

#: A classifier "learned" when, on the held-out test split, its raw AUC exceeds 0.5 or its log-loss gain
#: over the constant predictor exceeds 0, by this many standard errors (one-sided; 0 of 60 pairs of
#: samples of one distribution were called "learned" in the test of this rule).
LEARNED_SIGMA = 2.0


@dataclass(frozen=True)
class ClassifierResult(MetricResult):
    """:class:`MetricResult` of :func:`classifier_test` (``value`` = calibrated test AUC) plus diagnostics.

    Attributes:
        raw_auc, raw_uncertainty: test AUC of the network's own outputs (before the isotonic calibration)
            and its Hanley–McNeil error.
        learned: whether the classifier shows skill on the held-out test split: its raw AUC exceeds 0.5, or
            its mean per-sample log-loss gain over the constant predictor exceeds 0, by ``LEARNED_SIGMA``
            standard errors. False means the test had no power at this sample size (or the samples agree):
            its AUC ≈ 0.5 is then no evidence of fidelity.
        logloss_gain, logloss_gain_uncertainty: the constant predictor's (training class fraction) test
            log-loss minus the classifier's (nats per test sample), and its standard error.
        train_auc: AUC of the raw outputs on the training split (capacity check: ≈ 0.5 there too means the
            network could not even fit its training data).
    """

    raw_auc: float = float("nan")
    raw_uncertainty: float = float("nan")
    learned: bool = True
    logloss_gain: float = float("nan")
    logloss_gain_uncertainty: float = float("nan")
    train_auc: float = float("nan")

    def to_dict(self) -> dict[str, float | int]:
        """``MetricResult.to_dict()`` (value = calibrated AUC, uncertainty, n = test size) and the diagnostics."""
        return {
            **super().to_dict(),
            "raw_auc": float(self.raw_auc),
            "raw_uncertainty": float(self.raw_uncertainty),
            "learned": bool(self.learned),
            "logloss_gain": float(self.logloss_gain),
            "logloss_gain_uncertainty": float(self.logloss_gain_uncertainty),
            "train_auc": float(self.train_auc),
        }


def _split(n: int, rng: np.random.Generator, fractions: tuple[float, float]) -> tuple[np.ndarray, ...]:
    perm = rng.permutation(n)
    n_train, n_val = round(fractions[0] * n), round(fractions[1] * n)
    return perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]


def roc_auc(
    scores_bkg: np.ndarray,
    scores_sig: np.ndarray,
    weights_bkg: np.ndarray | None = None,
    weights_sig: np.ndarray | None = None,
) -> MetricResult:
    """Area under the ROC curve for separating signal (label 1) from background (label 0) by score.

    Args:
        scores_bkg: ``[N_b]`` scores of the background (e.g. reference) sample.
        scores_sig: ``[N_s]`` scores of the signal (e.g. generated) sample.
        weights_bkg, weights_sig: optional per-sample weights (sWeights may be negative): then
            AUC = Σ_ij w_i w_j ([s_j > b_i] + ½ [s_j = b_i]) / (Σ w_i Σ w_j), the weighted Mann–Whitney form.

    Returns:
        :class:`MetricResult` (AUC; Hanley & McNeil 1982 standard error, with the effective counts
        (Σ w)² / Σ w² in place of N_b, N_s when weighted; N_b + N_s).
    """
    b = np.asarray(scores_bkg, dtype=np.float64).ravel()
    s = np.asarray(scores_sig, dtype=np.float64).ravel()
    if len(b) == 0 or len(s) == 0:
        raise ValueError("roc_auc needs both samples non-empty")
    if weights_bkg is None and weights_sig is None:
        from sklearn.metrics import roc_auc_score

        labels = np.concatenate([np.zeros(len(b)), np.ones(len(s))])
        auc = float(roc_auc_score(labels, np.concatenate([b, s])))
        n_b, n_s = float(len(b)), float(len(s))
    else:
        wb = np.ones(len(b)) if weights_bkg is None else np.asarray(weights_bkg, np.float64).ravel()
        ws = np.ones(len(s)) if weights_sig is None else np.asarray(weights_sig, np.float64).ravel()
        if len(wb) != len(b) or len(ws) != len(s):
            raise ValueError("roc_auc: one weight per score needed")
        auc = _weighted_auc(b, wb, s, ws)
        n_b, n_s = (float(w.sum() ** 2 / max((w * w).sum(), 1e-300)) for w in (wb, ws))
    q1, q2 = auc / (2.0 - auc), 2.0 * auc**2 / (1.0 + auc)
    var = (auc * (1 - auc) + (n_s - 1) * (q1 - auc**2) + (n_b - 1) * (q2 - auc**2)) / (n_s * n_b)
    return MetricResult(auc, float(np.sqrt(max(var, 0.0))), len(b) + len(s))


def roc_auc_interval(
    scores_bkg: np.ndarray,
    scores_sig: np.ndarray,
    level: float = 0.68,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the ROC AUC (each sample resampled on its own).

    Args:
        scores_bkg, scores_sig: ``[N_b]``, ``[N_s]`` scores (background label 0, signal label 1).
        level: central probability of the interval (0.68: ±1σ-like).
        n_boot: bootstrap replicas. seed: seeds the resampling.

    Returns:
        (low, high) AUC bounds.
    """
    from scipy.stats import rankdata

    b = np.asarray(scores_bkg, dtype=np.float64).ravel()
    s = np.asarray(scores_sig, dtype=np.float64).ravel()
    if len(b) == 0 or len(s) == 0:
        raise ValueError("roc_auc_interval needs both samples non-empty")
    if not 0.0 < level < 1.0:
        raise ValueError(f"roc_auc_interval: level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    aucs = np.empty(int(n_boot))
    for k in range(int(n_boot)):
        bb, ss = b[rng.integers(0, len(b), len(b))], s[rng.integers(0, len(s), len(s))]
        ranks = rankdata(np.concatenate([bb, ss]))  # Mann–Whitney: ties count one half
        aucs[k] = (ranks[len(bb) :].sum() - len(ss) * (len(ss) + 1) / 2) / (len(bb) * len(ss))
    lo, hi = np.quantile(aucs, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _weighted_auc(b: np.ndarray, wb: np.ndarray, s: np.ndarray, ws: np.ndarray) -> float:
    """Σ_ij wb_i ws_j ([s_j > b_i] + ½ [s_j = b_i]) / (Σ wb Σ ws)."""
    order = np.argsort(b, kind="stable")
    b_sorted, cum = b[order], np.concatenate([[0.0], np.cumsum(wb[order])])
    below = cum[np.searchsorted(b_sorted, s, side="left")]
    equal = cum[np.searchsorted(b_sorted, s, side="right")] - below
    total = wb.sum() * ws.sum()
    return float(np.sum(ws * (below + 0.5 * equal)) / total) if total != 0 else float("nan")


def classifier_test(
    x_ref: np.ndarray,
    x_gen: np.ndarray,
    seed: int = 0,
    hidden: tuple[int, ...] = (512, 512),
    epochs: int = 30,
    patience: int = 5,
    batch_size: int = 256,
    lr: float = 5e-4,
    split: tuple[float, float] = (0.6, 0.2),
    device: str = "cpu",
    n_threads: int | None = None,
    weights_ref: np.ndarray | None = None,
    weights_gen: np.ndarray | None = None,
) -> ClassifierResult:
    """Train an MLP to tell generated from reference samples; return its calibrated AUC on a held-out split.

    As in the CaloChallenge evaluation: each sample is split train/validation/test (60/20/20 by default),
    inputs are standardised with the training statistics, a fully connected network (``hidden`` widths,
    LeakyReLU, one logit; BCE loss, Adam) is trained with early stopping on the validation loss (the best
    epoch is kept), its validation outputs calibrate an isotonic regression (sklearn), and the AUC of the
    calibrated test outputs is reported. 0.5 means the classifier cannot separate the samples; 1 means it
    always can. Beside it: the AUC of the raw outputs, and whether the classifier learned at all
    (:class:`ClassifierResult`): an isotonic fit to an uninformative classifier is flat and gives exactly
    0.5, which says nothing about the samples unless the test has power at this size.

    Args:
        x_ref: float ``[N, F]`` reference samples (label 0), any units (standardised here).
        x_gen: float ``[M, F]`` generated samples (label 1), same features.
        seed: seeds the split, the initial weights and the batch order (the global torch RNG is restored).
        hidden: hidden-layer widths.
        epochs: most training epochs; patience: epochs without validation improvement before stopping.
        batch_size, lr: mini-batch size and Adam learning rate.
        split: train and validation fractions (the rest is the test split).
        device: torch device.
        n_threads: torch intra-op threads while training (restored afterwards); None leaves the setting.
            One thread is often fastest for these small networks and immune to a busy machine.
        weights_ref, weights_gen: optional per-sample weights ``[N]``, ``[M]`` (sWeights may be negative). They
            weight the training loss, the validation loss, the calibration (only when every validation weight
            is ≥ 0; otherwise the raw outputs are scored, which changes the AUC little) and the test AUC
            (:func:`roc_auc`). Each class is normalised to a mean weight of 1.

    Returns:
        :class:`ClassifierResult` (calibrated test AUC, Hanley–McNeil standard error, test-split size; raw
        AUC, ``learned``, the held-out log-loss gain over the constant predictor, the training-split AUC).
    """
    import torch
    from sklearn.isotonic import IsotonicRegression

    x_ref = np.asarray(x_ref, dtype=np.float64)
    x_gen = np.asarray(x_gen, dtype=np.float64)
    x_ref = x_ref[:, None] if x_ref.ndim == 1 else x_ref
    x_gen = x_gen[:, None] if x_gen.ndim == 1 else x_gen
    if x_ref.ndim != 2 or x_gen.ndim != 2 or x_ref.shape[1] != x_gen.shape[1]:
        raise ValueError(f"need [N, F] and [M, F] samples, got {list(x_ref.shape)} and {list(x_gen.shape)}")
    if not (np.isfinite(x_ref).all() and np.isfinite(x_gen).all()):
        raise ValueError("classifier_test inputs contain NaN or inf; drop or fix those samples first")
    rng = np.random.default_rng(seed)
    parts_ref = _split(len(x_ref), rng, split)
    parts_gen = _split(len(x_gen), rng, split)
    if min(len(p) for p in (*parts_ref, *parts_gen)) < 2:
        raise ValueError("too few samples for a train/validation/test split of both samples")

    weighted = weights_ref is not None or weights_gen is not None
    w_ref = _class_weights(weights_ref, len(x_ref))
    w_gen = _class_weights(weights_gen, len(x_gen))

    def stack(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs = np.concatenate([x_ref[parts_ref[i]], x_gen[parts_gen[i]]])
        ys = np.concatenate([np.zeros(len(parts_ref[i])), np.ones(len(parts_gen[i]))])
        return xs, ys, np.concatenate([w_ref[parts_ref[i]], w_gen[parts_gen[i]]])

    (x_tr, y_tr, w_tr), (x_va, y_va, w_va), (x_te, y_te, w_te) = stack(0), stack(1), stack(2)
    mean, std = x_tr.mean(0), x_tr.std(0)
    std[std == 0] = 1.0

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32, device=device)

    t_tr, t_va, t_te = (tensor((a - mean) / std) for a in (x_tr, x_va, x_te))
    l_tr, l_va = tensor(y_tr), tensor(y_va)

    threads_before = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(int(n_threads))
    try:
        p_tr, p_va, p_te = _train_and_predict(
            t_tr, l_tr, t_va, l_va, t_te, seed, hidden, epochs, patience, batch_size, lr, device,
            tensor(w_tr) if weighted else None, tensor(w_va) if weighted else None,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads_before)
    te0, te1 = y_te == 0, y_te == 1
    raw = roc_auc(p_te[te0], p_te[te1], *((w_te[te0], w_te[te1]) if weighted else ()))
    if not weighted or (w_va >= 0).all():
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        calibrated = iso.fit(p_va, y_va, w_va if weighted else None).predict(p_te)
        result = roc_auc(calibrated[te0], calibrated[te1], *((w_te[te0], w_te[te1]) if weighted else ()))
    else:
        result = raw  # negative validation weights: no isotonic calibration
    tr0, tr1 = y_tr == 0, y_tr == 1
    train = roc_auc(p_tr[tr0], p_tr[tr1], *((w_tr[tr0], w_tr[tr1]) if weighted else ()))
    gain, gain_err = _logloss_gain(p_te, y_te, w_te, float(np.average(y_tr, weights=w_tr)))
    return ClassifierResult(
        result.value,
        result.uncertainty,
        len(y_te),
        raw_auc=raw.value,
        raw_uncertainty=raw.uncertainty,
        learned=bool(gain > LEARNED_SIGMA * gain_err or raw.value - 0.5 > LEARNED_SIGMA * raw.uncertainty),
        logloss_gain=gain,
        logloss_gain_uncertainty=gain_err,
        train_auc=train.value,
    )


def _logloss_gain(p: np.ndarray, y: np.ndarray, w: np.ndarray, prior: float) -> tuple[float, float]:
    """Mean per-sample log-loss of the constant predictor ``prior`` minus that of the probabilities ``p``
    on labels ``y`` (weights ``w``), in nats, and its standard error (Σw)⁻¹·√Σ w²(g − ḡ)²."""
    eps = 1e-7
    p = np.clip(p, eps, 1 - eps)
    q = float(np.clip(prior, eps, 1 - eps))
    loss_model = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    loss_const = -(y * np.log(q) + (1 - y) * np.log1p(-q))
    g = loss_const - loss_model
    mean = float(np.sum(w * g) / np.sum(w))
    err = float(np.sqrt(np.sum(w**2 * (g - mean) ** 2)) / np.sum(w)) if len(g) > 1 else float("nan")
    return mean, err


def _class_weights(w: np.ndarray | None, n: int) -> np.ndarray:
    """Weights ``[n]`` scaled to mean 1 (None: ones); ValueError when their sum is not positive."""
    if w is None:
        return np.ones(n)
    w = np.asarray(w, dtype=np.float64).ravel()
    if len(w) != n or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("classifier_test weights: one finite weight per sample, with a positive sum")
    return w / w.mean()


def _train_and_predict(
    t_tr, l_tr, t_va, l_va, t_te, seed, hidden, epochs, patience, batch_size, lr, device, w_tr=None, w_va=None
):
    """Train the MLP with early stopping (per-sample weights ``w_tr``, ``w_va`` in the losses when given);
    return training, validation and test probabilities (float64 numpy)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        layers: list[torch.nn.Module] = []
        width = t_tr.shape[1]
        for h in hidden:
            layers += [torch.nn.Linear(width, h), torch.nn.LeakyReLU(0.2)]
            width = h
        model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)

        def loss_fn(
            logits: torch.Tensor, labels: torch.Tensor, w: torch.Tensor | None = None
        ) -> torch.Tensor:
            per = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
            return per.mean() if w is None else (per * w).mean()  # weights have mean 1

        gen = torch.Generator().manual_seed(int(seed))

        def predict(t: torch.Tensor) -> torch.Tensor:
            model.eval()
            with torch.no_grad():
                return torch.cat([model(t[s : s + 8192]).squeeze(-1) for s in range(0, len(t), 8192)])

        best_loss, best_state, stale = float("inf"), None, 0
        for _ in range(int(epochs)):
            model.train()
            order = torch.randperm(len(t_tr), generator=gen).to(device)
            for s in range(0, len(order), batch_size):
                idx = order[s : s + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(t_tr[idx]).squeeze(-1), l_tr[idx], None if w_tr is None else w_tr[idx])
                loss.backward()
                opt.step()
            val_loss = float(loss_fn(predict(t_va), l_va, w_va))
            if val_loss < best_loss - 1e-6:
                best_loss, stale = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        p_tr, p_va, p_te = (
            torch.sigmoid(predict(t)).cpu().numpy().astype(np.float64) for t in (t_tr, t_va, t_te)
        )
    return p_tr, p_va, p_te
