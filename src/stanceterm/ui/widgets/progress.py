"""Progress of this annotator: done/total, counts per claim, rate and ETA."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import Static

from stanceterm.ui.progress_model import Progress


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
