"""Event displays: jet images channel by channel, reference beside generated, as PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mlfastsim._utils import atomic_path, require
from mlfastsim.physics.detector import CHANNELS, CRYSTAL_DETA, IMAGE_SIZE
from mlfastsim.physics.detector.geometry import CHANNEL_CELL_CRYSTALS, pixel_centres

__all__ = ["plot_event_displays", "plot_jet_displays"]

_LABELS = {"tracks_pt": "Tracks $p_T$", "ecal": "ECAL", "hcal": "HCAL"}


def plot_event_displays(
    samples: Sequence[np.ndarray],
    names: Sequence[str],
    path: str | Path,
    channels: Sequence[int] = (0, 1, 2),
    title: str = "",
) -> Path:
    """Draw one row per image: each chosen channel on a log colour scale (GeV); write a PNG atomically.

    Each channel is drawn on its own cells: tracks (pT) and ECAL per crystal, the HCAL per tower (the
    tower's energy, not the 1/25 the image stores in each of its crystals). An empty channel is titled
    "no hits" (e.g. a candidate that does not simulate it).

    Args:
        samples: images, each float ``[3, 125, 125]`` in GeV (CMS E2E layout, rows along η).
        names: a label for each row (e.g. "reference #3", "gvae #3").
        path: output PNG.
        channels: indices into (tracks pT, ECAL, HCAL) to draw.
        title: figure title.
    """
    mpl = require("matplotlib", "plot")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    half = IMAGE_SIZE // 2 * CRYSTAL_DETA
    extent = (-half, half, -half, half)
    fig, axes = plt.subplots(
        len(samples), len(channels), figsize=(3.2 * len(channels), 2.9 * len(samples)), squeeze=False
    )
    for row, (image, name) in enumerate(zip(samples, names, strict=True)):
        for col, ch in enumerate(channels):
            ax = axes[row, col]
            data = np.ma.masked_less_equal(_cells(np.asarray(image[ch], dtype=np.float64), ch), 0.0)
            vmax = max(float(data.max()) if data.count() else 1.0, 0.2)
            norm = LogNorm(vmin=0.05, vmax=vmax)
            if CHANNELS[ch] == "tracks_pt":  # one crystal per track: drawn as dots, or they vanish
                rows, cols = np.nonzero(~np.ma.getmaskarray(data))
                deta, dphi = pixel_centres(data.shape[0])
                im = ax.scatter(dphi[cols], deta[rows], c=data[rows, cols], s=9, cmap="viridis", norm=norm)
                ax.set_xlim(extent[0], extent[1])
                ax.set_ylim(extent[2], extent[3])
                ax.set_aspect("equal")
            else:
                im = ax.imshow(data, origin="lower", extent=extent, cmap="viridis", norm=norm)
            ax.set_facecolor("white")
            empty = "" if data.count() else " (no hits)"
            ax.set_title(f"{name}: {_LABELS[CHANNELS[ch]]}{empty}", fontsize=9)
            ax.set_xlabel(r"$\Delta\phi$ (rad)", fontsize=8)
            ax.set_ylabel(r"$\Delta\eta$", fontsize=8)
            ax.tick_params(labelsize=7)
            unit = "GeV per tower" if CHANNEL_CELL_CRYSTALS[ch] > 1 else "GeV"
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).set_label(unit, fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def plot_jet_displays(
    reference: np.ndarray,
    candidates: Mapping[str, np.ndarray],
    out_dir: str | Path,
    channels: Sequence[int] = (0, 1, 2),
    n_jets: int = 3,
) -> list[Path]:
    """One figure per jet, ``event_display_jet<i>.png``: the chosen channels side by side (columns), the
    reference jet in the first row and each candidate's jet ``i`` below it.

    Args:
        reference: images ``[N, 3, S, S]`` (GeV). candidates: name → images ``[M, 3, S, S]`` (a candidate
            with fewer than ``i + 1`` jets is left out of figure ``i``).
        out_dir: folder of the PNGs. channels: indices into (tracks pT, ECAL, HCAL). n_jets: figures.
    """
    written = []
    names = {0: "tracks", 1: "ECAL", 2: "HCAL"}
    for i in range(min(int(n_jets), len(reference))):
        rows = [(f"reference #{i}", reference[i])] + [
            (f"{name} #{i}", images[i]) for name, images in candidates.items() if len(images) > i
        ]
        written.append(
            plot_event_displays(
                [img for _, img in rows],
                [label for label, _ in rows],
                Path(out_dir) / f"event_display_jet{i}.png",
                channels=channels,
                title=f"Jet #{i}: " + ", ".join(names[c] for c in channels),
            )
        )
    return written


def _cells(channel: np.ndarray, ch: int) -> np.ndarray:
    """One channel ``[S, S]`` on its own cells (HCAL: 5 × 5-crystal towers summed), for drawing."""
    k, size = CHANNEL_CELL_CRYSTALS[ch], channel.shape[-1]
    if k == 1 or size % k:
        return channel
    return channel.reshape(size // k, k, size // k, k).sum(axis=(1, 3))
