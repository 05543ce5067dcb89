"""The team's progress, live: one line of the other annotators, and a full table on demand
(the numbers: :class:`~stanceterm.ui.progress_model.TeamProgress`)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from stanceterm.ui.progress_model import Member, TeamProgress
from stanceterm.ui.text import visible
from stanceterm.ui.widgets.line import Line


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


class TeamLine(Line):
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
        self.show_text(t)


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
