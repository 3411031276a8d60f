"""The generator-level particle record shared by generation, the detector and the data files."""

from __future__ import annotations

import numpy as np

__all__ = ["PARTICLE_DTYPE", "empty_particles"]

#: One final-state particle at generator level. Units: GeV, rad, elementary charge.
#: ``in_jet``: clustered into the jet that the event record is centred on;
#: ``pileup``: comes from a pile-up minimum-bias interaction, not the hard event.
PARTICLE_DTYPE = np.dtype(
    [
        ("pt", "f8"),
        ("eta", "f8"),
        ("phi", "f8"),
        ("e", "f8"),
        ("pdgid", "i4"),
        ("charge", "f4"),
        ("in_jet", "?"),
        ("pileup", "?"),
    ]
)


def empty_particles(n: int = 0) -> np.ndarray:
    """A zeroed structured array of ``n`` particles with :data:`PARTICLE_DTYPE`."""
    return np.zeros(n, dtype=PARTICLE_DTYPE)
