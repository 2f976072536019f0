"""Rows to entities and caller input to rows: the store's only translations."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, overload

from engine.status import STATUSES
from engine.store import summary as summary_json
from engine.store.entities import Run


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)  # stored naive, always UTC


@overload
def aware(dt: datetime) -> datetime: ...
@overload
def aware(dt: None) -> None: ...
def aware(dt: Optional[datetime]) -> Optional[datetime]:
    return None if dt is None else dt.replace(tzinfo=timezone.utc)


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}: use one of {', '.join(STATUSES)}")
    return status


def to_run(r: Any) -> Run:
    return Run(id=r.id, name=r.name, status=r.status, spec=json.loads(r.spec or "{}"),
               created_at=aware(r.created_at), started_at=aware(r.started_at),
               finished_at=aware(r.finished_at), device=r.device, pid=r.pid, error=r.error,
               summary=summary_json.loads(r.summary), notes=r.notes or "",
               tags=list(json.loads(r.tags or "[]")), parent_id=r.parent_id,
               starred=bool(r.starred), heartbeat_at=aware(r.heartbeat_at), host=r.host,
               sweep_id=r.sweep_id, trial_number=r.trial_number, teacher_run_id=r.teacher_run_id)


def clean_tags(tags: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for t in tags or []:
        t = str(t).strip()
        if t and t not in out:
            out.append(t)
    return out


def remove_files(paths: Iterable[str]) -> None:
    folders = set()
    for p in paths:
        path = Path(p)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            continue  # already gone or not ours to remove; the rows are what matters
        folders.add(path.parent)
    for folder in folders:
        try:
            folder.rmdir()  # only succeeds when empty: never removes other files
        except OSError:
            pass
