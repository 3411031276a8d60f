"""mlfastsim: machine-learning fast simulation of particle-physics detectors."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlfastsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
