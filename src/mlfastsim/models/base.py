"""The small Protocols of mlfastsim's models (what a family can do, declared), and the batch convention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

__all__ = [
    "Adversarial",
    "Batch",
    "BatchKeys",
    "Exportable",
    "Fitted",
    "GenerativeModel",
    "PlainMLP",
    "Prepared",
    "ReconstructingModel",
    "SamplerSpec",
    "ScoringModel",
    "SecondStage",
    "TensorSpec",
]

#: A batch is a dict of tensors, made by a data kind's codec (:mod:`mlfastsim.data.kinds`). Keys used:
#:   "features": float32 [B, n_max, F]  normalised per-element features (hits, particles, ...)
#:   "mask":     bool    [B, n_max]     True for real elements; padded slots must not change any output
#:   "cond":     float32 [B, C]          optional per-event conditions (e.g. normalised jet pT, η, mass)
#:   "gen_features" [B, m_max, G] / "gen_mask" [B, m_max]: optional generator-level particles
#: A model's *conditions* (what ``sample`` is given) are the batch without the keys it generates.
Batch = dict[str, Tensor]


@runtime_checkable
class BatchKeys(Protocol):
    """A family's config declares which batch keys its model reads, so the codec builds only those."""

    def batch_keys(self) -> frozenset[str]:
        """E.g. ``{"features", "mask", "cond"}``, plus ``{"gen_features", "gen_mask"}`` for particle input."""
        ...


@runtime_checkable
class GenerativeModel(Protocol):
    """A generative surrogate. It is a ``torch.nn.Module`` with a frozen-dataclass ``config``."""

    config: Any

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Training losses; the key ``"loss"`` is the scalar to minimise, other keys are logged."""
        ...

    def sample(self, n: int, cond: Batch | None = None, generator: torch.Generator | None = None) -> Batch:
        """Generate ``n`` events given the conditions ``cond`` (batch keys other than the generated ones, each
        with ``n`` rows), or from the prior alone when None: ``{"features", "mask", ...}`` in normalised
        units; a model that draws its own conditions returns them as ``"matched_cond"``."""
        ...

    def needs_conditions(self) -> bool:
        """True when ``sample`` cannot run without ``cond`` (e.g. detector-mode models)."""
        ...


@runtime_checkable
class ReconstructingModel(Protocol):
    """A model that encodes and decodes a given event (autoencoder)."""

    def reconstruct(self, batch: Batch) -> Batch:
        """Reconstruct the batch: ``{"features": [B, n_max, F], "mask": [B, n_max]}``."""
        ...


@runtime_checkable
class ScoringModel(Protocol):
    """A model with an anomaly score (higher = less like the training data)."""

    def score(self, batch: Batch) -> Tensor:
        """Anomaly score per event, float32 ``[B]``."""
        ...


@runtime_checkable
class Prepared(Protocol):
    """A model that looks at its training data once before training (e.g. to store a bank of conditions)."""

    def prepare(self, data: Batch) -> None:
        """``data``: the whole training split as one batch of tensors."""
        ...


@runtime_checkable
class Fitted(Protocol):
    """A model fitted from data without gradient descent (the ``library``): the run layer stores it."""

    def fit_data(self, data: Batch) -> None:
        """``data``: the whole training split as one batch of tensors."""
        ...


@runtime_checkable
class SecondStage(Protocol):
    """A model with a part fitted after gradient training, on the trained model's view of its training data
    (``gvae``'s flow prior, fitted to the encoder's aggregate posterior): the run layer calls it on the weights
    of ``best.pt`` and of ``last.pt`` when training finishes and writes the result back into each."""

    def fit_second_stage(self, data: Batch, seed: int) -> dict[str, float]:
        """``data``: the whole training split as one batch; ``seed``: the run's seed (the fit is reproducible).
        Returns numbers to report (empty: nothing was fitted, the checkpoints stay as they are)."""
        ...


@runtime_checkable
class Adversarial(Protocol):
    """A model trained adversarially (GANs, seed 004): several parameter groups, each with its own optimiser,
    trained in turn on every batch. The trainer knows no model: it asks the model for its groups, how many
    optimiser steps each takes per batch, and each group's loss.

    Batches may carry per-event weights ``"weight" [B]`` (LHCb calibration samples carry sWeights, some
    negative); every group loss must honour them.
    """

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """Group name → its parameters, in training order (e.g. ``critic``, then ``generator``, ``regressor``)."""
        ...

    def group_steps(self) -> dict[str, int]:
        """Optimiser steps per batch of each group (e.g. ``{"critic": 5, "generator": 1}``)."""
        ...

    def group_loss(self, group: str, batch: Batch) -> dict[str, Tensor]:
        """The loss of ``group`` on ``batch``: key ``"loss"`` is minimised over that group's parameters only;
        other keys are logged."""
        ...


# ---------------------------------------------------------------- export (issue 11)
@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a pure sampler (what an exported file declares about it).

    Attributes:
        name: the tensor's name in the exported graph; an output's name is the batch key it fills
            (``features``, ``mask``, ``matched_cond``, ``response``).
        shape: sizes, or axis names for the dynamic axes (``"batch"``; e.g. ``"particles"`` for a
            variable number of generator-level particles).
        dtype: ``float32``, ``bool`` or ``int64``.
        source: inputs only: ``normal`` (standard normal noise) or ``uniform`` (U[0, 1) noise), drawn by
            the caller; or ``batch:KEY``, a condition taken from the codec's batch key ``KEY``.
        doc: what it is, with units.
    """

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    source: str = ""
    doc: str = ""


@dataclass(frozen=True)
class SamplerSpec:
    """What a pure sampler takes and gives: ``forward(*inputs) -> tuple(outputs)`` in this order.

    ``mode``: ``conditioned`` (the conditions are inputs) or ``prior`` (no conditions given: a model that
    draws its own from a stored bank does it inside, from a ``uniform`` input, and outputs them as
    ``matched_cond``)."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    mode: Literal["conditioned", "prior"]


@runtime_checkable
class Exportable(Protocol):
    """A generative model whose sampling path can be exported (ONNX, TorchScript; C for plain MLPs).

    The pure sampler is a module with nothing random and nothing data-dependent in its shapes inside:
    noise comes in as tensors (drawn outside, as ``spec`` declares), conditions come in as tensors, the
    sample goes out. Its outputs, named by batch key, are what :meth:`GenerativeModel.sample` returns,
    so the kind's codec decodes them unchanged.
    """

    def pure_sampler(self, mode: Literal["conditioned", "prior"]) -> nn.Module:
        """The sampler for ``mode``; its ``spec: SamplerSpec`` attribute describes its inputs and outputs.
        Raises ValueError (one line) when the model cannot sample in that mode."""
        ...


@runtime_checkable
class PlainMLP(Protocol):
    """A pure sampler that is one plain MLP on the concatenation of its inputs (in ``spec`` order):
    Linear layers and elementwise activations only; its first output is that MLP's output. Such a
    sampler can also be exported as self-contained C (Lamarr's approach)."""

    def layers(self) -> nn.Sequential:
        """The MLP: ``nn.Linear`` and activations (``LeakyReLU``, ``ReLU``, ``SiLU``, ``Tanh``, ``Sigmoid``)."""
        ...
