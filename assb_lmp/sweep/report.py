"""What a sweep folder holds: done, failed (with reasons), pending and running cases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assb_lmp.sweep.store import FAILED_DIR, TMP_DIR, is_done, is_locked, read_cases, read_failure


@dataclass
class SweepStatus:
    """Done / failed / pending cases of a sweep folder."""

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

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"out": str(self.out), "name": self.name, "total": self.total,
                "done": self.done, "failed": self.failed, "pending": self.pending,
                "in_progress": self.in_progress, "running": self.running}

    def report(self, max_list: int = 20) -> str:
        """Human-readable summary."""
        lines = [f"sweep {self.name} in {self.out}: {self.total} cases: {len(self.done)} done, "
                 f"{len(self.failed)} failed, {len(self.pending)} pending"
                 + (f" ({len(self.in_progress)} running now)" if self.running else "")]
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


def status(sweep_dir: str | Path) -> SweepStatus:
    """Done, failed (with reasons) and pending cases of a sweep folder.

    Raises
    ------
    SpecError
        When the folder is no sweep folder.
    """
    out = Path(sweep_dir)
    info = read_cases(out)
    running = is_locked(out)
    tmp_ids = set()
    if (out / TMP_DIR).is_dir():
        tmp_ids = {p.name.rsplit(".", 1)[0] for p in (out / TMP_DIR).iterdir()}
    done, failed, pending, in_progress = [], {}, [], []
    for rec in info["cases"]:
        cid = rec["id"]
        if is_done(out, cid):
            done.append(cid)
            continue
        fail = read_failure(out, cid)
        if fail is not None and fail.get("spec_hash") == rec.get("spec_hash"):
            failed[cid] = fail
            continue
        pending.append(cid)
        if running and cid in tmp_ids:
            in_progress.append(cid)
    return SweepStatus(out, info.get("sweep", out.name), len(info["cases"]), done, failed,
                       pending, in_progress, running)
