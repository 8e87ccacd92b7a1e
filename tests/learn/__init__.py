"""Tests of assb_lmp.learn (the CNN stage)."""
