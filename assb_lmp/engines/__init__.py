"""Engines that run a case, by the name a case spec gives (``engine: lammps``).

The pipeline asks the registry for the case's engine and talks only to the
:class:`~assb_lmp.engines.base.Engine` interface::

    import assb_lmp.engines as engines
    engine = engines.get(spec.engine)

A new engine is a module beside :mod:`assb_lmp.engines.lammps` with an ``Engine``
subclass, its templates in ``templates/<dialect>/``, and one entry in :data:`ENGINES`
(and out of :data:`PLANNED`); nothing in the pipeline changes.
"""

from __future__ import annotations

from assb_lmp.core.errors import SpecError
from assb_lmp.engines.base import Engine
from assb_lmp.engines.lammps import LammpsEngine
from assb_lmp.engines.liggghts import LiggghtsEngine

#: The engines that can run a case, by registry name.
ENGINES: dict[str, Engine] = {LammpsEngine.name: LammpsEngine(),
                              LiggghtsEngine.name: LiggghtsEngine()}
#: Engines a case spec may name that cannot run yet, with the reason.
PLANNED: dict[str, str] = {}


def names() -> list[str]:
    """Registry names of the engines that can run a case."""
    return sorted(ENGINES)


def get(name: str) -> Engine:
    """The engine called ``name``.

    Raises
    ------
    SpecError
        For an engine that is planned but not available yet, or an unknown name; the
        message lists the available engines.
    """
    if name in ENGINES:
        return ENGINES[name]
    if name in PLANNED:
        raise SpecError(f"engine = {name!r}: {PLANNED[name]}; available: "
                        f"{', '.join(names())}")
    raise SpecError(f"engine = {name!r}: no such engine; available: {', '.join(names())}")
