"""Seeded test data made without LAMMPS, for tests and docs (freud's ``make_random_system``).

* :func:`make_synthetic_dataset` (:mod:`assb_lmp.synthetic.dataset`): a dataset folder of
  random two-phase disc images whose labels are functions of the image, to exercise the
  CNN stage in seconds;
* :func:`write_synthetic_case` and :func:`write_case_files`
  (:mod:`assb_lmp.synthetic.cases`): a case folder with dumps of a dense packing and its
  Hertz contact forces, in the contract of ARCHITECTURE.md, to exercise the analysis.

Their numbers are not physics: never train a model meant for users on them.
"""

from assb_lmp.synthetic.cases import write_case_files, write_synthetic_case
from assb_lmp.synthetic.dataset import make_synthetic_dataset

__all__ = ["make_synthetic_dataset", "write_case_files", "write_synthetic_case"]
