"""Data contracts, readers and writers, representations, normalisations and torch datasets."""

from mlfastsim.data.datasets import HitCloudDataset, train_val_split
from mlfastsim.data.io import JetImageWriter, inspect_file, iter_jet_images, read_jet_images, write_jet_images
from mlfastsim.data.normalisation import ConditionNormaliser, HitNormaliser
from mlfastsim.data.representations import (
    GEN_FEATURE_NAMES,
    cloud_to_image,
    gen_particles_to_padded,
    image_to_cloud,
    knn_graph,
)
from mlfastsim.data.schemas import HitCloud, JetImages, concatenate_jets

__all__ = [
    "GEN_FEATURE_NAMES",
    "ConditionNormaliser",
    "HitCloud",
    "HitCloudDataset",
    "HitNormaliser",
    "JetImageWriter",
    "JetImages",
    "cloud_to_image",
    "concatenate_jets",
    "gen_particles_to_padded",
    "image_to_cloud",
    "inspect_file",
    "iter_jet_images",
    "knn_graph",
    "read_jet_images",
    "train_val_split",
    "write_jet_images",
]
