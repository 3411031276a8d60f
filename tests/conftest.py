"""Shared test settings: no progress bars in test output."""

import os

os.environ.setdefault("MLFASTSIM_PROGRESS", "0")
