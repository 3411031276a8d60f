"""The model families ``mlfastsim train`` knows, by name."""

from __future__ import annotations

from typing import Any

from torch import nn

from mlfastsim.models.gvae import GVAE, GVAEConfig
from mlfastsim.models.gvae_paper import GVAEPaper, GVAEPaperConfig
from mlfastsim.models.library import Library, LibraryConfig

__all__ = ["MODELS", "build_model"]

#: name → (config dataclass, model class)
MODELS: dict[str, tuple[type, type[nn.Module]]] = {
    "gvae": (GVAEConfig, GVAE),
    "gvae-paper": (GVAEPaperConfig, GVAEPaper),
    "library": (LibraryConfig, Library),
}


def build_model(name: str, config: dict[str, Any] | None = None) -> tuple[nn.Module, Any]:
    """Instantiate family ``name`` from a (partial) config dict; returns ``(model, resolved config)``."""
    from mlfastsim.training.config import config_from_dict

    if name not in MODELS:
        raise KeyError(f"unknown model family {name!r}; choose one of {', '.join(MODELS)}")
    config_cls, model_cls = MODELS[name]
    cfg: Any = config_from_dict(config_cls, config or {}, "model")
    return model_cls(cfg), cfg
