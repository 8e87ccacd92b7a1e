"""Package data: the shipped example case and sweep specs (installed as ``assb_lmp.examples``)."""
