"""Seeding, atomic writes, user-facing errors, progress bars and provenance; imports nothing else of ours."""

from mlfastsim._utils.atomic import (
    atomic_dir,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    check_writable,
    check_writable_dir,
    scratch_dir,
)
from mlfastsim._utils.config import apply_overrides, config_from_dict, config_to_dict, load_config_file
from mlfastsim._utils.errors import FatalError, InputError, MissingExtraError, Terminated, require
from mlfastsim._utils.progress import progress
from mlfastsim._utils.provenance import jsonable, package_version, provenance
from mlfastsim._utils.seeding import make_rng, shard_seed, torch_generator

__all__ = [
    "FatalError",
    "InputError",
    "MissingExtraError",
    "Terminated",
    "apply_overrides",
    "atomic_dir",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_writable",
    "check_writable_dir",
    "config_from_dict",
    "config_to_dict",
    "jsonable",
    "load_config_file",
    "make_rng",
    "package_version",
    "progress",
    "provenance",
    "require",
    "scratch_dir",
    "shard_seed",
    "torch_generator",
]
