"""The annotators' versions of a sentence, numbered 1..n, with the disagreement highlighted, and
the gold decision in one or two lines. Everything that comes from the data is literal text.

A version written on a copy of the sentence (a member of its dedup cluster, labelled before dedup
joined them) shows the copy's own text under its labels, marked as a copy of the representative
shown above: that text is what the annotator read, and it may differ from the representative's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from stanceterm.adjudicate import Disagreement, Version
from stanceterm.store import Gold, Stance
from stanceterm.ui.text import visible

#: Claims and stance rows not shared by every labelled version.
DISPUTED = "bold red"
STATUS_STYLE = {"done": "green", "flagged": "yellow", "skipped": "magenta"}


def stance_text(s: Stance, name: Callable[[str], str], style: str = "") -> Text:
    t = Text(style=style)
    t.append(f"{s.claim}: ")
    t.append(visible(name(s.actor)), style="bold" if not style else "")
    t.append(f" {s.stance}")
    return t


def labels_text(
    claims: Sequence[str],
    stances: Sequence[Stance],
    name: Callable[[str], str],
    disputed: Disagreement | None = None,
) -> Text:
    """Claims on the first line, then one line per stance; disputed ones highlighted."""
    t = Text()
    if not claims:
        t.append("(no claim)", style="italic")
    for i, c in enumerate(claims):
        if i:
            t.append(" · ")
        hot = disputed is not None and c in disputed.claims
        t.append(("≠" if hot else "") + c, style=DISPUTED if hot else "bold")
    for s in stances:
        hot = disputed is not None and s in disputed.stances
        t.append("\n")
        t.append("≠ " if hot else "  ", style=DISPUTED if hot else "")
        t.append_text(stance_text(s, name, DISPUTED if hot else ""))
    return t


def versions_table(
    versions: Sequence[Version],
    disputed: Disagreement,
    name: Callable[[str], str],
    chosen: str | None = None,
    copies: Mapping[str, str] | None = None,
) -> RenderableType:
    """One row per annotator: key number, name (✓ when the gold is their version), status,
    labels. ``copies`` maps the id of each copy that a version sits on to the copy's text."""
    if not versions:
        return Text("No annotator has labels for this sentence any more.", style="italic")
    table = Table(box=None, show_header=False, expand=True, padding=(0, 1, 0, 0))
    table.add_column("n", style="bold", no_wrap=True, width=1)
    table.add_column("annotator", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("status", no_wrap=True)
    table.add_column("labels", ratio=1, overflow="fold")
    for i, v in enumerate(versions, start=1):
        status = Text(v.status, style=STATUS_STYLE.get(v.status, ""))
        if v.labelled:
            labels = labels_text(v.claims, v.stances, name, disputed)
        else:
            labels = Text(f"({v.status}: missing data, nothing to accept)", style="dim italic")
        if v.note:
            labels.append("\nnote: ", style="dim")
            labels.append(visible(v.note), style="dim italic")
        if copies and v.sentence_id in copies:
            labels.append_text(copy_text(v.sentence_id, copies[v.sentence_id]))
        who = Text(visible(v.annotator))
        if chosen is not None and v.annotator == chosen:
            who.append(" ✓", style="bold green")
        table.add_row(Text(str(i) if i <= 9 else "·"), who, status, labels)
    legend = Text("≠ red: not shared by every annotator", style="dim")
    return Group(table, legend) if disputed else table


def copy_text(sentence_id: str, text: str) -> Text:
    """The line under a version labelled on a copy: which copy, and the text it holds."""
    t = Text()
    t.append(f"\n⧉ labelled on a copy ({visible(sentence_id)}) of the sentence above:", "yellow")
    t.append("\n« ")
    t.append(visible(text), style="italic")
    t.append(" »")
    return t


def gold_text(
    gold: Gold | None,
    name: Callable[[str], str],
    *,
    stale: bool = False,
    unsaved: bool = False,
) -> Text:
    t = Text()
    if gold is None:
        t.append("gold: not decided", style="dim")
        return t
    if gold.status == "unresolvable":
        t.append("✗ unresolvable", style="bold magenta")
    else:
        t.append("✓ gold", style="bold green")
        how = f" = {visible(gold.chosen_from)}'s version" if gold.chosen_from else " (edited)"
        t.append(how)
    t.append(f" · by {visible(gold.adjudicator)}", style="dim")
    if gold.note:
        t.append(" · note: ", style="dim")
        t.append(visible(gold.note), style="italic")
    if stale:
        t.append("  ⚠ labels changed since", style="bold yellow")
    if unsaved:
        t.append("  ⚠ NOT SAVED", style="bold reverse")
    if gold.status == "gold":
        t.append("\n")
        t.append(" · ".join(gold.claims) or "(no claim)", style="bold")
        for s in gold.stances:
            t.append(" │ ")
            t.append_text(stance_text(s, name))
    return t
