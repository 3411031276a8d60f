"""Classifier two-sample test (CaloChallenge style): calibrated held-out AUC of reference vs generated; ROC AUC."""

from __future__ import annotations

import numpy as np

from mlfastsim.metrics.result import MetricResult

__all__ = ["classifier_test", "roc_auc"]


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
) -> MetricResult:
    """Train an MLP to tell generated from reference samples; return its calibrated AUC on a held-out split.

    As in the CaloChallenge evaluation: each sample is split train/validation/test (60/20/20 by default),
    inputs are standardised with the training statistics, a fully connected network (``hidden`` widths,
    LeakyReLU, one logit; BCE loss, Adam) is trained with early stopping on the validation loss (the best
    epoch is kept), its validation outputs calibrate an isotonic regression (sklearn), and the AUC of the
    calibrated test outputs is reported. 0.5 means the classifier cannot separate the samples; 1 means it
    always can.

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
        :class:`MetricResult` (test AUC, Hanley–McNeil standard error, test-split size).
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
        p_va, p_te = _train_and_predict(
            t_tr, l_tr, t_va, l_va, t_te, seed, hidden, epochs, patience, batch_size, lr, device,
            tensor(w_tr) if weighted else None, tensor(w_va) if weighted else None,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads_before)
    if not weighted:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p_va, y_va)
        calibrated = iso.predict(p_te)
        result = roc_auc(calibrated[y_te == 0], calibrated[y_te == 1])
    else:
        if (w_va >= 0).all():
            p_te = (
                IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                .fit(p_va, y_va, w_va)
                .predict(p_te)
            )
        result = roc_auc(p_te[y_te == 0], p_te[y_te == 1], w_te[y_te == 0], w_te[y_te == 1])
    return MetricResult(result.value, result.uncertainty, len(y_te))


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
    return validation and test probabilities (float64 numpy)."""
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
        p_va = torch.sigmoid(predict(t_va)).cpu().numpy().astype(np.float64)
        p_te = torch.sigmoid(predict(t_te)).cpu().numpy().astype(np.float64)
    return p_va, p_te
