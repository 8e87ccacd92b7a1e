"""What a sweep folder holds: done, failed (with reasons), pending and running cases.

Beside the counts, :func:`status` reports the cost of the finished cases (mean seconds,
engine steps, peak memory), the projected time left (cases left × mean seconds per done
case / workers) and how many finished cases left the contact law's validity
(``labels.json["validity"]["inside"]`` false).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assb_lmp.sweep.claims import DEFAULT_CLAIM_TIMEOUT_S, live_claims
from assb_lmp.sweep.store import FAILED_DIR, case_metrics, is_done, read_cases, read_failure

_SECONDS_PER_HOUR = 3600.0
_SECONDS_PER_MINUTE = 60.0


def _duration(seconds: float) -> str:
    if seconds >= _SECONDS_PER_HOUR:
        return f"{seconds / _SECONDS_PER_HOUR:.1f} h"
    if seconds >= _SECONDS_PER_MINUTE:
        return f"{seconds / _SECONDS_PER_MINUTE:.1f} min"
    return f"{seconds:.0f} s"


def _mean(values: list[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(nums) / len(nums) if nums else None


@dataclass
class SweepStatus:
    """Done / failed / pending cases of a sweep folder.

    Attributes
    ----------
    in_progress : list of str
        Pending cases that a live runner holds now (their claims).
    running : bool
        Whether any runner works in the folder now.
    outside : list of str
        Done cases whose labels say the contacts left the contact law's validity.
    metrics : dict
        Case id → :func:`assb_lmp.sweep.store.case_metrics` of every done case.
    workers : int or None
        Workers assumed for the projection (given, else the cases running now).
    """

    out: Path
    name: str
    total: int
    done: list[str]
    failed: dict[str, dict]
    pending: list[str]
    in_progress: list[str]
    running: bool
    seconds: float = 0.0
    ran: int = 0
    outside: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: int | None = None

    def mean_case_s(self) -> float | None:
        """Mean wall seconds of a done case (None when none recorded it)."""
        return _mean([m.get("seconds") for m in self.metrics.values()])

    def projected_s(self) -> float | None:
        """Seconds left: pending cases × mean seconds per done case / workers."""
        mean = self.mean_case_s()
        if mean is None or not self.pending:
            return None if mean is None else 0.0
        return len(self.pending) * mean / max(1, self.workers or 1)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"out": str(self.out), "name": self.name, "total": self.total,
                "done": self.done, "failed": self.failed, "pending": self.pending,
                "in_progress": self.in_progress, "running": self.running,
                "outside_contact_law": self.outside, "mean_case_s": self.mean_case_s(),
                "workers": self.workers, "projected_s": self.projected_s(),
                "metrics": self.metrics}

    def _cost_lines(self) -> list[str]:
        lines = []
        mean = self.mean_case_s()
        if mean is not None:
            ms = list(self.metrics.values())
            steps, rss = _mean([m.get("steps") for m in ms]), \
                max((m["peak_rss_mib"] for m in ms if m.get("peak_rss_mib")), default=None)
            lines.append(f"done cases: {mean:.1f} s each on average"
                         + (f", {steps:.0f} engine steps" if steps is not None else "")
                         + (f", peak memory {rss:.0f} MiB" if rss is not None else ""))
        left = self.projected_s()
        if left is not None and self.pending:
            lines.append(f"projected time left: {_duration(left)} ({len(self.pending)} cases "
                         f"× {mean:.1f} s / {max(1, self.workers or 1)} worker(s))")
        flagged = sum(m.get("inside_contact_law") is not None for m in self.metrics.values())
        if flagged:
            lines.append(f"outside the contact law's validity: {len(self.outside)} of "
                         f"{flagged} done cases" + (f" ({', '.join(self.outside[:5])}"
                                                   f"{', ...' if len(self.outside) > 5 else ''})"
                                                   if self.outside else ""))
        return lines

    def report(self, max_list: int = 20) -> str:
        """Human-readable summary."""
        lines = [f"sweep {self.name} in {self.out}: {self.total} cases: {len(self.done)} done, "
                 f"{len(self.failed)} failed, {len(self.pending)} pending"
                 + (f" ({len(self.in_progress)} running now)" if self.running else "")]
        lines += self._cost_lines()
        if self.failed:
            lines.append("failed:")
            for cid, rec in list(self.failed.items())[:max_list]:
                lines.append(f"  {cid}: {rec.get('error', '?')}: {rec.get('summary', '')}")
            if len(self.failed) > max_list:
                lines.append(f"  ... and {len(self.failed) - max_list} more "
                             f"(see {self.out / FAILED_DIR})")
        if self.pending:
            shown = ", ".join(self.pending[:max_list])
            more = f", ... ({len(self.pending) - max_list} more)" if len(self.pending) > max_list \
                else ""
            lines.append(f"pending: {shown}{more}")
        return "\n".join(lines)


def status(sweep_dir: str | Path, *, workers: int | None = None,
           claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> SweepStatus:
    """Done, failed (with reasons), pending and running cases of a sweep folder.

    Parameters
    ----------
    sweep_dir : path
    workers : int, optional
        Workers for the projected time left (default: the cases running now, at least 1).
    claim_timeout_s : float
        Age (s) after which a claim made on another host no longer counts as running.

    Raises
    ------
    SpecError
        When the folder is no sweep folder.
    """
    out = Path(sweep_dir)
    info = read_cases(out)
    claims = live_claims(out, claim_timeout_s)
    done, failed, pending, in_progress, outside = [], {}, [], [], []
    metrics: dict[str, dict[str, Any]] = {}
    for rec in info["cases"]:
        cid = rec["id"]
        if is_done(out, cid):
            done.append(cid)
            metrics[cid] = case_metrics(out / cid)
            if metrics[cid]["inside_contact_law"] is False:
                outside.append(cid)
            continue
        fail = read_failure(out, cid)
        if fail is not None and fail.get("spec_hash") == rec.get("spec_hash"):
            failed[cid] = fail
            continue
        pending.append(cid)
        if cid in claims:
            in_progress.append(cid)
    return SweepStatus(out, info.get("sweep", out.name), len(info["cases"]), done, failed,
                       pending, in_progress, bool(claims), outside=outside, metrics=metrics,
                       workers=workers if workers is not None else max(1, len(in_progress)))
