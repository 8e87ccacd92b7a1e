"""Package data: the built-in material cards (installed as ``assb_lmp.potentials``)."""
