"""Progress of this annotator: done/total, counts per claim, rate and ETA."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

#: Rate over the last N completions of this session.
RATE_WINDOW = 30


class Progress:
    """Counts kept from the DB (counted in the background at start, updated on each commit)."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0
        self.claims: dict[str, int] = {}
        self.times: deque[float] = deque(maxlen=RATE_WINDOW)

    def rate_per_min(self) -> float | None:
        if len(self.times) < 3:  # too few completions for a meaningful rate
            return None
        span = self.times[-1] - self.times[0]
        return None if span <= 0 else (len(self.times) - 1) / span * 60.0

    def completed(self, when: float | None = None) -> None:
        self.times.append(time.monotonic() if when is None else when)

    def eta_minutes(self) -> float | None:
        rate = self.rate_per_min()
        if rate is None or self.total is None:
            return None
        return max(self.total - self.done, 0) / rate


class ProgressLine(Static):
    def show(self, p: Progress, claim_ids: Sequence[str], failed: int) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        known = p.total is not None  # until the first count arrives, "…" rather than a guess
        t.append(f"{p.done}/{p.total} done" if known else "…/… done", style="bold")
        t.append(" │ ")
        for i, c in enumerate(claim_ids):
            if i:
                t.append(" · ")
            t.append(f"{c} ")
            t.append(str(p.claims.get(c, 0)) if known else "…", style="bold")
        rate, eta = p.rate_per_min(), p.eta_minutes()
        t.append(" │ ")
        t.append("—/min" if rate is None else f"{rate:.1f}/min")
        t.append(" ETA ")
        t.append("—" if eta is None else _minutes(eta))
        if failed:
            t.append(f"  ⚠ {failed} NOT SAVED", style="bold reverse")
        self.update(t)


def _minutes(m: float) -> str:
    if m < 1:
        return "<1 min"
    if m < 90:
        return f"{m:.0f} min"
    return f"{m / 60:.1f} h"
