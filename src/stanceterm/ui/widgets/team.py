"""The team's progress, live: one line of the other annotators, and a full table on demand.

The numbers come from :meth:`Store.team.progress_by_annotator` (trigger-kept counters, a few-row
read even on a million-sentence DB), polled every few seconds off the UI thread. Rates are
measured between polls (finished sentences per minute over the last few minutes).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from stanceterm.ui.text import visible

#: Rates are measured over at most this many seconds of polls...
RATE_WINDOW_S = 300.0
#: ...and only once the polls span at least this many seconds.
RATE_MIN_SPAN_S = 20.0
#: An annotator whose latest change is more recent than this is shown as active (●).
ACTIVE_S = 300.0


@dataclass(frozen=True)
class Member:
    """One annotator's progress, as last polled."""

    name: str
    done: int  # finished: done + skipped + flagged (own labels)
    skipped: int
    flagged: int
    draft: int
    queue: int | None  # assigned sentences, else every visible sentence (None: not known yet)
    rate: float | None  # finished per minute, between polls
    idle_s: float | None  # seconds since their latest change (None: never)

    @property
    def active(self) -> bool:
        return self.idle_s is not None and self.idle_s < ACTIVE_S


def _age_seconds(stamp: Any, now_utc: datetime) -> float | None:
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((now_utc - when).total_seconds(), 0.0)


class TeamProgress:
    """What the team panel shows; fed by :meth:`update` with each poll."""

    def __init__(self) -> None:
        self.members: list[Member] = []
        self.polled = False
        self._history: dict[str, deque[tuple[float, int]]] = {}

    def update(
        self,
        progress: Mapping[str, Mapping[str, Any]],
        visible_total: int | None,
        *,
        now: float | None = None,
        now_utc: datetime | None = None,
    ) -> None:
        mono = time.monotonic() if now is None else now
        wall = datetime.now(UTC) if now_utc is None else now_utc
        members = []
        for name, p in sorted(progress.items()):
            done = int(p.get("done", 0)) + int(p.get("skipped", 0)) + int(p.get("flagged", 0))
            history = self._history.setdefault(name, deque(maxlen=200))
            history.append((mono, done))
            while history and mono - history[0][0] > RATE_WINDOW_S:
                history.popleft()
            t0, d0 = history[0]
            rate = (done - d0) / (mono - t0) * 60.0 if mono - t0 >= RATE_MIN_SPAN_S else None
            assigned = int(p.get("assigned", 0))
            members.append(
                Member(
                    name=name,
                    done=done,
                    skipped=int(p.get("skipped", 0)),
                    flagged=int(p.get("flagged", 0)),
                    draft=int(p.get("draft", 0)),
                    queue=assigned if assigned > 0 else visible_total,
                    rate=rate,
                    idle_s=_age_seconds(p.get("last_activity"), wall),
                )
            )
        self.members = members
        self.polled = True

    def others(self, me: str) -> list[Member]:
        return [m for m in self.members if m.name != me]


def _queue(m: Member) -> str:
    return "…" if m.queue is None else str(m.queue)


def _rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1f}/min"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


class TeamLine(Static):
    """« team ● bob 120/500 2.1/min · carol 80/500 » on one line (the others, not me)."""

    def show(self, team: TeamProgress, me: str, toggle_key: str) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("team ", style="bold")
        others = team.others(me)
        if not team.polled:
            t.append("…")
        elif not others:
            t.append("no other annotator yet", style="dim")
        for i, m in enumerate(others):
            if i:
                t.append(" · ")
            t.append("● " if m.active else "○ ", style="bold green" if m.active else "dim")
            t.append(visible(m.name), style="bold")
            t.append(f" {m.done}/{_queue(m)}")
            if m.rate is not None:
                t.append(f" {m.rate:.1f}/min", style="dim")
        t.append(f"  ({toggle_key}: table)", style="dim")
        self.update(t)


class TeamTable(Static):
    """Every annotator (me included): finished, queue, skipped, flagged, rate, last change."""

    def show(self, team: TeamProgress, me: str) -> None:
        table = Table(box=None, expand=True, padding=(0, 1), header_style="bold")
        table.add_column("annotator", no_wrap=True, overflow="ellipsis", ratio=2)
        table.add_column("finished", justify="right", no_wrap=True)
        table.add_column("skip", justify="right", no_wrap=True)
        table.add_column("flag", justify="right", no_wrap=True)
        table.add_column("rate", justify="right", no_wrap=True)
        table.add_column("last change", justify="right", no_wrap=True)
        for m in team.members:
            name = Text("● " if m.active else "○ ", style="green" if m.active else "dim")
            name.append(visible(m.name), style="bold" if m.name == me else "")
            if m.name == me:
                name.append(" (you)", style="dim")
            pct = "" if not m.queue else f" {100 * m.done / m.queue:.0f}%"
            table.add_row(
                name,
                f"{m.done}/{_queue(m)}{pct}",
                str(m.skipped),
                str(m.flagged),
                _rate(m.rate),
                _ago(m.idle_s),
            )
        if not team.members:
            table.add_row(Text("…" if not team.polled else "nobody yet", style="dim"))
        self.update(table)
