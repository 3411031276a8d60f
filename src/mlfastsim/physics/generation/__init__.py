"""Pythia 8 process presets → arrays of final-state particles."""

__all__: list[str] = []
