"""What the progress lines show, as plain data (no Textual): this annotator's counts, rate and
ETA (:class:`Progress`), and the team's progress as last polled (:class:`TeamProgress`).

The team's numbers come from :meth:`Store.team.progress_by_annotator` (trigger-kept counters, a few-row
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
