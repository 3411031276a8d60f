"""The settings of ``particle-vae`` (:class:`ParticleVAEConfig`; the model is
:mod:`mlfastsim.models.particle_vae`, which re-exports this class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlfastsim._utils import InputError

__all__ = ["ParticleVAEConfig"]

Triple = tuple[float, float, float]
_MODES = ("generation", "detector")


@dataclass(frozen=True)
class ParticleVAEConfig:
    """Settings of ``particle-vae`` (see the module docstring). ``n_particles``, ``n_features``, ``n_cond``
    and the feature statistics are set from the data by the codec (``model_fields``).

    Attributes:
        mode: ``generation`` (from the prior, given ``cond`` or not) or ``detector`` (given the jet's
            generator-level constituents; also generates the jet response).
        n_particles: particle slots P. n_features: 3, (η_rel, φ_rel, log pT_rel) standardised.
        n_cond: jet conditions (0: unconditional; a config with 0 stays unconditional).
        feature_mean, feature_std: the codec's standardisation of the generated level (to compute jet pT and
            mass inside the loss: pT_rel = exp(x₂·std₂ + mean₂)); gen_mean, gen_std: of the generator level.
        n_gen_particles, n_gen_types: slots of the generator-level input (0: ``n_particles``) and the
            one-hot type columns after its 3 features (0, or 5 with ``data.gen_input = region``).
        encoder: the jet encoder q(z | jet): ``sorted`` (an MLP on the particles in decreasing pT, width
            ``encoder_hidden``) or ``deepsets`` (pooled per-particle MLPs, width ``hidden``); the detector
            mode's generator-level encoder is always a DeepSets one.
        latent: dimension of z. hidden: width of the set encoders. context: width of the context vector.
        decoder_hidden, decoder_layers: the decoder MLP. slot_hidden: width of the detector-mode per-particle
            branch (each generator-level particle embedded with the jet's decoder state, one round of
            self-attention among them, then an MLP: the correction to that particle).
        prior: ``flow`` (a learned RealNVP prior p(z | context), ``flow_layers`` couplings of width
            ``flow_hidden``), ``mixture`` (learned, ``prior_components`` Gaussians) or ``normal`` (N(0, 1)).
        beta: β of seed 003's loss. lambda_mass, lambda_pt: weights of Δm², ΔpT² (in units of their spread).
        lambda_count: weight of the multiplicity cross entropy. lambda_response: of the response NLL.
        lambda_emd: weight of the per-jet energy mover's distance between each decoded jet and its true
            jet (:func:`~.particle_vae_nn.jet_emd`, in ΔR; 0: off): the Chamfer term weighs every particle
            alike in the standardised space, the EMD the hard ones, by pT, in (η, φ) — what the per-jet EMD
            of the evaluation measures.
        lambda_dist: weight of the batch's distribution term (generation mode only — the detector mode is
            conditioned on each generator-level jet and ignores it; 0: seed 003's loss): as many
            jets decoded from the prior as the batch holds, with the batch's multiplicities, against the
            batch's jets — the 1-D W1 of each standardised particle feature over all particles, of the
            relative jet mass (in units of its spread) and of the multiplicity (the batch-mean predicted
            histogram against the true counts, in units of their spread), summed; latents and features are
            clamped as ``sample`` clamps them. It trains the decoder (and the prior) on what sampling uses:
            seed 003's loss sees only posterior draws.
        lambda_efp: weight, inside that term, of the 36 energy-flow polynomials of FPD (the mean W1 of each,
            in units of its spread in the batch; :func:`~.particle_vae_nn.efp_distance`; 0: off).
        efp_frechet: weight, within that part, of the Fréchet distance between Gaussians fitted to the prior
            draws' and the batch's EFPs (per EFP; 0: the W1 alone). FPD is that distance, and the far tail
            of the EFPs (the top 1–3 % of jets) dominates it, which the W1 weighs little.
        response_components: Gaussians in the mixture of the jet response.
        response_given: what the response's mixture is conditioned on (detector mode): ``latent`` (the
            decoder's state, z and the context) or ``jet`` (the context and the detector-level constituents
            through their own sorted encoder: p(x, r | gen) = p(x | gen)·p(r | x, gen), trained on the real
            constituents, sampled on the generated ones, so the response does not inherit the prior's
            mismatch to the posterior).
        augment: reflect training jets at random in η_rel and φ_rel (symmetries of the jet frame; off by
            default: on 7,000 top jets it did not help, W1 of η_rel grew).
        n_response: columns of the response (set by the codec: log pT_reco/pT_gen[, log m_reco/m_gen]).
    """

    mode: Literal["generation", "detector"] = "generation"
    n_particles: int = 30
    n_features: int = 3
    n_cond: int = 0
    feature_mean: Triple = (0.0, 0.0, 0.0)
    feature_std: Triple = (1.0, 1.0, 1.0)
    gen_mean: Triple = (0.0, 0.0, 0.0)
    gen_std: Triple = (1.0, 1.0, 1.0)
    n_gen_particles: int = 0
    n_gen_types: int = 0
    encoder: Literal["sorted", "deepsets"] = "sorted"
    latent: int = 32
    hidden: int = 128
    context: int = 64
    encoder_hidden: int = 512
    decoder_hidden: int = 256
    decoder_layers: int = 3
    slot_hidden: int = 64
    prior: Literal["flow", "mixture", "normal"] = "flow"
    prior_components: int = 32
    flow_layers: int = 6
    flow_hidden: int = 64
    beta: float = 0.01
    lambda_mass: float = 10.0
    lambda_pt: float = 10.0
    lambda_count: float = 1.0
    lambda_response: float = 1.0
    lambda_emd: float = 0.0
    lambda_dist: float = 0.0
    lambda_efp: float = 0.0
    efp_frechet: float = 0.0
    response_components: int = 3
    response_given: Literal["latent", "jet"] = "latent"
    augment: bool = False
    n_response: int = 1

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise InputError(f"model.mode={self.mode!r}: choose generation or detector")
        if not 0.0 <= self.beta < 1.0:
            raise InputError(f"model.beta={self.beta} must lie in [0, 1)")
        if self.response_given not in ("latent", "jet"):
            raise InputError(f"model.response_given={self.response_given!r}: choose latent or jet")
        if self.lambda_emd < 0:
            raise InputError(f"model.lambda_emd={self.lambda_emd} must be ≥ 0 (0: off)")
        if self.lambda_dist < 0:
            raise InputError(f"model.lambda_dist={self.lambda_dist} must be ≥ 0 (0: seed 003's loss)")
        if self.lambda_efp < 0:
            raise InputError(f"model.lambda_efp={self.lambda_efp} must be ≥ 0 (0: off)")
        if self.efp_frechet < 0:
            raise InputError(f"model.efp_frechet={self.efp_frechet} must be ≥ 0 (0: off)")
        if self.n_features != 3:
            raise InputError(
                f"particle-vae takes 3 features per particle (η_rel, φ_rel, pT_rel), not {self.n_features}"
            )

    @property
    def gen_slots(self) -> int:
        """Slots of the generator-level input."""
        return self.n_gen_particles or self.n_particles

    def batch_keys(self) -> frozenset[str]:
        """Constituents and mask; ``cond`` when conditional; in detector mode the generator-level
        constituents and the jet response too."""
        keys = {"features", "mask"} | ({"cond"} if self.n_cond else set())
        if self.mode == "detector":
            keys |= {"gen_features", "gen_mask", "response"}
        return frozenset(keys)
