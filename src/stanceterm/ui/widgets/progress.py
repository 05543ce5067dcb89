"""Progress of this annotator: finished/total and done, counts per claim, smoothed rate and ETA."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from stanceterm.ui.progress_model import Progress
from stanceterm.ui.widgets.line import Line


class ProgressLine(Line):
    def show(self, p: Progress, claim_ids: Sequence[str], failed: int) -> None:
        self.show_text(progress_text(p, claim_ids, failed))


def progress_text(p: Progress, claim_ids: Sequence[str], failed: int) -> Text:
    """The progress line: finished/total · done │ rate ETA │ claim counts [NOT SAVED]."""
    t = Text(no_wrap=True, overflow="ellipsis")
    known = p.total is not None  # until the first count arrives, "…" rather than a guess
    # finished = done + skipped + flagged; "done" = labelled (issue 15 §4)
    t.append(f"{p.done}/{p.total} finished" if known else "…/… finished", style="bold")
    if known:
        t.append(f" · {p.labelled} done")
    # the rate before the claim counts, so that 80 columns show it (the counts are also on
    # the claim bar's side); none until it means something (10 sentences or 5 active min)
    rate, eta = p.rate_per_min(), p.eta_minutes()
    if rate is not None:
        t.append(f" │ {rate:.1f}/min ETA ")
        t.append("—" if eta is None else _minutes(eta))
    t.append(" │ ")
    for i, c in enumerate(claim_ids):
        if i:
            t.append(" · ")
        t.append(f"{c} ")
        t.append(str(p.claims.get(c, 0)) if known else "…", style="bold")
    if failed:
        t.append(f"  ⚠ {failed} NOT SAVED", style="bold reverse")
    return t


def _minutes(m: float) -> str:
    if m < 1:
        return "<1 min"
    if m < 90:
        return f"{m:.0f} min"
    return f"{m / 60:.1f} h"
