"""Use a trained run — sample, reconstruct, score — with nothing from training (load, codec, model)."""

from mlfastsim.inference.runs import LoadedRun, batch_keys, load_run, reconstruct_run, sample_run, score_run

__all__ = ["LoadedRun", "batch_keys", "load_run", "reconstruct_run", "sample_run", "score_run"]
