"""The nine default CNN targets (labels of a case), in their fixed order, with units; R²."""

from __future__ import annotations

import numpy as np

#: (name, unit, description) of each label in ``labels.json`` and the dataset arrays.
TARGET_INFO: tuple[tuple[str, str, str], ...] = (
    ("am_stress_mean_mpa", "MPa", "mean Love-Weber compressive stress of AM particles"),
    ("am_stress_sd_mpa", "MPa", "SD of the AM particle stress"),
    ("se_stress_mean_mpa", "MPa", "mean Love-Weber compressive stress of SE particles"),
    ("se_stress_sd_mpa", "MPa", "SD of the SE particle stress"),
    ("reaction_area_um2", "µm²", "sum over AM-SE contacts of π a² (Hertz contact radius a)"),
    ("se_coverage", "-", "reaction area / total AM surface area × f (Komori eq. 17)"),
    ("porosity", "-", "void fraction of the image window"),
    ("am_area_fraction", "-", "AM area fraction of the image window"),
    ("am_se_contacts_per_am", "-", "mean number of AM-SE contacts per AM particle"),
)

#: Target names in order.
TARGETS: tuple[str, ...] = tuple(t[0] for t in TARGET_INFO)


def r2_score(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column (Komori eq. 14); NaN where undefined."""
    y, p = np.atleast_2d(y.T).T, np.atleast_2d(p.T).T
    ss_res = ((y - p) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    r2[(ss_tot <= 0) | (len(y) < 2)] = np.nan
    return r2
