"""Material cards: every built-in card loads, carries sources, and bad cards are refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from assb_lmp.core.errors import SpecError
from assb_lmp.materials import cards as materials

EXPECTED_CARDS = {"LCO", "LGPS", "NCM811", "LPSCl", "LPS75", "graphite", "Si", "steel"}
SOURCED_FIELDS = (
    "youngs_modulus_gpa",
    "poissons_ratio",
    "density_g_cm3",
    "friction",
    "restitution",
    "yield_stress_mpa",
)


def _volume_per_host(em: materials.EndMember) -> float:
    """Triclinic cell volume (Å³) divided by the host units in the cell."""
    ca, cb, cg = (math.cos(math.radians(x)) for x in (em.alpha, em.beta, em.gamma))
    v = em.a * em.b * em.c * math.sqrt(1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg)
    return v / em.hosts_per_cell


def test_all_builtin_cards_load():
    found = materials.available()
    assert EXPECTED_CARDS <= set(found)
    for name in found:
        card = materials.get(name)
        assert card.name == name  # the file stem is the card name specs refer to
        assert card.E_gpa > 0 and card.rho > 0 and -1 < card.nu < 0.5


def test_roles():
    roles = {n: materials.get(n).role for n in EXPECTED_CARDS}
    assert roles == {
        "LCO": "am", "NCM811": "am", "graphite": "am", "Si": "am",
        "LGPS": "se", "LPSCl": "se", "LPS75": "se",
        "steel": "wall",
    }


@pytest.mark.parametrize(
    "name, E, nu, rho",
    [("LCO", 264.0, 0.32, 4.72), ("LGPS", 26.7, 0.37, 1.99)],
)
def test_komori_table1_values_exact(name, E, nu, rho):
    card = materials.get(name)
    assert card.E_gpa == E
    assert card.nu == nu
    assert card.rho == rho
    for field in ("youngs_modulus_gpa", "poissons_ratio", "density_g_cm3"):
        assert "Komori" in getattr(card, field).source


@pytest.mark.parametrize("name", sorted(EXPECTED_CARDS))
def test_every_value_has_a_source(name):
    card = materials.get(name)
    for field in SOURCED_FIELDS:
        value = getattr(card, field)
        if value is not None:
            assert value.source.strip(), f"{name}.{field} has an empty source"
    if card.lattice is not None:
        assert card.lattice.source.strip()


@pytest.mark.parametrize(
    "name, lo, hi",
    [
        ("LCO", 0.97, 0.99),  # LiCoO2 is ~2 % smaller than Li0.5CoO2 (c-axis growth)
        ("NCM811", 1.04, 1.07),  # charged NCM811 shrinks ~5 % (c collapse)
        ("graphite", 1.10, 1.15),  # LiC6 vs C6: ~+13 %
        ("Si", 3.70, 3.90),  # Li15Si4 vs Si: ~+280 %
    ],
)
def test_vegard_volume_ratio_per_host(name, lo, hi):
    lat = materials.get(name).lattice
    assert lat is not None
    ratio = _volume_per_host(lat.lithiated) / _volume_per_host(lat.delithiated)
    assert lo < ratio < hi
    assert lat.lithiated.li_per_host > lat.delithiated.li_per_host


def _lco_data() -> dict:
    return yaml.safe_load((materials.CARDS_DIR / "LCO.yaml").read_text())


def _bad_negative_modulus(d: dict) -> None:
    d["youngs_modulus_gpa"]["value"] = -5.0


def _bad_poisson(d: dict) -> None:
    d["poissons_ratio"]["value"] = 0.6


def _bad_unknown_top_key(d: dict) -> None:
    d["colour"] = "blue"


def _bad_unknown_nested_key(d: dict) -> None:
    d["friction"]["unit"] = "-"


def _bad_restitution(d: dict) -> None:
    d["restitution"]["value"] = 0.0


def _bad_missing_source(d: dict) -> None:
    del d["density_g_cm3"]["source"]


def _bad_lattice(d: dict) -> None:
    d["lattice"]["lithiated"]["hosts_per_cell"] = 0


@pytest.mark.parametrize(
    "mutate, key",
    [
        (_bad_negative_modulus, "youngs_modulus_gpa"),
        (_bad_poisson, "poissons_ratio"),
        (_bad_unknown_top_key, "colour"),
        (_bad_unknown_nested_key, "friction.unit"),
        (_bad_restitution, "restitution"),
        (_bad_missing_source, "density_g_cm3.source"),
        (_bad_lattice, "lattice.lithiated.hosts_per_cell"),
    ],
)
def test_broken_card_names_file_and_key(tmp_path: Path, mutate, key):
    data = _lco_data()
    mutate(data)
    path = tmp_path / "LCO.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as exc:
        materials.load_card(path)
    msg = str(exc.value)
    assert str(path) in msg
    assert key in msg
    # the same card in a user folder shadows the built-in one and is refused the same way
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        materials.get("LCO", user_dir=tmp_path)


def test_unknown_key_is_called_unknown(tmp_path: Path):
    data = _lco_data()
    data["colour"] = "blue"
    path = tmp_path / "odd.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match="unknown key"):
        materials.load_card(path)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "name: [unclosed\n"])
def test_unreadable_card_names_file(tmp_path: Path, text: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match="bad.yaml"):
        materials.load_card(path)


def test_missing_card_lists_available():
    with pytest.raises(SpecError) as exc:
        materials.get("unobtainium")
    assert "LCO" in str(exc.value) and "LGPS" in str(exc.value)
