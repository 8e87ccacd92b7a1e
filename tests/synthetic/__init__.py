"""Tests of assb_lmp.synthetic (the seeded test-data factory)."""
