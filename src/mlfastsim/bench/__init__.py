"""Speed benchmarks (``mlfastsim bench``): models, detector and metrics, measured as ratios in one run."""

__all__: list[str] = []
