"""The sentence being annotated, its article, and its neighbours (dimmed) for context."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from stanceterm.store import Article
from stanceterm.ui.text import data, visible


def article_line(article: Article | None, position: str = "") -> Text:
    """« Title — Source · 2023-09-14 » as literal text (title bold)."""
    line = Text(overflow="ellipsis", no_wrap=True)
    if article is None:
        return line
    line.append(visible(article.title or "(untitled)"), style="bold")
    extra = [visible(x) for x in (article.source, article.published) if x]
    if extra:
        line.append(" — " + " · ".join(extra), style="italic")
    if position:
        line.append(f"  {position}", style="dim")
    return line


#: Sentences of context asked for before and after the current one: the box is filled with the
#: article that follows (dimmed), and the current sentence stays near the top.
CONTEXT_BEFORE = 2
CONTEXT_AFTER = 12
#: At most this many characters of the preceding text are shown (its end), so the current
#: sentence stays in view above a docked dialog, even at 80x24.
PREV_CHARS = 160


def _tail(text: str, limit: int = PREV_CHARS) -> str:
    """The end of ``text``, cut at a word boundary, with « … » where it was cut."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    return "… " + (cut[space + 1 :] if 0 <= space < 30 else cut)


class SentenceView(VerticalScroll, can_focus=False):
    """The preceding text (dim, its last characters), the current sentence (bold), and the
    article's following sentences filling the rest of the box (dim)."""

    def compose(self) -> ComposeResult:
        yield Static(id="prev-sentence", classes="context")
        yield Static(id="current-sentence")
        yield Static(id="next-sentence", classes="context")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the text each part shows (part id -> text): a part whose text is the same is left
        self._shown: dict[str, str] = {}

    def show(self, prev: list[str], text: str, nxt: list[str]) -> None:
        for part, shown, present in (
            ("prev-sentence", _tail(" ".join(prev)), bool(prev)),
            ("current-sentence", text, True),
            ("next-sentence", " ".join(nxt), bool(nxt)),
        ):
            widget = self.query_one(f"#{part}", Static)
            if self._shown.get(part) != shown:
                self._shown[part] = shown
                widget.update(data(shown))
            widget.display = present
        self.scroll_home(animate=False)

    @property
    def current_text(self) -> str:
        """The rendered current sentence, as plain text (for tests)."""
        return str(self.query_one("#current-sentence", Static).visual)
