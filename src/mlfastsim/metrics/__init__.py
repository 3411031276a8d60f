"""Metrics as plain functions on arrays: EMD, Chamfer, W1, EFPs, FPD/KPD, classifier AUC, efficiency ratio."""

from mlfastsim.metrics.binned import efficiency_ratio, separation_power
from mlfastsim.metrics.classifier import ClassifierResult, classifier_test, roc_auc, roc_auc_interval
from mlfastsim.metrics.coverage import coverage_mmd, coverage_mmd_emd
from mlfastsim.metrics.distances import chamfer, masked_mse, w1
from mlfastsim.metrics.efp import efp_graphs, efps
from mlfastsim.metrics.emd import emd, emd_matrix, emd_pair, emd_pairs, emd_pairwise
from mlfastsim.metrics.frechet import fpd, frechet_distance, kpd
from mlfastsim.metrics.result import MetricResult, batch_means, bootstrap

__all__ = [
    "ClassifierResult",
    "MetricResult",
    "batch_means",
    "bootstrap",
    "chamfer",
    "classifier_test",
    "coverage_mmd",
    "coverage_mmd_emd",
    "efficiency_ratio",
    "efp_graphs",
    "efps",
    "emd",
    "emd_matrix",
    "emd_pair",
    "emd_pairs",
    "emd_pairwise",
    "fpd",
    "frechet_distance",
    "kpd",
    "masked_mse",
    "roc_auc",
    "roc_auc_interval",
    "separation_power",
    "w1",
]
