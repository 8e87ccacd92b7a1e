"""Building a case: packing, multisphere bodies, expansion plans and the deck."""
