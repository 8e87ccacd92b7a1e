"""Vegard's law from the lattice blocks of the cards: volume per host unit, lithiation
from the state of charge, and the refusals."""

from __future__ import annotations

import math

import pytest

from assb_lmp.core.errors import SpecError
from assb_lmp.materials import cards as materials
from assb_lmp.materials import vegard


def _hexagonal_volume_per_host(a: float, c: float, hosts: float) -> float:
    """a² c sin(120°) / hosts (Å³): the hexagonal cell by hand, without pymatgen."""
    return a * a * c * math.sin(math.radians(120.0)) / hosts


@pytest.mark.parametrize(
    "card, lo, hi",
    [("LCO", 0.015, 0.025), ("NCM811", -0.055, -0.045), ("graphite", 0.12, 0.13),
     ("Si", 2.7, 2.9)],
)
def test_vegard_strains_of_the_cards(card, lo, hi):
    c = materials.get(card)
    e = vegard.volume_strain(c, 0.0, 1.0)
    assert lo < e < hi
    # a round trip cancels, half way is between
    assert vegard.volume_strain(c, 1.0, 0.0) == pytest.approx(1 / (1 + e) - 1)
    assert 0 < vegard.volume_strain(c, 0.0, 0.5) / e < 1


def test_vegard_law_forms():
    si, lco = materials.get("Si"), materials.get("LCO")
    assert not vegard.same_cell(si.lattice.lithiated, si.lattice.delithiated)
    assert vegard.same_cell(lco.lattice.lithiated, lco.lattice.delithiated)
    assert vegard.electrode_of(lco) == "positive" and vegard.electrode_of(si) == "negative"
    # Si: the volume per host is linear in lithiation
    v0, v1 = vegard.volume_per_host(si, 0.0), vegard.volume_per_host(si, 1.0)
    assert v0 == pytest.approx(5.431**3 / 8, rel=1e-9)
    assert vegard.volume_per_host(si, 0.25) == pytest.approx(0.75 * v0 + 0.25 * v1)
    # LCO (positive electrode): state of charge 1 is the delithiated end member
    assert vegard.lithiation(lco, 1.0) == 0.0


def test_same_cell_lattice_parameters_are_interpolated():
    """LCO (both end members hexagonal, 3 hosts): a and c linear in the lithiation."""
    lco = materials.get("LCO")
    lo, hi = lco.lattice.delithiated, lco.lattice.lithiated
    for y in (0.0, 0.3, 1.0):
        a = (1 - y) * lo.a + y * hi.a
        c = (1 - y) * lo.c + y * hi.c
        assert vegard.volume_per_host(lco, y) == pytest.approx(
            _hexagonal_volume_per_host(a, c, 3.0), rel=1e-9)


def test_state_of_charge_maps_to_lithiation_by_electrode():
    lco, graphite = materials.get("LCO"), materials.get("graphite")
    assert vegard.lithiation(lco, 0.25) == pytest.approx(0.75)       # positive: y = 1 - s
    assert vegard.lithiation(graphite, 0.25) == pytest.approx(0.25)  # negative: y = s
    assert vegard.lithiation(lco, 0.25, electrode="negative") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="electrode"):
        vegard.electrode_of(lco, "sideways")


@pytest.mark.parametrize("soc", [-0.1, 1.5])
def test_state_of_charge_outside_zero_one_is_refused(soc):
    with pytest.raises(SpecError, match="state of charge must lie in"):
        vegard.volume_strain(materials.get("LCO"), 0.0, soc)


def test_card_without_lattice_is_refused_with_a_way_out():
    with pytest.raises(SpecError) as err:
        vegard.volume_strain(materials.get("LGPS"), 0.0, 1.0)
    msg = str(err.value)
    assert "'LGPS' has no lattice data" in msg and "volume_strain" in msg


def test_describe_names_the_law_and_the_strain():
    lco = materials.get("LCO")
    text = vegard.describe(lco, 0.0, 0.5)
    e = vegard.volume_strain(lco, 0.0, 0.5)
    assert "lattice parameters linear in lithiation" in text
    assert "positive electrode" in text and f"{e:+.5f}" in text
    assert "volume per host linear" in vegard.describe(materials.get("Si"), 0.0, 1.0)
