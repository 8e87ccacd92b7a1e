"""Helpers of the analysis tests: the cards and a cell.json of a hand-built case."""

from __future__ import annotations

from assb_lmp.core.units import KPA_PER_GPA
from assb_lmp.materials import cards as materials
from assb_lmp.materials import physics

CARDS = {"am": materials.get("LCO"), "se": materials.get("LGPS"), "wall": materials.get("steel")}


def estar_kpa(a: str, b: str) -> float:
    """Hertz E* of two roles (kPa)."""
    return physics.effective_modulus_gpa(CARDS[a], CARDS[b]) * KPA_PER_GPA


def cell_json(stage: str, step: int, w: float = 10.0, h: float = 10.0, **extra) -> dict:
    """A quasi-2D cell.json (depth 1 µm) of a w × h µm cell."""
    return {"stage": stage, "step": step, "time_us": 0.0, "xlo_um": 0.0, "xhi_um": w,
            "ylo_um": 0.0, "yhi_um": h, "zlo_um": -0.5, "zhi_um": 0.5, "depth_um": 1.0,
            **extra}
