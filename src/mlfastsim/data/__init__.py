"""Data contracts, readers and writers, representations, normalisations and torch datasets."""

from mlfastsim.data.representations import knn_graph
from mlfastsim.data.schemas import HitCloud, JetImages

__all__ = ["HitCloud", "JetImages", "knn_graph"]
