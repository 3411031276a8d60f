"""Pythia 8 process presets → final-state particles → labelled anti-kT jets (re-exports)."""

from mlfastsim.physics.generation.jets_source import JetRecord, generate_jets, label_jet
from mlfastsim.physics.generation.presets import (
    ECAL_BARREL_ABS_ETA,
    LABEL_RULES,
    PRESETS,
    ProcessPreset,
    get_preset,
)
from mlfastsim.physics.generation.pythia import TRUTH_DTYPE, GenEvent, PythiaGenerator, Truth

__all__ = [
    "ECAL_BARREL_ABS_ETA",
    "LABEL_RULES",
    "PRESETS",
    "TRUTH_DTYPE",
    "GenEvent",
    "JetRecord",
    "ProcessPreset",
    "PythiaGenerator",
    "Truth",
    "generate_jets",
    "get_preset",
    "label_jet",
]
