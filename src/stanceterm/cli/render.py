"""Turning core values into output: rich tables, Markdown, LaTeX and JSON.

Every string that comes from data (annotator and actor names, titles, paths) goes through
:func:`~stanceterm.textsafe.clean` or into a :class:`rich.text.Text`, never into markup.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stanceterm.textsafe import clean
from stanceterm.wording import count, verb

if TYPE_CHECKING:
    from stanceterm.reliability import AgreementReport, FieldResult, PairKappa
    from stanceterm.store import MergeCounts

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)


def alpha_text(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"  # NaN: undefined (no variation)


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


# --------------------------------------------------------------------------- numbers


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def ci_text(low: float, high: float, num: Callable[[float], str] | None = None) -> str:
    """``[low, high]`` with three decimals, or "n/a" when the interval is undefined."""
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    fmt = num or _fmt
    return f"[{fmt(low)}, {fmt(high)}]"


def _ci_text(r: FieldResult, num: Callable[[float], str] | None = None) -> str:
    return ci_text(r.ci_low, r.ci_high, num)


def _latex_num(x: float) -> str:
    text = _fmt(x)
    return "$-$" + text[1:] if text.startswith("-") else text


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _ci_head(results: Sequence[FieldResult]) -> str:
    level = results[0].ci if results else 0.95
    return f"{round(100 * level, 2):g}% CI"


# --------------------------------------------------------------------------- paper tables


def format_markdown(results: Sequence[FieldResult], labels: Mapping[str, str] | None = None) -> str:
    """A GitHub-flavoured Markdown table of the results (``labels``: field -> display name)."""
    labels = labels or {}

    def cell(s: str) -> str:
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [
        f"| field | metric | level | α | {_ci_head(results)} | % agree | units | annotators |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {cell(labels.get(r.field, r.field))} | {r.metric} | {r.level} | {_fmt(r.value)} | "
            f"{_ci_text(r)} | {_pct(r.percent_agreement)} | {r.units} | {r.annotators} |"
        )
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _latex_escape(s: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in s.replace("\n", " "))


def format_latex(results: Sequence[FieldResult], labels: Mapping[str, str] | None = None) -> str:
    """A booktabs ``tabular`` of the results (``labels``: field -> display name)."""
    labels = labels or {}
    head = _latex_escape(_ci_head(results))
    lines = [
        r"\begin{tabular}{lllrrrrr}",
        r"\toprule",
        f"Field & Metric & Level & $\\alpha$ & {head} & \\% agree & Units & Annotators \\\\",
        r"\midrule",
    ]
    for r in results:
        lines.append(
            f"{_latex_escape(labels.get(r.field, r.field))} & {_latex_escape(r.metric)} & "
            f"{r.level} & {_latex_num(r.value)} & {_ci_text(r, _latex_num)} & "
            f"{_pct(r.percent_agreement)} & "
            f"{r.units} & {r.annotators} \\\\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def kappa_matrix(pairs: Sequence[PairKappa], annotators: Sequence[str]) -> list[list[str]]:
    """Rows of a symmetric annotator x annotator matrix of ``"κ (units)"`` cells (diagonal "—")."""
    cell: dict[tuple[str, str], str] = {}
    for p in pairs:
        text = f"{_fmt(p.kappa)} ({p.units})"
        cell[(p.a, p.b)] = cell[(p.b, p.a)] = text
    return [[cell.get((a, b), "—") for b in annotators] for a in annotators]


def format_kappa_markdown(pairs: Sequence[PairKappa], annotators: Sequence[str]) -> str:
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("|", "\\|")

    rows = kappa_matrix(pairs, annotators)
    lines = [
        "| κ (units) | " + " | ".join(esc(a) for a in annotators) + " |",
        "|---|" + "---:|" * len(annotators),
    ]
    lines += [
        f"| {esc(a)} | " + " | ".join(r) + " |" for a, r in zip(annotators, rows, strict=True)
    ]
    return "\n".join(lines) + "\n"


def _latex_cell(cell: str) -> str:
    if cell == "—":
        return "--"
    return "$-$" + cell[1:] if cell.startswith("-") else cell


def format_kappa_latex(pairs: Sequence[PairKappa], annotators: Sequence[str]) -> str:
    rows = kappa_matrix(pairs, annotators)
    lines = [
        r"\begin{tabular}{l" + "r" * len(annotators) + "}",
        r"\toprule",
        r"$\kappa$ (units) & " + " & ".join(_latex_escape(a) for a in annotators) + r" \\",
        r"\midrule",
    ]
    lines += [
        _latex_escape(a) + " & " + " & ".join(_latex_cell(c) for c in r) + r" \\"
        for a, r in zip(annotators, rows, strict=True)
    ]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- agreement


def agreement_json(report: AgreementReport, disagreements_file: str | None) -> str:
    """The ``agreement --json`` object."""
    payload: dict[str, Any] = {
        "source": report.source,
        "annotators": report.annotators,
        "counted_statuses": list(report.counted_statuses),
        "min_annotators": report.min_annotators,
        "ci": report.ci,
        "bootstrap": report.n_boot,
        "seed": report.seed,
        "by": report.by,
        "fields": [r.as_json(report.actor_names) for r in report.results],
    }
    if report.kappa is not None:
        payload["kappa"] = {
            "metric": "cohen_kappa",
            "units": "claim presence: (sentence, claim type) pairs both annotators labelled",
            "pairs": [p.as_json() for p in report.kappa],
        }
    if report.disagreements is not None:
        payload["disagreements"] = {"file": disagreements_file, "units": len(report.disagreements)}
    payload["suggestions"] = {
        "units": report.suggestion_units,
        "units_with_suggestions": report.units_with_suggestions,
        "unassisted_only": report.unassisted_only,
    }
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()


def _labels(report: AgreementReport) -> dict[str, str]:
    return {r.field: clean(report.label(r)) for r in report.results}


def agreement_text(report: AgreementReport, fmt: str) -> str:
    """The Markdown or LaTeX tables, control characters of names escaped line by line."""
    text = (format_markdown if fmt == "markdown" else format_latex)(report.results, _labels(report))
    if report.kappa is not None:
        kappa = format_kappa_markdown if fmt == "markdown" else format_kappa_latex
        text += "\n" + kappa(report.kappa, report.annotators)
    return "".join(clean(line) + "\n" for line in text.splitlines())


def _agreement_table(report: AgreementReport, show_level: bool) -> Table:
    results = report.results
    labels = _labels(report)
    level = f"{round(100 * report.ci, 2):g}%"
    # one metric for every row goes in the title; no edge padding
    metrics = sorted({r.metric for r in results})
    show_metric = len(metrics) > 1
    what = "Krippendorff's α" if metrics == ["alpha"] else "agreement"
    notes = []
    if report.undefined:
        notes.append("n/a: α undefined (no variation, or no unit labelled twice).")
    if not show_level:  # narrow terminal: the levels go under the table
        by_level: dict[str, list[str]] = {}
        for r in results:
            by_level.setdefault(r.level, []).append(labels[r.field])
        for lv, names in by_level.items():
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            notes.append(f"level {lv}: {shown}.")
    notes.append("% agree: raw pairwise agreement. ann.: annotators.")
    table = Table(
        title=f"Inter-annotator agreement: {what}, {level} bootstrap CI "
        f"({report.n_boot} resamples, seed {report.seed})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption=" ".join(notes),
        caption_justify="left",
    )
    columns = [("field", "left"), ("metric", "left")] if show_metric else [("field", "left")]
    if show_level:
        columns.append(("level", "left"))
    for name, justify in (
        *columns,
        ("α", "right"),
        (f"{level} CI", "right"),
        ("% agree", "right"),
        ("units", "right"),
        ("ann.", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    # names wrap between words; only a word longer than the column is folded
    table.columns[0].overflow = "fold"
    table.columns[0].ratio = 1
    for col in table.columns[1:]:
        col.no_wrap = True
    for r in results:
        pct = (
            "n/a"
            if r.percent_agreement != r.percent_agreement
            else (f"{100 * r.percent_agreement:.1f}")
        )
        table.add_row(
            Text(labels[r.field]),
            *([r.metric] if show_metric else []),
            *([r.level] if show_level else []),
            alpha_text(r.value),
            ci_text(r.ci_low, r.ci_high),
            pct,
            str(r.units),
            str(r.annotators),
        )
    return table


def _field_room(report: AgreementReport, show_level: bool, width: int) -> int:
    """Columns left for the field names in a table ``width`` wide (the other columns at their
    natural width, two spaces between columns, no edge padding)."""
    results = report.results
    level = f"{round(100 * report.ci, 2):g}%"
    cols = [
        ["α", *(alpha_text(r.value) for r in results)],
        [f"{level} CI", *(ci_text(r.ci_low, r.ci_high) for r in results)],
        ["% agree", *(_pct(r.percent_agreement) for r in results)],
        ["units", *(str(r.units) for r in results)],
        ["ann.", *(str(r.annotators) for r in results)],
    ]
    if show_level:
        cols.append(["level", *(r.level for r in results)])
    if len({r.metric for r in results}) > 1:
        cols.append(["metric", *(r.metric for r in results)])
    return width - sum(max(len(c) for c in col) + 2 for col in cols)


def _longest_word(texts: Sequence[str]) -> int:
    return max((len(w) for t in texts for w in t.split()), default=0)


def _kappa_tables(report: AgreementReport, width: int) -> Table:
    """The κ matrix when it fits ``width`` with every name whole, else one line per pair."""
    assert report.kappa is not None
    names = report.annotators
    title = "Cohen's κ (units) per pair, on claim presence"
    cells = kappa_matrix(report.kappa, names)
    col = max([len(clean(a)) for a in names] + [len(c) for r in cells for c in r])
    if (len(names) + 1) * (col + 2) + 2 <= width:
        matrix = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        matrix.add_column("")
        for a in names:
            matrix.add_column(Text(clean(a)), justify="right")
        for a, row in zip(names, cells, strict=True):
            matrix.add_row(Text(clean(a)), *row)
        return matrix
    pairs = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name, justify in (
        ("annotator", "left"),
        ("annotator", "left"),
        ("κ", "right"),
        ("units", "right"),
        ("% agree", "right"),
    ):
        pairs.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for p in report.kappa:
        pairs.add_row(
            Text(clean(p.a)),
            Text(clean(p.b)),
            _fmt(p.kappa),
            str(p.units),
            _pct(p.percent_agreement),
        )
    return pairs


def print_agreement_table(report: AgreementReport, console: Console | None = None) -> None:
    """The terminal tables. They fit the terminal (80 columns in tmux) without breaking a word:
    on a narrow terminal the level column moves under the table and a κ matrix that does not
    fit becomes one line per pair. Piped, the tables keep their natural width, unless
    ``COLUMNS`` names a width (``COLUMNS=80 stanceterm agreement | less``)."""
    if console is None:
        if out_console.is_terminal:
            console = out_console
        else:
            cols = os.environ.get("COLUMNS", "")
            width = int(cols) if cols.isdigit() and 20 <= int(cols) <= 1000 else 200
            console = Console(highlight=False, width=width)
    labels = list(_labels(report).values())
    show_level = _field_room(report, True, console.width) >= _longest_word(labels)
    table = _agreement_table(report, show_level=show_level)
    console.print(table)
    if report.kappa is not None:
        console.print(_kappa_tables(report, console.width))


def agreement_footer(report: AgreementReport, disagreements_file: str | None) -> str:
    """The one-line summary on stderr: who, from where, what counted."""
    missing = "skipped, draft" + ("" if report.include_flagged else ", flagged")
    n_disagree = None if report.disagreements is None else len(report.disagreements)
    return (
        f"{count(len(report.annotators), 'annotator')} from {clean(report.source)}; counted: "
        f"{', '.join(report.counted_statuses)} labels "
        f"({missing} and unseen sentences are missing data; propagated copies left out); "
        f"units labelled by at least {count(report.min_annotators, 'annotator')}."
        + (
            ""
            if n_disagree is None
            else f" Wrote {count(n_disagree, 'disagreement')} to "
            f"{'stdout' if disagreements_file == '-' else clean(disagreements_file or '')}."
        )
        + f" Suggestions: {report.units_with_suggestions} of the "
        f"{count(report.suggestion_units, 'unit')} "
        f"{verb(report.units_with_suggestions, 'has', 'had')} a label made with claim "
        "suggestions shown"
        + (
            " (--unassisted-only: units with suggestions left out)."
            if report.unassisted_only
            else "."
        )
    )


# --------------------------------------------------------------------------- other tables


def merge_table(into: str, results: Sequence[tuple[Any, MergeCounts]]) -> Table:
    table = Table(title="merged", title_justify="left")
    table.add_column(Text("into " + clean(into)))
    for path, _ in results:
        table.add_column(Text(clean(path.name)), justify="right")
    for label, attr in (
        ("articles added", "articles_added"),
        ("sentences added", "sentences_added"),
        ("history events copied", "events_added"),
        ("events about another text (skipped)", "events_other_text"),
        ("labels taken", "labels_taken"),
        ("labels kept", "labels_kept"),
        ("labels deleted", "labels_deleted"),
        ("gold taken", "gold_taken"),
        ("gold kept", "gold_kept"),
        ("actors added", "actors_added"),
        ("actor operations copied", "actor_events_added"),
        ("annotators added", "annotators_added"),
        ("cluster splits applied", "splits_applied"),
    ):
        table.add_row(label, *(str(getattr(c, attr)) for _, c in results))
    return table


def article_pairs_table(pairs: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title="near-duplicate articles (reported, not merged)", title_justify="left")
    for col in ("article A", "article B", "shared", "overlap", "title A", "title B"):
        table.add_column(col, justify="right" if col in ("shared", "overlap") else "left")
    for p in pairs:
        table.add_row(
            Text(clean(p["article_a"])),
            Text(clean(p["article_b"])),
            str(p["shared"]),
            f"{float(str(p['overlap'])):.0%}",
            Text(clean(p["title_a"] or "")),
            Text(clean(p["title_b"] or "")),
        )
    return table
