"""The review screen: walk the sentences that need a gold decision, see every annotator's version
side by side with the disagreement highlighted, and decide (accept one, edit, or unresolvable).

Decisions are written by the app's writer worker (in order, off the UI thread); the screen shows
them at once and marks a failed write ``NOT SAVED``. Undo walks back this session's decisions,
newest first, restoring exactly what was there before (including an earlier adjudicator's gold).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from stanceterm.adjudicate import (
    Disagreement,
    ReviewItem,
    Version,
    accept_version,
    disagreement,
    edited_gold,
    first_unreviewed,
    shared_labels,
    stale_sources,
    unresolvable_gold,
    versions_for,
)
from stanceterm.store import Article, Gold, Sentence, Store
from stanceterm.ui import keymap
from stanceterm.ui.base import StoreApp
from stanceterm.ui.dialogs.gold_editor import GoldEditor, GoldLabels, editor_keys
from stanceterm.ui.dialogs.prompts import NoteDialog
from stanceterm.ui.keymap import stance_key_map
from stanceterm.ui.screens.help import HelpScreen
from stanceterm.ui.text import visible
from stanceterm.ui.widgets.footer import KeyFooter
from stanceterm.ui.widgets.review_versions import gold_text, versions_table
from stanceterm.ui.widgets.sentence_view import SentenceView, article_line
from stanceterm.ui.writer import GoldWrites, Job, WritesChanged
from stanceterm.wording import count, noun

#: Actions that change gold: greyed out while an undo is being applied.
DECISIONS = frozenset({"accept", "edit", "unresolvable", "note", "undo"})


class ReviewScreen(Screen[None]):
    AUTO_FOCUS = ""

    #: The screen's keys (see :mod:`stanceterm.ui.keymap`); ``[keys]`` does not change them.
    BINDINGS: ClassVar[list[BindingType]] = keymap.REVIEW

    def __init__(self, items: list[ReviewItem]) -> None:
        super().__init__()
        self.items = items
        self.pos: int | None = None
        self.sentence: Sentence | None = None
        self.article: Article | None = None
        self.versions: tuple[Version, ...] = ()
        self.disputed = Disagreement(frozenset(), frozenset())
        self.gold: Gold | None = None
        #: sentence id -> gold status, as this screen knows it (decisions shown before commit)
        self.decided: dict[str, str] = {}
        #: sentence id -> (job seq, optimistic gold or None) of decisions not yet committed
        self.pending: dict[str, tuple[int, Gold | None]] = {}
        self.undo_in_flight = 0
        #: decisions whose annotators' versions changed since they were made: not reviewed
        #: (found by a thread after the first frame; ``stale_checked`` once it has answered)
        self.stale: set[str] = set()
        self.stale_checked = False
        #: sentences decided or undone on this screen (the stale check leaves them alone)
        self._touched: set[str] = set()
        #: copy id -> text of the copies (same dedup cluster) that the versions shown sit on
        self.copies: dict[str, str] = {}
        self._canonical: dict[str, str] = {}
        self._articles: dict[str, Article | None] = {}
        self._gold_writes: GoldWrites | None = None

    @property
    def review_app(self) -> StoreApp:
        return cast("StoreApp", self.app)

    @property
    def gold_writes(self) -> GoldWrites:
        """Gold decisions and their undo (in the app's writer thread)."""
        if self._gold_writes is None:
            self._gold_writes = GoldWrites(self.review_app.writer)
        return self._gold_writes

    @property
    def store(self) -> Store:
        return self.review_app.store

    @property
    def adjudicator(self) -> str:
        return self.review_app.annotator

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        yield Static(id="article")
        yield SentenceView(id="sentence")
        with VerticalScroll(id="versions", can_focus=False):
            yield Static(id="versions-table")
        yield Static(id="gold")
        yield Static(id="review-progress")
        yield KeyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._canonical = self.store.actors.canonical()
        self.decided = self.store.gold.statuses([it.sentence_id for it in self.items])
        start = first_unreviewed(self.items, self.decided)
        if start is None and self.items:
            start = 0
            self.notify("Every sentence is reviewed. Browse with j/k.", timeout=5)
        if start is None:
            self.query_one(SentenceView).show([], "Nothing to review.", [])
        else:
            self.load(start)
        self._show_progress()
        self._check_stale(list(self.decided))

    @work(thread=True, group="stale", exit_on_error=False)
    def _check_stale(self, ids: list[str]) -> None:
        """Which decisions are out of date: an annotator changed, added or withdrew a version
        after it (the ⚠ the gold line shows). They count as not reviewed, and g goes to them
        (new-user review: "3/3 reviewed · 0 left" with a changed one among them). On a reader
        of its own, off the UI thread: one read per decision."""
        stale: set[str] = set()
        reader = self.store.open_reader()  # None in memory: the screen's own (it locks)
        db = reader or self.store
        try:
            canon = db.actors.canonical()
            for sid in ids:
                gold = db.gold.get(sid)
                if gold is not None and stale_sources(gold, versions_for(db, sid, canon)):
                    stale.add(sid)
        finally:
            if reader is not None:
                reader.close()
        self.app.call_from_thread(self._stale_found, stale)

    def _stale_found(self, stale: set[str]) -> None:
        self.stale = stale - self._touched
        for sid in self.stale:
            self.decided.pop(sid, None)
        self.stale_checked = True
        self._show_progress()
        n = len(self.stale)
        if n:
            self.notify(
                f"{count(n, 'decision')} out of date: the labels changed since "
                f"{noun(n, 'it was', 'they were')} made. g goes to the next one.",
                timeout=6,
            )

    # ---------------------------------------------------------------- state → widgets

    def load(self, pos: int) -> None:
        item = self.items[pos]
        sentence = self.store.corpus.sentence(item.sentence_id)
        if sentence is None:  # pragma: no cover - sentences are never deleted
            return
        self.pos, self.sentence = pos, sentence
        if sentence.article_id not in self._articles:
            self._articles[sentence.article_id] = self.store.corpus.article(sentence.article_id)
        self.article = self._articles[sentence.article_id]
        self.versions = versions_for(self.store, sentence.id, self._canonical)
        self.disputed = disagreement(self.versions)
        self.copies = self._copy_texts(sentence.id)
        pending = self.pending.get(sentence.id)
        self.gold = pending[1] if pending is not None else self.store.gold.get(sentence.id)
        prev, nxt = self.store.corpus.context(sentence)
        self.query_one(SentenceView).show(prev, sentence.text, nxt)
        self.query_one("#article", Static).update(article_line(self.article))
        self._show_top()
        self._show_versions()
        self.query_one("#versions", VerticalScroll).scroll_home(animate=False)
        self._show_gold()
        self._show_progress()
        self.refresh_bindings()

    def _copy_texts(self, sentence_id: str) -> dict[str, str]:
        """The text of every copy that a version sits on (labels written on a cluster member
        before dedup joined it to the sentence shown)."""
        out: dict[str, str] = {}
        for v in self.versions:
            sid = v.sentence_id
            if sid and sid != sentence_id and sid not in out:
                copy = self.store.corpus.sentence(sid)
                if copy is not None:
                    out[sid] = copy.text
        return out

    def _show_top(self) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("stanceterm review", style="bold")
        t.append(" · ")
        t.append(visible(self.adjudicator), style="bold")
        if self.pos is not None and self.sentence is not None:
            item = self.items[self.pos]
            n = self.article.n_sentences if self.article else 0
            t.append(f" · {self.pos + 1}/{len(self.items)}")
            if item.reasons:
                t.append(" · " + ", ".join(item.reasons), style="bold yellow")
            t.append(f" · sentence {self.sentence.idx + 1}/{n}", style="dim")
        self.query_one("#topbar", Static).update(t)

    def _show_versions(self) -> None:
        gold = self.gold
        chosen = gold.chosen_from if gold is not None and gold.status == "gold" else None
        self.query_one("#versions-table", Static).update(
            versions_table(
                self.versions, self.disputed, self.review_app.display_actor, chosen, self.copies
            )
        )

    def _show_gold(self) -> None:
        sid = self.sentence.id if self.sentence else None
        stale = self.gold is not None and stale_sources(self.gold, self.versions)
        unsaved = sid is not None and sid in self.review_app.unsaved
        self.query_one("#gold", Static).update(
            gold_text(self.gold, self.review_app.display_actor, stale=stale, unsaved=unsaved)
        )

    def _show_progress(self) -> None:
        total = len(self.items)  # self.decided only ever holds sentences of the queue
        done = len(self.decided)
        unresolvable = sum(1 for s in self.decided.values() if s == "unresolvable")
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{done}/{total} reviewed", style="bold")
        t.append(" │ ")
        t.append(f"gold {done - unresolvable} · unresolvable {unresolvable}")
        t.append(" │ ")
        t.append(f"{total - done} left")
        changed = len(self.stale.difference(self.decided))
        if changed:
            t.append(
                f" · {changed} changed since {noun(changed, 'its', 'their')} decision",
                style="bold yellow",
            )
        failed = len(self.review_app.unsaved)
        if failed:
            t.append(f"  ⚠ {failed} NOT SAVED", style="bold reverse")
        self.query_one("#review-progress", Static).update(t)

    def on_writes_changed(self, _message: WritesChanged) -> None:
        self._show_gold()
        self._show_progress()

    # ---------------------------------------------------------------- key availability

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "accept":
            n = parameters[0] if parameters else None
            if not isinstance(n, int) or n > len(self.versions):
                return False
        if action in DECISIONS:
            if self.sentence is None and action != "undo":
                return None
            if self.undo_in_flight:
                return None
        if action == "note" and self.gold is None:
            return None
        return True

    # ---------------------------------------------------------------- decisions

    def _decide(self, gold: Gold, advance: bool = True) -> None:
        """Show ``gold`` now, queue it for the store, and move on."""
        sid = gold.sentence_id
        app = self.review_app
        writes = self.gold_writes

        def run(store: Store) -> Gold:
            return writes.write(store, gold)

        def done(stored: Gold) -> None:
            entry = self.pending.get(sid)
            if entry is not None and entry[0] == job.seq:
                del self.pending[sid]
            app.unsaved.pop(sid, None)
            if self.sentence is not None and self.sentence.id == sid and sid not in self.pending:
                self.gold = stored
                self._show_gold()

        job = app.submit(Job(run, "gold", sid, done))
        self.pending[sid] = (job.seq, gold)
        self.decided[sid] = gold.status
        self._touched.add(sid)
        self.gold = gold
        self._show_versions()
        self._show_gold()
        self._show_progress()
        self.refresh_bindings()
        if advance:
            self._advance()

    def action_accept(self, n: int) -> None:
        if self.sentence is None or not 1 <= n <= len(self.versions):
            return
        version = self.versions[n - 1]
        if not version.labelled:
            self.notify(
                f"{visible(version.annotator)} {version.status} this sentence: nothing to accept "
                "(e edits, r marks it unresolvable).",
                markup=False,
                timeout=4,
            )
            return
        self._decide(accept_version(self.sentence.id, self.versions, n - 1, self.adjudicator))

    def action_unresolvable(self) -> None:
        if self.sentence is None:
            return
        note = self.gold.note if self.gold is not None else None
        self._decide(unresolvable_gold(self.sentence.id, self.versions, self.adjudicator, note))

    def action_edit(self) -> None:
        sentence = self.sentence
        if sentence is None:
            return
        if self.gold is not None and self.gold.status == "gold":
            claims, stances = self.gold.claims, self.gold.stances
        else:
            claims, stances = shared_labels(self.versions)
        versions = self.versions
        note = self.gold.note if self.gold is not None else None

        def edited(labels: GoldLabels | None) -> None:
            if labels is None or self.sentence is None or self.sentence.id != sentence.id:
                return
            gold = edited_gold(
                sentence.id,
                versions,
                labels.claims,
                labels.stances,
                self.adjudicator,
                self.review_app.schema.claim_ids,
                note,
            )
            self._decide(gold)

        app = self.review_app
        editor = GoldEditor(
            sentence.text, claims, stances, schema=app.schema, keys=app.keymap_overrides
        )
        self.app.push_screen(editor, edited)

    def action_note(self) -> None:
        gold = self.gold
        if gold is None or self.sentence is None:
            return
        sid = self.sentence.id

        def written(note: str | None) -> None:
            current = self.gold
            if note is None or current is None or self.sentence is None:
                return
            if self.sentence.id != sid:
                return
            self._decide(replace(current, adjudicator=self.adjudicator, note=note or None), False)

        self.app.push_screen(NoteDialog(gold.note), written)

    def action_undo(self) -> None:
        app = self.review_app
        writes = self.gold_writes
        self.undo_in_flight += 1
        self.refresh_bindings()

        adjudicator = self.adjudicator

        def run(store: Store) -> tuple[str, Gold | None] | None:
            return writes.undo(store, adjudicator)

        def done(result: tuple[str, Gold | None] | None) -> None:
            self.undo_in_flight -= 1
            if result is None:
                self.notify("Nothing to undo.", timeout=3)
            else:
                sid, restored = result
                self._touched.add(sid)
                self.pending.pop(sid, None)
                app.unsaved.pop(sid, None)
                if restored is None:
                    self.decided.pop(sid, None)
                else:
                    self.decided[sid] = restored.status
                self.jump_to(sid)
            self._show_progress()
            self.refresh_bindings()

        def failed(_error: str) -> None:
            self.undo_in_flight -= 1
            self.refresh_bindings()

        app.submit(Job(run, "undo", None, done, failed=failed))

    # ---------------------------------------------------------------- navigation

    def jump_to(self, sentence_id: str) -> None:
        for i, it in enumerate(self.items):
            if it.sentence_id == sentence_id:
                self.load(i)
                return

    def action_next(self) -> None:
        if self.pos is None:
            return
        if self.pos + 1 >= len(self.items):
            self.notify("Last sentence to review.", timeout=3)
        else:
            self.load(self.pos + 1)

    def action_prev(self) -> None:
        if self.pos is None:
            return
        if self.pos == 0:
            self.notify("First sentence to review.", timeout=3)
        else:
            self.load(self.pos - 1)

    def _next_open(self) -> int | None:
        """The next item (wrapping) without a decision, other than the current one."""
        if not self.items:
            return None
        start = -1 if self.pos is None else self.pos
        n = len(self.items)
        for step in range(1, n + 1):
            i = (start + step) % n
            if i != self.pos and self.items[i].sentence_id not in self.decided:
                return i
        return None

    def action_next_open(self) -> None:
        i = self._next_open()
        if i is None:
            self.notify("Every sentence is reviewed.", timeout=3)
        else:
            self.load(i)

    def _advance(self) -> None:
        i = self._next_open()
        if i is None:
            self.notify("Every sentence is reviewed. 🎉 (j/k browse, q quits)", timeout=5)
            return
        self.load(i)

    def action_scroll_versions(self, direction: int) -> None:
        panel = self.query_one("#versions", VerticalScroll)
        step = max(1, panel.size.height - 1)
        panel.scroll_relative(y=direction * step, animate=False)

    # ---------------------------------------------------------------- help, quit

    def action_help(self) -> None:
        keys = self.review_app.keymap_overrides
        claims, add, delete = editor_keys(keys)
        stances = "/".join(stance_key_map(self.review_app.schema.stances, keys))
        extra = [
            ("≠ red", "a claim or stance not shared by every annotator who labelled the sentence"),
            (f"edit: {claims}", "toggle claim type n"),
            (
                f"edit: {add}, {delete}",
                f"add a stance (claim, actor, then {stances}), delete the highlighted one",
            ),
            ("edit: Enter, Esc", "keep the labels as gold, cancel"),
        ]
        bindings = [b for b in self.BINDINGS if isinstance(b, Binding)]
        self.app.push_screen(HelpScreen(bindings, {}, extra))

    async def action_quit(self) -> None:
        await self.review_app.action_quit()

    @property
    def summary(self) -> dict[str, Any]:
        """For tests: what the screen shows, as data."""
        return {
            "sentence": self.sentence.id if self.sentence else None,
            "versions": [v.annotator for v in self.versions],
            "copies": {
                v.annotator: v.sentence_id for v in self.versions if v.sentence_id in self.copies
            },
            "disputed_claims": sorted(self.disputed.claims),
            "disputed_stances": sorted((s.claim, s.actor, s.stance) for s in self.disputed.stances),
            "gold": None if self.gold is None else self.gold.status,
        }
