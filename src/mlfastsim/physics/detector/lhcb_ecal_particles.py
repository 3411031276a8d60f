"""The particles of the LHCb-like ECAL's reference simulation (:mod:`.lhcb_ecal`, which re-exports these):
photons and electrons from the interaction point into the inner ECAL region, at its front face, with the
dipole's kick on the electrons (constants: :mod:`.lhcb_ecal_constants`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlfastsim.physics.detector.lhcb_ecal_constants import (
    DIPOLE_KICK_GEV,
    ECAL_FACE_Z_MM,
    ENERGY_RANGE_GEV,
    INNER_HOLE_MM,
    INNER_OUTER_X_MM,
    INNER_OUTER_Y_MM,
    MAGNET_Z_MM,
    MAX_SLOPE_X,
    MAX_SLOPE_Y,
    VERTEX_SIGMA_Z_MM,
)

__all__ = ["InnerFaceParticles", "inner_face_particles"]


@dataclass(frozen=True)
class InnerFaceParticles:
    """Photons and electrons arriving at the inner ECAL region (:func:`inner_face_particles`).

    Attributes:
        face_xy: float64 ``[n, 2]`` entry point on the front face (z = 12 490 mm) [mm].
        momentum: float64 ``[n, 3]`` (px, py, pz) at the face [GeV]. pdg: int32 ``[n]`` (22, 11, −11).
    """

    face_xy: NDArray[np.float64]
    momentum: NDArray[np.float64]
    pdg: NDArray[np.int32]


def inner_face_particles(
    n: int,
    rng: np.random.Generator,
    species: tuple[str, ...] = ("gamma", "e"),
    energy_range: tuple[float, float] = ENERGY_RANGE_GEV,
) -> InnerFaceParticles:
    """``n`` particles from the interaction point into the inner ECAL region, equal shares of ``species``.

    Energy flat in ln E on ``energy_range`` [GeV]; entry point uniform over the read-out inner region
    (|x| ≤ 969.6, |y| ≤ 727.2 mm outside the |x|, |y| ≤ 323.2 mm beam hole; LHCbCal); vertex at
    (0, 0, z_v), z_v ~ N(0, 50 mm). Photons fly straight from the vertex. Electrons (charge and magnet
    polarity at random) are bent once, at z = 5.3 m, by Δt_x = ±1.2 GeV / p in the x–z plane, so they hit
    the face with slopes up to ≈ 0.35: the strongly inclined showers; draws whose slope at the vertex lies
    outside the 300 / 250 mrad acceptance are redrawn.
    """
    kinds = {"gamma": 22, "e": 11}
    bad = [s for s in species if s not in kinds]
    if bad or not species:
        raise ValueError(f"unknown species {bad or species}; choose from {', '.join(kinds)}")
    pdg = np.array([kinds[species[i % len(species)]] for i in range(n)], np.int32)
    rng.shuffle(pdg)
    face = np.zeros((n, 2))
    slopes = np.zeros((n, 2))
    energy = np.zeros(n)
    todo = np.arange(n)
    while len(todo):
        m = len(todo)
        e = np.exp(rng.uniform(math.log(energy_range[0]), math.log(energy_range[1]), m))
        x = rng.uniform(-INNER_OUTER_X_MM, INNER_OUTER_X_MM, m)
        y = rng.uniform(-INNER_OUTER_Y_MM, INNER_OUTER_Y_MM, m)
        z_v = VERTEX_SIGMA_Z_MM * rng.standard_normal(m)
        sign = np.where(pdg[todo] == 22, 0.0, rng.choice([-1.0, 1.0], m))
        kick = sign * DIPOLE_KICK_GEV / e
        tx0 = (x - kick * (ECAL_FACE_Z_MM - MAGNET_Z_MM)) / (ECAL_FACE_Z_MM - z_v)
        ty = y / (ECAL_FACE_Z_MM - z_v)
        ok = (np.maximum(np.abs(x), np.abs(y)) > INNER_HOLE_MM) & (np.abs(tx0) < MAX_SLOPE_X)
        ok &= np.abs(ty) < MAX_SLOPE_Y
        idx = todo[ok]
        face[idx] = np.stack([x, y], axis=1)[ok]
        slopes[idx] = np.stack([tx0 + kick, ty], axis=1)[ok]
        energy[idx] = e[ok]
        todo = todo[~ok]
    direction = np.concatenate([slopes, np.ones((n, 1))], axis=1)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    charge = np.where(pdg == 22, 1, rng.choice([-1, 1], n))
    return InnerFaceParticles(face, energy[:, None] * direction, (pdg * charge).astype(np.int32))
