"""Montage of the section images of an analysed 3D case (docs/3d.md).

    python docs/figure_3d_sections.py runs/komori2022_3d_small [--out docs/figures/3d_sections.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assb_lmp.analysis import imaging


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("case", type=Path)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "figures" / "3d_sections.png")
    a = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    secs = sorted(p for p in (a.case / "sections").iterdir() if p.is_dir())
    fig, axes = plt.subplots(1, len(secs), figsize=(3.2 * len(secs), 3.7), squeeze=False)
    for ax, sec in zip(axes[0], secs, strict=True):
        lab = json.loads((sec / "labels.json").read_text())
        s = lab["info"]["section"]
        ax.imshow(imaging.load_png(sec / "image.png"), cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{s['axis']} = {s['position_um']:g} µm ({s['image_axes'][0]} across, "
                     f"{s['image_axes'][1]} up)\nAM {lab['am_stress_mean_mpa']:.0f} MPa, "
                     f"SE {lab['se_stress_mean_mpa']:.0f} MPa, porosity "
                     f"{lab['porosity']:.3f}", fontsize=7)
        ax.set_axis_off()
    fig.tight_layout()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=120)
    print(a.out)


if __name__ == "__main__":
    main()
