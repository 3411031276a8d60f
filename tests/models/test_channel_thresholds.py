"""Each channel's own zero suppression in the three-channel gvae: the reference HCAL reports no tower below
0.8 GeV, the ECAL no crystal below 0.111 GeV. One threshold for all (the lowest hit of any channel) let the
model draw 1.2 HCAL towers per tt̄ jet between the two, where the data have none."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from tests.models.test_channel_cores import _gen, _model, onnx_parity

from mlfastsim.data.kinds.jet_images import JetImageCodec, JetImageData, JetImagesKind
from mlfastsim.models.gvae import GVAE
from mlfastsim.models.gvae_likelihood import hit_log_likelihood
from mlfastsim.physics.detector.constants import ECAL_THRESHOLD, HCAL_THRESHOLD

#: normalised log-energy thresholds of the test model's slots (tracks, ECAL, HCAL); energy_norm is (0, 1)
LOW = (-3.0, -2.0, 0.5)


def test_the_codec_finds_each_channels_zero_suppression_in_the_training_data() -> None:
    kind = JetImagesKind()
    jets = kind.example(40, seed=3)
    data = JetImageData(channels=(0, 1, 2), n_max=300, conditions=())
    codec = kind.fit_codec(jets, data)
    assert isinstance(codec, JetImageCodec) and codec.channel_min_energy is not None
    tracks, ecal, hcal = codec.channel_min_energy
    assert HCAL_THRESHOLD <= hcal < 1.5 * HCAL_THRESHOLD
    assert ECAL_THRESHOLD <= ecal < 1.5 * ECAL_THRESHOLD
    assert codec.min_energy == min(tracks, ecal, hcal)
    fields = codec.model_fields()
    mean, std = fields["energy_norm"]
    expected = tuple((torch.tensor(e).log().item() - mean) / std for e in codec.channel_min_energy)
    assert fields["channel_min_log_energy"] == pytest.approx(expected, abs=1e-6)
    back = JetImageCodec.from_dict(codec.to_dict())
    assert back.channel_min_energy == pytest.approx(codec.channel_min_energy)
    one = kind.fit_codec(jets, JetImageData(channels=(1,), n_max=300, conditions=()))
    assert one.model_fields()["channel_min_log_energy"] == ()  # one channel: min_log_energy alone


def _thresholded(low: tuple[float, ...] = LOW) -> GVAE:
    torch.manual_seed(0)
    return GVAE(replace(_model().config, channel_min_log_energy=low)).eval()


def test_no_hit_or_core_is_drawn_below_its_channels_threshold() -> None:
    gen, mask = _gen()
    cond = {"gen_features": gen.expand(64, -1, -1), "gen_mask": mask.expand(64, -1)}
    found = {}
    for low in (LOW, ()):
        model = _thresholded(low)
        out = model.sample(64, cond=cond, generator=torch.Generator().manual_seed(1))
        x, m = out["features"], out["mask"]
        ch = x[..., 3].round().long()
        found[low] = [x[..., 2][m & (ch == s)] for s in range(3)]
    for s, threshold in enumerate(LOW):
        assert len(found[LOW][s]) > 0 and found[LOW][s].min() >= threshold - 1e-6
    assert (found[()][2] < LOW[2]).any()  # one threshold for all: HCAL hits below the HCAL's own


def test_a_hits_likelihood_is_normalised_above_its_own_channels_threshold() -> None:
    """Raising the HCAL threshold renormalises the HCAL hits' energy density (their log-likelihood rises) and
    leaves the other channels' hits as they were; the same thresholds as ``min_log_energy`` change nothing."""
    gen, mask = _gen()
    x = torch.tensor([[[3.0, -2.0, 1.5, 0.0], [3.0, -2.0, 1.0, 1.0], [3.0, 0.0, 2.0, 2.0]]])
    ll = {}
    for low in ((-3.0, -3.0, -3.0), (-3.0, -3.0, 0.5), ()):
        model = _thresholded(low)
        with torch.no_grad():
            ctx, anchors = model._context({"gen_features": gen, "gen_mask": mask}, 1, gen.device, drop=False)
            params = model.decode(torch.zeros(1, 4), ctx, gen, anchors)
            ll[low] = hit_log_likelihood(x, params, model.config)[0]
    same, raised = ll[(-3.0, -3.0, -3.0)], ll[(-3.0, -3.0, 0.5)]
    assert torch.allclose(same, ll[()])  # min_log_energy is -3 in the test model
    assert torch.allclose(raised[:2], same[:2]) and raised[2] > same[2] + 1e-3


def test_the_sampler_with_channel_thresholds_and_halo_rings_exports_to_onnx_with_parity() -> None:
    torch.manual_seed(0)
    model = GVAE(replace(_model().config, channel_min_log_energy=LOW, halo_rings=True, core_modes=2)).eval()
    reference = onnx_parity(model)
    x, m = reference[0], reference[1]
    assert (x[..., 2][m & (x[..., 3] == 2)] >= LOW[2] - 1e-6).all()
