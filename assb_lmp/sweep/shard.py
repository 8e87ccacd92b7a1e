"""Shards: a sweep split into N deterministic, cost-balanced parts (Slurm job arrays).

``--shard i/N`` runs part ``i`` (0 ≤ i < N) of the sweep. The parts are made from the whole
case list by longest-processing-time-first: cases in decreasing order of
:func:`assb_lmp.sweep.plan.cost_estimate` (ties by their place in the sweep) each go to the
part with the least estimated cost so far (ties to the lowest index). The assignment
depends only on the sweep, so every array task computes the same partition; the parts are
disjoint and together hold every case. Claims (:mod:`assb_lmp.sweep.claims`) keep shards
and a whole-sweep resume beside them from running a case twice.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assb_lmp.core.errors import SpecError
from assb_lmp.sweep.expand import Case

_SHARD = re.compile(r"^\s*(-?[0-9]+)\s*/\s*(-?[0-9]+)\s*$")
MAX_SHARDS = 100_000


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise SpecError(f"--shard = {self}: the shard count N = {self.count} is out of "
                            f"range; allowed range 1 <= N <= {MAX_SHARDS}")
        if not 0 <= self.index < self.count:
            raise SpecError(f"--shard = {self}: the shard index i = {self.index} is out of "
                            f"range; allowed range 0 <= i < N = {self.count} "
                            f"(0 ... {self.count - 1})")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, cases: Sequence[Case], cost: Callable[[Case], float]) -> list[Case]:
        """This shard's cases, in the sweep's order."""
        owner = assign(cases, self.count, cost)
        return [c for c, o in zip(cases, owner, strict=True) if o == self.index]


def parse_shard(text: str) -> Shard:
    """``"i/N"`` → :class:`Shard`.

    Raises
    ------
    SpecError
        Naming ``--shard``, the text, and the allowed form and range.
    """
    m = _SHARD.match(str(text))
    if not m:
        raise SpecError(f"--shard = {text!r}: expected i/N with whole numbers, e.g. 0/4; "
                        "allowed range 0 <= i < N")
    return Shard(int(m.group(1)), int(m.group(2)))


def assign(cases: Sequence[Case], n: int, cost: Callable[[Case], float]) -> list[int]:
    """The shard index of every case (longest first onto the least-loaded shard)."""
    costs = [float(cost(c)) for c in cases]
    order = sorted(range(len(cases)), key=lambda i: (-costs[i], i))
    heap = [(0.0, j) for j in range(n)]  # (load, shard): the least load, then lowest index
    owner = [0] * len(cases)
    for i in order:
        load, k = heapq.heappop(heap)
        owner[i] = k
        heapq.heappush(heap, (load + costs[i], k))
    return owner
