"""What the progress lines show, as plain data (no Textual): this annotator's counts (finished
and done), smoothed rate and ETA (:class:`Progress`), and the team's progress as last polled (:class:`TeamProgress`).

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

#: A rate is shown only after this many completions in this session...
RATE_MIN_SENTENCES = 10
#: ...or this much active time (seconds): a rate after 3 sentences is noise.
RATE_MIN_ACTIVE_S = 300.0
#: A gap between two completions longer than this is a pause: not active time, not in the rate.
PAUSE_S = 180.0
#: Weight of the newest gap in the exponentially smoothed time per sentence.
RATE_ALPHA = 0.2


class Progress:
    """Counts kept from the DB (counted in the background at start, updated on each commit).

    ``done`` counts the *finished* sentences (done, skipped or flagged), ``labelled`` those whose
    status is ``done``. The rate is an exponentially smoothed time per sentence over the gaps
    between this session's completions, pauses (gaps over :data:`PAUSE_S`) left out; it is shown
    once there were :data:`RATE_MIN_SENTENCES` completions or :data:`RATE_MIN_ACTIVE_S` of
    active time.
    """

    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0
        self.labelled = 0
        self.claims: dict[str, int] = {}
        self.completions = 0
        self.active_s = 0.0
        self._last: float | None = None
        self._gap: float | None = None  # smoothed seconds per sentence

    def rate_per_min(self) -> float | None:
        if self._gap is None or self._gap <= 0:
            return None
        if self.completions < RATE_MIN_SENTENCES and self.active_s < RATE_MIN_ACTIVE_S:
            return None
        return 60.0 / self._gap

    def completed(self, when: float | None = None) -> None:
        t = time.monotonic() if when is None else when
        self.completions += 1
        if self._last is not None:
            gap = t - self._last
            if 0 <= gap <= PAUSE_S:
                self.active_s += gap
                self._gap = (
                    gap if self._gap is None else RATE_ALPHA * gap + (1 - RATE_ALPHA) * self._gap
                )
        self._last = t

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
