"""A metric's value at the end of each epoch, for many runs in one query.

Why: the Sweep view's intermediate-values plot draws one line per trial
(x = epoch, y = the sweep's metric, what the pruner was fed). Reading each
trial's curve (RunStore.get_curves) is two statements per run; a sweep of 50
trials would pay 100 round trips on every refresh. Here one statement reads
every run's last point of each epoch, the grouping done in the database, so
a metric logged every step sends back one row per epoch, not every step.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

from sqlalchemy import and_, func, select

from engine.store.models import MetricRow, table

if TYPE_CHECKING:
    from engine.store.runstore import RunStore

M = table(MetricRow)
CHUNK = 500  # run ids per statement: well under any database's bound-parameter limit


def epoch_ends(store: RunStore, run_ids: Iterable[int], key: str) -> dict[int, tuple[list[int], list[float]]]:
    """{run id: (epochs, values)}: `key`'s last value in each epoch (epochs from
    1 up; a NaN at an epoch's end leaves that epoch out). Runs without a point
    of `key` are absent."""
    ids = sorted({int(r) for r in run_ids})
    out: dict[int, tuple[list[int], list[float]]] = {}
    with store._read() as s:
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            last = (select(M.c.run_id, M.c.epoch, func.max(M.c.step).label("step"))
                    .where(M.c.key == key, M.c.run_id.in_(chunk), M.c.epoch > 0)
                    .group_by(M.c.run_id, M.c.epoch).subquery())
            rows = s.execute(
                select(M.c.run_id, M.c.epoch, M.c.value)
                .join(last, and_(M.c.run_id == last.c.run_id, M.c.step == last.c.step))
                .where(M.c.key == key)
                .order_by(M.c.run_id, M.c.epoch))
            for run_id, epoch, value in rows:
                if value is None or not math.isfinite(value):
                    continue
                epochs, values = out.setdefault(int(run_id), ([], []))
                epochs.append(int(epoch))
                values.append(float(value))
    return out
