"""The nine default CNN targets (labels of a case), in their fixed order, with units."""

from __future__ import annotations

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
