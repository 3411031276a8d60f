"""The model families ``mlfastsim train`` knows, by name, with the data kinds each accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from mlfastsim._utils import InputError
from mlfastsim._utils.config import config_from_dict
from mlfastsim.models.cgan_pid import CGANPID, CGANPIDConfig
from mlfastsim.models.cgan_shower import CGANShower, CGANShowerConfig
from mlfastsim.models.cgan_tpc import CGANTPC, CGANTPCConfig
from mlfastsim.models.flow_pid import FlowPID, FlowPIDConfig
from mlfastsim.models.flow_shower import FlowShower, FlowShowerConfig
from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_paper import GVAEPaper, GVAEPaperConfig
from mlfastsim.models.library import Library, LibraryConfig
from mlfastsim.models.particle_vae import ParticleVAE, ParticleVAEConfig
from mlfastsim.models.trivial import MeanHit, MeanHitConfig

__all__ = ["FAMILIES", "Family", "build_model", "get_family"]


@dataclass(frozen=True)
class Family:
    """A model family: its config dataclass, its module class and the data kinds it accepts.

    What a family can do (sample, reconstruct, score, be fitted without gradients) is declared by the
    Protocols of :mod:`mlfastsim.models.base` that its module implements.
    """

    name: str
    config: type
    model: type[nn.Module]
    kinds: tuple[str, ...]
    summary: str


#: name → family. A new family is one module in ``models/`` and one line here.
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("gvae", GVAEConfig, GVAE, ("jet-images",), "graph VAE with a point-process decoder (ours)"),
        Family(
            "gvae-paper",
            GVAEPaperConfig,
            GVAEPaper,
            ("jet-images",),
            "the seeds' DenseSAGE+MinCut VAE; it reconstructs but cannot generate from the prior: its decoder "
            "needs the cluster assignments of a real event (use gvae to generate)",
        ),
        Family(
            "library",
            LibraryConfig,
            Library,
            ("jet-images", "particle-jets", "pid", "showers", "tpc"),
            "replay the nearest stored training event (seed 004's library approach)",
        ),
        Family(
            "mean-hit",
            MeanHitConfig,
            MeanHit,
            ("jet-images",),
            "trivial reconstruction baseline: every hit at its jet's energy-weighted centroid with the mean hit "
            "energy (reconstructs with 'sample --reconstruct'; it cannot generate)",
        ),
        Family(
            "particle-vae",
            ParticleVAEConfig,
            ParticleVAE,
            ("particle-jets",),
            "seed 003's particle-cloud VAE",
        ),
        Family(
            "cgan-pid", CGANPIDConfig, CGANPID, ("pid",), "seed 004's conditional GAN of the RICH PID DLLs"
        ),
        Family(
            "flow-pid",
            FlowPIDConfig,
            FlowPID,
            ("pid",),
            "conditional neural spline flow of the RICH PID DLLs (maximum likelihood; the GAN's alternative)",
        ),
        Family(
            "cgan-shower",
            CGANShowerConfig,
            CGANShower,
            ("showers",),
            "seed 004's conditional GAN of LHCb ECAL showers, steered by an asymmetry regressor",
        ),
        Family(
            "flow-shower",
            FlowShowerConfig,
            FlowShower,
            ("showers",),
            "conditional affine-coupling flow of LHCb ECAL shower cores, outer cells from a fitted table "
            "(maximum likelihood; the GAN's alternative)",
        ),
        Family(
            "cgan-tpc",
            CGANTPCConfig,
            CGANTPC,
            ("tpc",),
            "seed 004's conditional WGAN-GP of MPD TPC pad-row windows (8 pads x 16 time buckets)",
        ),
    )
}


def get_family(name: str) -> Family:
    """The family called ``name``; one-line InputError listing the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise InputError(f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}") from None


def build_model(name: str, config: dict[str, Any] | None = None) -> tuple[nn.Module, Any]:
    """Instantiate family ``name`` from a (partial) config dict; returns ``(model, resolved config)``."""
    family = get_family(name)
    cfg: Any = config_from_dict(family.config, config or {}, "model")
    return family.model(cfg), cfg
