"""Per-case claims: which process runs a case, safe on a shared file system.

Before a case runs, its runner creates ``DIR/.claims/<case_id>.json`` atomically
(``O_CREAT | O_EXCL``; of two runners only one succeeds, on NFS too) holding its host,
pid, process start time, a random token and the time. Several runners (shards of a job
array, a whole-sweep resume beside them, a restarted shard) may therefore work in one
sweep folder at once: each runs only the cases it claimed, and nobody clears the folder
of a case that another live runner holds.

A claim is *live* while its holder is: on the same host, while that pid runs with the
same start time (a dead or reused pid makes it stale at once); on another host, while the
claim file's modification time is younger than the claim timeout (the holder touches its
claims every :data:`HEARTBEAT_S` seconds). A stale claim is taken over. Every removal of a
claim file (release or takeover) happens under a short-lived guard folder
``<case_id>.guard`` and checks the token first, so a fresh claim is never removed by
mistake.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CLAIMS_DIR = ".claims"
#: Seconds between two touches of a held claim.
HEARTBEAT_S = 30.0
#: Default age (s) after which a claim made on another host counts as stale.
DEFAULT_CLAIM_TIMEOUT_S = 600.0
#: A guard folder older than this (s) was left by a process that died holding it.
_GUARD_STALE_S = 30.0


def process_identity(pid: int) -> tuple[int, str] | None:
    """(pid, start time) of a live process, None when it is gone or a zombie.

    The start time (``/proc/<pid>/stat`` field 22) tells a reused pid from the original.
    Without ``/proc`` only existence is checked.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return (pid, "")
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):
        return None
    return (pid, fields[19])


@dataclass(frozen=True)
class Claim:
    """A claim this process made (plain data: it travels to workers and MPI ranks)."""

    path: Path
    case_id: str
    token: str

    def is_mine(self) -> bool:
        """Whether the claim file still holds this claim's token."""
        rec = _read(self.path)
        return rec is not None and rec.get("token") == self.token


@dataclass(frozen=True)
class ClaimInfo:
    """A claim file as read: its record (None when unreadable) and its age (s)."""

    record: dict[str, Any] | None
    age_s: float
    mtime_ns: int

    def live(self, timeout_s: float) -> bool:
        """Whether the holder counts as running the case (see the module notes)."""
        rec = self.record
        if rec is None:  # being written right now, or garbage
            return self.age_s < timeout_s
        if rec.get("host") == socket.gethostname():
            pid = rec.get("pid")
            if not isinstance(pid, int):
                return False
            ident = process_identity(pid)
            return ident is not None and (not rec.get("start") or not ident[1]
                                          or ident[1] == rec.get("start"))
        return self.age_s < timeout_s

    def holder(self) -> str:
        """``host:pid`` of the holder, for messages."""
        rec = self.record or {}
        return f"{rec.get('host', '?')}:{rec.get('pid', '?')}"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def inspect(path: Path) -> ClaimInfo | None:
    """The claim file at ``path``, None when there is none."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return ClaimInfo(_read(path), max(0.0, time.time() - st.st_mtime), st.st_mtime_ns)


def claim_path(sweep_dir: Path, case_id: str) -> Path:
    """Where the claim of a case lives."""
    return Path(sweep_dir) / CLAIMS_DIR / f"{case_id}.json"


@contextlib.contextmanager
def _guard(path: Path, wait_s: float = 5.0):
    """Hold ``<claim>.guard`` (a folder, created atomically); yields False if busy."""
    guard = path.with_suffix(".guard")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.mkdir(guard)
            break
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - guard.stat().st_mtime > _GUARD_STALE_S:
                    os.rmdir(guard)
                    continue
            if time.monotonic() > deadline:
                yield False
                return
            time.sleep(0.05)
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(guard)


def _create(path: Path, case_id: str) -> Claim | None:
    token = uuid.uuid4().hex
    me = process_identity(os.getpid())
    rec = {"case_id": case_id, "host": socket.gethostname(), "pid": os.getpid(),
           "start": me[1] if me else "", "token": token,
           "time": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    try:
        os.write(fd, (json.dumps(rec) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return Claim(path, case_id, token)


def try_claim(sweep_dir: Path, case_id: str,
              timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> Claim | None:
    """Claim a case; None when a live runner holds it. A stale claim is taken over."""
    path = claim_path(sweep_dir, case_id)
    path.parent.mkdir(exist_ok=True)
    for _ in range(3):
        claim = _create(path, case_id)
        if claim is not None:
            return claim
        seen = inspect(path)
        if seen is None:
            continue  # released meanwhile: try again
        if seen.live(timeout_s):
            return None
        with _guard(path) as held:
            if not held:
                return None  # someone else is taking it over
            again = inspect(path)
            if again is not None and again.mtime_ns == seen.mtime_ns and \
                    again.record == seen.record:
                log.info("case %s: taking over the stale claim of %s", case_id, seen.holder())
                path.unlink(missing_ok=True)
            elif again is not None:
                return None
    return None


def drop_stale(sweep_dir: Path, case_ids: list[str],
               timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> int:
    """Remove the stale claims of these cases (e.g. finished ones whose runner died between
    moving the case into place and releasing it); returns how many were removed."""
    removed = 0
    for cid in case_ids:
        path = claim_path(sweep_dir, cid)
        seen = inspect(path)
        if seen is None or seen.live(timeout_s):
            continue
        with _guard(path) as held:
            again = inspect(path)
            if held and again is not None and again.mtime_ns == seen.mtime_ns and \
                    again.record == seen.record:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def release(claim: Claim) -> None:
    """Remove a claim this process holds (nothing when it was taken over)."""
    with _guard(claim.path) as held:
        if held and claim.is_mine():
            claim.path.unlink(missing_ok=True)


def live_claims(sweep_dir: Path, timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S
                ) -> dict[str, ClaimInfo]:
    """Case id → claim of every live claim in a sweep folder."""
    folder = Path(sweep_dir) / CLAIMS_DIR
    out: dict[str, ClaimInfo] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        info = inspect(path)
        if info is not None and info.live(timeout_s):
            out[path.stem] = info
    return out


class ClaimSet:
    """The claims a runner holds, touched every :data:`HEARTBEAT_S` by a thread."""

    def __init__(self, sweep_dir: Path, timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.timeout_s = float(timeout_s)
        self._held: dict[str, Claim] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, case_id: str) -> Claim | None:
        """Claim a case (see :func:`try_claim`) and keep it alive until released."""
        claim = try_claim(self.sweep_dir, case_id, self.timeout_s)
        if claim is not None:
            with self._lock:
                self._held[case_id] = claim
                if self._thread is None:
                    self._thread = threading.Thread(target=self._beat, daemon=True,
                                                    name="sweep-claims")
                    self._thread.start()
        return claim

    def release(self, case_id: str) -> None:
        """Release one held claim."""
        with self._lock:
            claim = self._held.pop(case_id, None)
        if claim is not None:
            release(claim)

    def release_all(self) -> None:
        """Release every held claim and stop the heartbeat."""
        self._stop.set()
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for claim in held:
            release(claim)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                held = list(self._held.values())
            for claim in held:
                if claim.is_mine():
                    with contextlib.suppress(OSError):
                        os.utime(claim.path)
                else:
                    log.warning("case %s: the claim was taken over by another runner",
                                claim.case_id)
