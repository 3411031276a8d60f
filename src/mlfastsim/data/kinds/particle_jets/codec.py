"""The codec of the ``particle-jets`` kind: constituents ↔ normalised model tensors, for both paradigms of
seed 003 — *generation* (a level's constituents from the prior, optionally given jet conditions) and
*detector* (detector-level constituents given the generator-level ones of the same jet).

Model tensors (batch keys, :mod:`mlfastsim.models.base`):
  ``features [N, P, 3]``  the generated level's (η_rel, φ_rel, log pT_rel), standardised over real particles
                          (one mean and std per feature: permutation-equivariant, padding never moves them);
  ``mask [N, P]``;
  ``cond [N, C]``         standardised jet conditions (``data.conditions``), taken from the generator-level
                          jet when the file has one (what a fast simulation is given), else from the level;
  ``gen_features [N, P_gen, 3 (+5)]`` / ``gen_mask`` the generator-level input (detector mode),
                          standardised the same way: the jet's constituents, or (``data.gen_input =
                          region``) its region's P_gen leading particles with their one-hot type
                          (:mod:`.region`);
  ``response [N, 2]``     standardised log(pT_reco / pT_gen) and log(m_reco / m_gen) of the whole jets
                          (detector mode): relative constituents cannot carry the jet's energy scale, and
                          the P kept constituents not the whole jet's mass, so the model generates both. A
                          model generating only the first column gets the mass from its constituents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from mlfastsim._utils import InputError, config_from_dict, config_to_dict
from mlfastsim.data.kinds.base import Batch
from mlfastsim.data.kinds.particle_jets.container import ParticleJets
from mlfastsim.data.kinds.particle_jets.region import PARTICLE_TYPES, region_particles
from mlfastsim.data.normalisation import ConditionNormaliser, HitNormaliser
from mlfastsim.physics.kinematics import jet_pt_mass

__all__ = ["CONDITION_NAMES", "ParticleJetCodec", "ParticleJetData", "physical_particles"]

#: Jet conditions a model can be given: jet features and the label.
CONDITION_NAMES = ("pt", "eta", "mass", "n_particles", "y")
_JET_COLUMN = {"pt": 0, "eta": 1, "mass": 2, "n_particles": 3}


@dataclass(frozen=True)
class ParticleJetData:
    """The ``[data]`` table of a particle-jet run.

    Attributes:
        level: the level a model generates: ``reco`` (detector level) or ``gen``; public JetNet files hold
            ``gen`` only. Detector-mode models are given the ``gen`` level and generate ``reco``.
        n_particles: particle slots per jet (the file's P when None; fewer keeps the highest-pT ones).
        conditions: jet conditions of conditional models, from :data:`CONDITION_NAMES` (``y``: the label,
            e.g. to condition on the jet type in a mixed file).
        gen_input: what a detector-mode model is given of the generator level: ``constituents`` (the jet's
            P leading ones, JetNet's features) or ``region`` (the detector's input: the ``gen_particles``
            leading particles of the stored region around the jet, with their type; :mod:`.region`).
        gen_particles: slots of the ``region`` input (default: ``n_particles``).
        label: keep only jets with this label ``y``.
        val_fraction: fraction of jets held out for validation. max_events: read at most this many jets.
    """

    level: Literal["gen", "reco"] = "reco"
    n_particles: int | None = None
    conditions: tuple[str, ...] = ()
    gen_input: Literal["constituents", "region"] = "constituents"
    gen_particles: int | None = None
    label: float | None = None
    val_fraction: float = 0.1
    max_events: int | None = None

    def __post_init__(self) -> None:
        for name in self.conditions:
            if name not in CONDITION_NAMES:
                raise InputError(
                    f"data.conditions: unknown condition {name!r}; choose from {', '.join(CONDITION_NAMES)}"
                )
        if self.gen_input not in ("constituents", "region"):
            raise InputError(f"data.gen_input={self.gen_input!r}: choose constituents or region")
        if self.gen_particles is not None and (self.gen_particles < 1 or self.gen_input != "region"):
            raise InputError(
                f"data.gen_particles={self.gen_particles} needs data.gen_input = region and must be >= 1"
            )
        if self.n_particles is not None and self.n_particles < 1:
            raise InputError(f"data.n_particles={self.n_particles} must be >= 1 (or none for the file's)")


def _split(particles: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(η_rel, φ_rel, pT_rel) ``[N, p, 3]`` and mask ``[N, p]`` of the ``p`` first (highest-pT) slots."""
    return particles[:, :p, :3], particles[:, :p, 3] > 0


def _gen_input(ev: ParticleJets, data: ParticleJetData, p: int) -> tuple[np.ndarray, np.ndarray]:
    """The generator-level input of a detector-mode model in physical units and its mask (``gen_input``)."""
    if data.gen_input == "region":
        return region_particles(ev, data.gen_particles or p)
    return _split(ev.particles("gen"), p)


def _log_response(ev: ParticleJets) -> np.ndarray:
    """``[N, 2]`` log(pT_reco / pT_gen), log(m_reco / m_gen) of the whole jets (NaN where undefined)."""
    reco, gen = ev.jets("reco").astype(np.float64), ev.jets("gen").astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(reco[:, [0, 2]] / gen[:, [0, 2]])


def condition_values(ev: ParticleJets, names: tuple[str, ...]) -> np.ndarray:
    """``[N, C]`` float32 jet conditions (physical units) from the gen-level jet if present, else reco."""
    jets = ev.jets("gen" if "gen" in ev.levels else "reco")
    cols = [ev.y if name == "y" else jets[:, _JET_COLUMN[name]] for name in names]
    return np.stack(cols, axis=1).astype(np.float32) if cols else np.zeros((len(ev), 0), np.float32)


def physical_particles(features: torch.Tensor, mask: torch.Tensor, norm: HitNormaliser) -> np.ndarray:
    """Standardised model output → JetNet particle features, float32 ``[N, P, 4]`` (η_rel, φ_rel, pT_rel,
    mask): ``features [N, P, 3]`` (standardised η_rel, φ_rel, log pT_rel) through ``norm``'s inverse, the
    real slots of ``mask [N, P]`` (bool) first in decreasing pT_rel (stable among equals), padding zero.

    Bit for bit :meth:`HitNormaliser.inverse_transform` followed by the stable sort of every array (the
    same float32 operations in the same order: x·std + mean, clip to ±30, NumPy's exp, times the mask; the
    mask's second multiplication after sorting changes no bit, x·m·m = x·m for m ∈ {0, 1}), but on
    contiguous tensors (PyTorch's threads for the arithmetic, NumPy's exp so that no last bit moves) and
    with one gather of whole rows instead of a sort of each array.
    """
    f = features.detach().float().cpu()
    m = mask.detach().cpu().to(torch.bool).to(torch.float32)
    n, p = m.shape
    phys = f[..., :3] * torch.tensor(norm.std[:3], dtype=torch.float32)
    phys += torch.tensor(norm.mean[:3], dtype=torch.float32)
    pt = phys[..., 2].clamp(-30.0, 30.0)  # contiguous [N, P]
    np.exp(pt.numpy(), out=pt.numpy())
    rows = torch.stack([phys[..., 0], phys[..., 1], pt, torch.ones_like(pt)], -1)
    rows *= m.unsqueeze(-1)  # the mask column: 1·m
    out = rows.numpy().reshape(n * p, 4)
    key = np.where(out[:, 3] > 0, -out[:, 2], np.inf).reshape(n, p)
    order = np.argsort(key, axis=1, kind="stable")
    order += (p * np.arange(n))[:, None]
    return out.take(order.ravel(), axis=0).reshape(n, p, 4)


class ParticleJetCodec:
    """Fitted normalisers of one particle-jet run (see the module docstring); stored in the checkpoint."""

    def __init__(
        self,
        data: ParticleJetData,
        n_particles: int,
        norm: HitNormaliser,
        gen_norm: HitNormaliser | None,
        cond_norm: ConditionNormaliser,
        response: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.0, 1.0)),
    ) -> None:
        self.data, self.p, self.norm, self.gen_norm = data, n_particles, norm, gen_norm
        self.cond_norm, self.response = cond_norm, response

    @classmethod
    def fit(cls, train: ParticleJets, data: ParticleJetData) -> ParticleJetCodec:
        """Fit on the training jets: feature statistics of the generated level (and of gen, when both levels
        are present, for detector mode), jet conditions and the jet response."""
        p = min(data.n_particles or train.n_particles, train.n_particles)
        feats, mask = _split(train.particles(data.level), p)
        if not mask.any():
            raise InputError(f"the training jets have no {data.level}-level particles")
        norm = HitNormaliser().fit(feats, mask)
        gen_norm: HitNormaliser | None = None
        response: tuple[tuple[float, float], ...] = ((0.0, 1.0), (0.0, 1.0))
        if data.level == "reco" and "gen" in train.levels:
            gen_norm = HitNormaliser().fit(*_gen_input(train, data, p))
            log_r = _log_response(train)
            response = tuple(
                (float(col[np.isfinite(col)].mean()), float(max(col[np.isfinite(col)].std(), 1e-6)))
                if np.isfinite(col).any()
                else (0.0, 1.0)
                for col in log_r.T
            )
        cond_norm = ConditionNormaliser().fit(condition_values(train, data.conditions))
        return cls(data, p, norm, gen_norm, cond_norm, response)

    # ------------------------------------------------------------------ batches
    def _level(self, particles: np.ndarray, norm: HitNormaliser) -> tuple[torch.Tensor, torch.Tensor]:
        feats, mask = _split(particles, self.p)
        return torch.as_tensor(norm.transform(feats, mask)), torch.as_tensor(mask)

    def _given(self, ev: ParticleJets, keys: frozenset[str]) -> Batch:
        batch: Batch = {
            "cond": torch.as_tensor(self.cond_norm.transform(condition_values(ev, self.data.conditions)))
        }
        if "gen_features" in keys:
            if self.gen_norm is None or "gen" not in ev.levels:
                raise InputError(
                    "detector mode needs generator-level particles (a file from 'mlfastsim generate "
                    "particle-jets', which stores both levels) and data.level = reco"
                )
            feats, mask = _gen_input(ev, self.data, self.p)
            batch["gen_features"] = torch.as_tensor(self.gen_norm.transform(feats, mask))
            batch["gen_mask"] = torch.as_tensor(mask)
        return batch

    def encode(self, ev: ParticleJets, keys: frozenset[str]) -> Batch:
        """The generated level's normalised constituents and mask, the conditions and what ``keys`` asks for."""
        feats, mask = self._level(ev.particles(self.data.level), self.norm)
        batch: Batch = {"features": feats, "mask": mask, **self._given(ev, keys)}
        if "response" in keys:
            mean, std = (np.array(v) for v in zip(*self.response, strict=True))
            r = (np.nan_to_num(_log_response(ev) - mean, nan=0.0)) / std
            batch["response"] = torch.as_tensor(r, dtype=torch.float32)
        return batch

    def conditions(self, ev: ParticleJets, keys: frozenset[str]) -> Batch:
        """What the model is given to generate ``ev``'s jets: conditions (if it takes them) and gen particles."""
        batch = self._given(ev, keys)
        return {k: v for k, v in batch.items() if k in keys}

    def decode(self, out: Batch, like: ParticleJets | None) -> ParticleJets:
        """Generated constituents in the JetNet layout (sorted by decreasing pT_rel, padding zeros).

        Jet features of the generated level: n_particles from the mask; pT from ``like``'s conditioning jet
        (times the generated pT response in detector mode; NaN without ``like``), η from it; the mass from
        the conditioning jet's mass times the generated mass response when the model generates it, else
        from the constituents (m / pT_jet is a function of the relative features) times the pT. With
        ``like``, the other level and the event ids are kept; without, ids are −1.
        """
        particles = physical_particles(out["features"], out["mask"], self.norm)
        mask = particles[..., 3] > 0
        n = len(particles)
        pt = np.full(n, np.nan)
        eta = np.full(n, np.nan)
        r = np.zeros((n, 0))
        if like is not None:
            source = like.jets("gen" if "gen" in like.levels else self.data.level)
            pt, eta = source[:, 0].astype(np.float64), source[:, 1].astype(np.float64)
            r = out["response"].float().numpy() if "response" in out else r
            (m0, s0), (m1, s1) = self.response
            if r.shape[1] > 0:
                pt = pt * np.exp(r[:, 0] * s0 + m0)
        if like is not None and r.shape[1] > 1:  # the whole jet's mass response, not the kept constituents'
            mass = source[:, 2].astype(np.float64) * np.exp(r[:, 1] * s1 + m1)
        elif like is not None:
            _, m_rel = jet_pt_mass(particles[..., 0], particles[..., 1], particles[..., 2], mask)
            mass = m_rel * pt
        else:  # no jet pT to scale the relative mass by: unknown, as the pT (the relative mass is not computed)
            mass = pt
        jets = np.stack([pt, eta, mass, mask.sum(1)], axis=1).astype(np.float32)
        levels: dict[str, Any] = {self.data.level: particles, f"{self.data.level}_jets": jets}
        if like is None:
            return ParticleJets(**levels, event_id=np.full(n, -1, np.int64))
        other = "gen" if self.data.level == "reco" else "reco"
        if other in like.levels:
            levels.update({other: like.particles(other), f"{other}_jets": like.jets(other)})
        return ParticleJets(
            **levels, y=like.y, event_id=like.event_id, regions=like.regions, gen_axis=like.gen_axis
        )

    def model_fields(self) -> dict[str, Any]:
        """Slots, feature and condition counts, and the feature statistics (so a model can compute jet mass
        and pT from its normalised output, seed 003's loss terms)."""
        fields: dict[str, Any] = {
            "n_particles": self.p,
            "n_features": 3,
            "n_cond": len(self.data.conditions),
            "feature_mean": tuple(self.norm.mean),
            "feature_std": tuple(self.norm.std),
        }
        if self.gen_norm is not None:
            fields.update(gen_mean=tuple(self.gen_norm.mean), gen_std=tuple(self.gen_norm.std))
            region = self.data.gen_input == "region"
            fields["n_gen_particles"] = (self.data.gen_particles or self.p) if region else self.p
            fields["n_gen_types"] = len(PARTICLE_TYPES) if region else 0
            fields["outputs"] = ("features", "mask", "response")  # a detector-level jet carries its response
            fields["n_response"] = len(self.response)
        return fields

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": config_to_dict(self.data),
            "n_particles": self.p,
            "normaliser": self.norm.to_dict(),
            "gen_normaliser": None if self.gen_norm is None else self.gen_norm.to_dict(),
            "cond_normaliser": self.cond_norm.to_dict(),
            "response": [list(r) for r in self.response],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> ParticleJetCodec:
        gen = state.get("gen_normaliser")
        return cls(
            config_from_dict(ParticleJetData, state["data"], "data"),
            int(state["n_particles"]),
            HitNormaliser.from_dict(state["normaliser"]),
            None if gen is None else HitNormaliser.from_dict(gen),
            ConditionNormaliser.from_dict(state["cond_normaliser"]),
            tuple((float(m), float(sd)) for m, sd in state["response"]),
        )
