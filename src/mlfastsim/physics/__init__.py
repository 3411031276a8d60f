"""Pure kinematics, Pythia 8 generation, FastJet jets and the parametric reference detector."""

from mlfastsim.physics.kinematics import (
    delta_phi,
    eta_phi_from_momentum,
    four_momentum,
    invariant_mass,
    wrap_phi,
)
from mlfastsim.physics.particles import PARTICLE_DTYPE, empty_particles

__all__ = [
    "PARTICLE_DTYPE",
    "delta_phi",
    "empty_particles",
    "eta_phi_from_momentum",
    "four_momentum",
    "invariant_mass",
    "wrap_phi",
]
