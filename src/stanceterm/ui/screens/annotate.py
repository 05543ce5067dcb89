"""The annotation screen: one sentence, its claims and stances, one key per frequent action."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from stanceterm.store import Annotation, Article, Sentence, Stance, Store
from stanceterm.ui.dialogs.actor_picker import ActorChoice, ActorPicker
from stanceterm.ui.dialogs.prompts import (
    ClaimChooser,
    ClusterDialog,
    NoteDialog,
    SearchDialog,
    StancePrompt,
    stance_keys,
)
from stanceterm.ui.screens.help import HelpScreen
from stanceterm.ui.text import one_line, visible
from stanceterm.ui.widgets.claim_bar import ClaimBar
from stanceterm.ui.widgets.progress import Progress, ProgressLine
from stanceterm.ui.widgets.sentence_view import SentenceView, article_line
from stanceterm.ui.widgets.stance_table import StanceTable

if TYPE_CHECKING:
    from stanceterm.ui.app import StanceApp

try:  # the normalisation used for sentences.norm at import time
    from stanceterm.segment import match_key as _match_key
except ImportError:  # pragma: no cover - segment.py not there yet

    def _match_key(text: str) -> str:
        return " ".join(text.casefold().split())


#: Actions that change labels: greyed out while an undo is being applied.
LABEL_ACTIONS = frozenset(
    {
        "toggle_claim",
        "no_claim",
        "accept",
        "add_stance",
        "delete_stance",
        "skip",
        "flag",
        "note",
        "undo",
        "cluster",
    }
)
NOT_DONE = ("draft",)


def _claim_bindings() -> list[Binding]:
    out = []
    for n in range(1, 10):
        out.append(
            Binding(
                str(n),
                f"toggle_claim({n})",
                "claim",
                show=n == 1,
                key_display="1-9" if n == 1 else None,
                id=f"claim_{n}",
                tooltip=f"toggle claim type {n}",
            )
        )
    return out


class AnnotateScreen(Screen[None]):
    AUTO_FOCUS = ""  # nothing focused: every key reaches the screen

    #: Every key of the screen. Each binding has an id: ``[keys]`` in the config file maps
    #: these ids to other keys (``next = "j,down,space"``).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "next", "next", id="next", tooltip="next sentence"),
        Binding("k,up", "prev", "prev", show=False, id="prev", tooltip="previous sentence"),
        Binding(
            "g",
            "next_undone",
            "todo",
            show=False,
            id="next_undone",
            tooltip="next sentence I have not done",
        ),
        Binding(
            "slash",
            "search",
            "search",
            show=False,
            key_display="/",
            id="search",
            tooltip="search sentences by text",
        ),
        *_claim_bindings(),
        Binding(
            "0",
            "no_claim",
            "none",
            id="no_claim",
            tooltip="no claim: done with no claims and no stances, and advance",
        ),
        Binding(
            "enter",
            "accept",
            "done",
            id="accept",
            tooltip="accept as done and go to the next sentence not done",
        ),
        Binding(
            "a",
            "add_stance",
            "stance",
            id="add_stance",
            tooltip="add a stance (claim, then actor, then s/o/n)",
        ),
        Binding(
            "d",
            "delete_stance",
            "del",
            show=False,
            id="delete_stance",
            tooltip="delete the highlighted stance row",
        ),
        Binding("x", "skip", "skip", id="skip", tooltip="skip: missing data (not 'no claim')"),
        Binding("f", "flag", "flag", show=False, id="flag", tooltip="flag for discussion"),
        Binding("m", "note", "note", show=False, id="note", tooltip="write a note"),
        Binding("u", "undo", "undo", id="undo", tooltip="undo my last change (repeatable)"),
        Binding(
            "c",
            "cluster",
            "copies",
            id="cluster",
            tooltip="list the copies of this sentence in other articles; split one out",
        ),
        Binding(
            "f1,G",
            "guidelines",
            "guide",
            show=False,
            id="guidelines",
            tooltip="show or hide the guidelines of the claim types",
        ),
        Binding("question_mark", "help", "help", key_display="?", id="help", tooltip="this help"),
        Binding("q", "quit", "quit", id="quit", tooltip="quit (waits for pending writes)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sentence: Sentence | None = None
        self.article: Article | None = None
        self.ann: Annotation | None = None
        self.stored = False  # does a row exist for (sentence, annotator)?
        self.cluster: tuple[int, int] | None = None
        self.progress = Progress()
        self.undo_in_flight = 0
        self._articles: dict[str, Article | None] = {}
        self._first_shown = False

    @property
    def stance_app(self) -> StanceApp:
        return cast("StanceApp", self.app)

    @property
    def store(self) -> Store:
        return self.stance_app.store

    @property
    def annotator(self) -> str:
        return self.stance_app.annotator

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        schema = self.stance_app.schema
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield Static(id="topbar")
                yield Static(id="article")
                yield SentenceView(id="sentence")
                yield Static(id="status")
                yield ClaimBar(schema, id="claims")
                yield StanceTable(id="stances")
                yield Static(id="others")
                yield ProgressLine(id="progress")
            with VerticalScroll(id="guidelines", can_focus=False):
                yield Static(self._guidelines_text())
        yield Footer(compact=True, show_command_palette=False)

    def _guidelines_text(self) -> Text:
        schema = self.stance_app.schema
        t = Text()
        t.append(f"Guidelines — {visible(schema.name)}\n", style="bold")
        for c in sorted(schema.claims, key=lambda c: c.key):
            t.append(f"\n{c.key} {c.id}", style="bold")
            if c.label:
                t.append(f" — {visible(c.label)}")
            t.append("\n")
            if c.description:
                t.append(visible(c.description) + "\n", style="italic")
            if c.guidelines:
                t.append(visible(c.guidelines) + "\n")
        keys = stance_keys(schema.stances)
        t.append("\nStances: ", style="bold")
        t.append(", ".join(f"{k} {s}" for k, s in keys.items()) + "\n")
        return t

    def on_mount(self) -> None:
        self.query_one("#guidelines").display = False
        self.query_one("#others").display = self.stance_app.show_others
        self.query_one("#topbar", Static).update(
            Text.assemble(("stanceterm", "bold"), " · ", (visible(self.annotator), "bold"))
        )
        first = self.store.first(self.annotator, undone_only=True)
        if first is None:
            first = self.store.first(self.annotator)
            if first is not None:
                self.notify("Every sentence is done. Browse with j/k.", timeout=5)
        if first is None:
            self.query_one(SentenceView).show([], "No sentences: run `stanceterm import`.", [])
        else:
            self.load(first)
        self._recount()
        self.call_after_refresh(self._first_screen)

    def _first_screen(self) -> None:
        if not self._first_shown:
            self._first_shown = True
            hook = self.stance_app.on_first_screen
            if hook is not None:
                hook()

    # ---------------------------------------------------------------- state → widgets

    def load(self, sentence: Sentence) -> None:
        """Show ``sentence`` with this annotator's labels (pending ones if not yet committed)."""
        app = self.stance_app
        self.sentence = sentence
        if sentence.article_id not in self._articles:
            self._articles[sentence.article_id] = self.store.article(sentence.article_id)
        self.article = self._articles[sentence.article_id]
        pending = app.pending.get(sentence.id)
        if pending is not None:
            self.ann, self.stored = pending[1], True
        else:
            row = self.store.annotation(sentence.id, self.annotator)
            self.stored = row is not None
            self.ann = row or Annotation(sentence.id, self.annotator)
        self.cluster = self.store.cluster_size(sentence.cluster_id) if sentence.cluster_id else None
        prev, nxt = self.store.context(sentence)
        self.query_one(SentenceView).show(prev, sentence.text, nxt)
        n = self.article.n_sentences if self.article else 0
        self.query_one("#article", Static).update(article_line(self.article))
        top = Text.assemble(("stanceterm", "bold"), " · ", (visible(self.annotator), "bold"))
        top.append(f"  ·  sentence {sentence.idx + 1}/{n} of this article", style="dim")
        self.query_one("#topbar", Static).update(top)
        self._show_labels(keep=None)
        self._show_others()

    def _show_labels(self, keep: int | None) -> None:
        ann = self.ann
        if ann is None:
            return
        self.query_one(ClaimBar).set_claims(ann.claims)
        rows = [(s.claim, self.stance_app.display_actor(s.actor), s.stance) for s in ann.stances]
        self.query_one(StanceTable).show_rows(rows, keep)
        self._show_status()
        self.refresh_bindings()

    def _show_status(self) -> None:
        ann, app = self.ann, self.stance_app
        t = Text(no_wrap=True, overflow="ellipsis")
        if ann is None or self.sentence is None:
            self.query_one("#status", Static).update(t)
            return
        status = ann.status if self.stored else "new"
        style = {"done": "bold green", "flagged": "bold yellow", "skipped": "bold magenta"}
        t.append(f"● {status}", style=style.get(status, "bold"))
        if ann.status == "done" and self.stored and not ann.claims:
            t.append(" (no claim)")
        if ann.note:
            t.append(" · note: ")
            t.append(one_line(ann.note, 30), style="italic")
        if self.cluster is not None:
            members, articles = self.cluster
            others = articles - 1 if articles > 1 else members - 1
            unit = "article" if articles > 1 else "copy"
            t.append(f" · ≡ also in {others} {unit}{'s' if others != 1 else ''} (c)")
        if self.sentence.id in app.unsaved:
            t.append("  ⚠ NOT SAVED", style="bold reverse")
        self.query_one("#status", Static).update(t)

    def _show_others(self) -> None:
        if not self.stance_app.show_others or self.sentence is None:
            return
        t = Text(style="dim")
        for other in self.store.annotations_for(self.sentence.id):
            if other.annotator == self.annotator:
                continue
            if t:
                t.append("\n")
            t.append(f"{visible(other.annotator)}: {other.status}")
            if other.claims:
                t.append(" · " + ", ".join(other.claims))
            for s in other.stances:
                t.append(
                    f" · {s.claim}: {visible(self.stance_app.display_actor(s.actor))} {s.stance}"
                )
        if not t:
            t.append("no other annotator has labelled this sentence")
        self.query_one("#others", Static).update(t)

    def _show_progress(self) -> None:
        self.query_one(ProgressLine).show(
            self.progress, self.stance_app.schema.claim_ids, len(self.stance_app.unsaved)
        )

    def writes_changed(self) -> None:
        """A write finished (or failed): refresh the markers."""
        self._show_status()
        self._show_progress()

    # ---------------------------------------------------------------- key availability

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_claim":
            key = parameters[0] if parameters else None
            if not isinstance(key, int) or self.stance_app.schema.claim_by_key(key) is None:
                return False
        if action == "cluster" and (self.sentence is None or self.sentence.cluster_id is None):
            return False
        if action in LABEL_ACTIONS:
            if self.sentence is None or self.ann is None:
                return None
            if self.undo_in_flight and action != "undo":
                return None
        if action == "add_stance" and (self.ann is None or not self.ann.claims):
            return None
        if action == "delete_stance" and (self.ann is None or not self.ann.stances):
            return None
        return True

    # ---------------------------------------------------------------- writes

    def _set(
        self,
        ann: Annotation,
        action: str,
        *,
        keep: int | None = None,
        t0: float | None = None,
    ) -> None:
        """Show ``ann`` now and queue it for the store."""
        self.ann, self.stored = ann, True
        self.stance_app.save(ann, action, done=self._committed, t0=t0)
        self._show_labels(keep)

    def _labels_changed(
        self, claims: tuple[str, ...], stances: tuple[Stance, ...], action: str, t0: float
    ) -> None:
        ann = self.ann
        assert ann is not None
        keep_status = self.stored and ann.status in ("done", "flagged")
        status = ann.status if keep_status else "draft"
        self._set(replace(ann, status=status, claims=claims, stances=stances), action, t0=t0)

    def _committed(self, result: tuple[Annotation | None, Annotation]) -> None:
        """A save reached the DB: update the counts from the real before/after states."""
        before, after = result
        p = self.progress
        was = before is not None and before.status not in NOT_DONE
        now = after.status not in NOT_DONE
        if now and not was:
            p.done += 1
            p.completed()
        elif was and not now:
            p.done -= 1
        own_before = () if before is None or before.propagated_from else before.claims
        for c in own_before:
            p.claims[c] = p.claims.get(c, 0) - 1
        for c in after.claims:
            p.claims[c] = p.claims.get(c, 0) + 1
        self._show_progress()

    def _recount(self) -> None:
        """Recount progress in the writer (so it sees every earlier write)."""
        from stanceterm.ui.app import Job

        annotator = self.annotator

        def run(store: Store) -> tuple[int, int, dict[str, int]]:
            return (
                store.queue_size(annotator),
                store.done_count(annotator),
                store.claim_counts(annotator),
            )

        def done(result: tuple[int, int, dict[str, int]]) -> None:
            self.progress.total, self.progress.done, self.progress.claims = result
            self._show_progress()

        self.stance_app.submit(Job(run, "count", None, done))

    # ---------------------------------------------------------------- navigation

    def _go(self, sentence: Sentence | None, none_message: str) -> None:
        if sentence is None:
            self.notify(none_message, timeout=3)
            return
        self.load(sentence)

    def action_next(self) -> None:
        if self.sentence is not None:
            self._go(
                self.store.step(self.sentence.seq, 1, annotator=self.annotator), "Last sentence."
            )

    def action_prev(self) -> None:
        if self.sentence is not None:
            self._go(
                self.store.step(self.sentence.seq, -1, annotator=self.annotator), "First sentence."
            )

    def _next_undone(self) -> Sentence | None:
        """The next sentence (wrapping) this annotator has not done, counting pending writes."""
        pending = self.stance_app.pending
        start = self.sentence.seq if self.sentence is not None else -1
        seq, wrapped = start, False
        while True:
            found = self.store.step(seq, 1, annotator=self.annotator, undone_only=True)
            if found is None:
                if wrapped:
                    return None
                wrapped, seq = True, -1
                continue
            if wrapped and found.seq >= start:
                return None
            entry = pending.get(found.id)
            fresh = entry is None or entry[1].status in NOT_DONE
            if fresh and (self.sentence is None or found.id != self.sentence.id):
                return found
            seq = found.seq

    def action_next_undone(self) -> None:
        self._go(self._next_undone(), "Every sentence is done.")

    def _advance(self) -> None:
        nxt = self._next_undone()
        if nxt is None:
            self.notify("Every sentence is done. 🎉", timeout=5)
            return
        self.load(nxt)

    def action_search(self) -> None:
        def found(query: str | None) -> None:
            if not query or not query.strip():
                return
            after = self.sentence.seq if self.sentence else -1
            hit = self.store.search(_match_key(query), after, self.annotator)
            if hit is None:
                self.notify(f"No sentence contains « {query} ».", markup=False, timeout=3)
            else:
                self.load(hit)

        self.app.push_screen(SearchDialog(), found)

    def jump_to(self, sentence_id: str) -> None:
        sentence = self.store.sentence(sentence_id)
        if sentence is not None:
            self.load(sentence)

    # ---------------------------------------------------------------- labels

    def action_toggle_claim(self, key: int) -> None:
        t0 = time.perf_counter()
        claim = self.stance_app.schema.claim_by_key(key)
        if claim is None or self.ann is None:
            return
        ann = self.ann
        if claim.id in ann.claims:
            claims = tuple(c for c in ann.claims if c != claim.id)
            stances = tuple(s for s in ann.stances if s.claim != claim.id)
        else:
            claims = tuple(self.stance_app.schema.order_claims([*ann.claims, claim.id]))
            stances = ann.stances
        self._labels_changed(claims, stances, "claims", t0)

    def on_claim_bar_toggled(self, message: ClaimBar.Toggled) -> None:
        if self.check_action("toggle_claim", (message.key,)):
            self.action_toggle_claim(message.key)

    def action_no_claim(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        self._set(replace(self.ann, status="done", claims=(), stances=()), "no_claim", t0=t0)
        self._advance()

    def action_accept(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        self._set(replace(self.ann, status="done"), "done", t0=t0)
        self._advance()

    def action_skip(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        self._set(replace(self.ann, status="skipped"), "skip", t0=t0)
        self._advance()

    def action_flag(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        self._set(replace(self.ann, status="flagged"), "flag", t0=t0)
        self._advance()

    def action_note(self) -> None:
        if self.ann is None:
            return
        sentence_id = self.ann.sentence_id

        def written(note: str | None) -> None:
            if note is None or self.ann is None or self.ann.sentence_id != sentence_id:
                return
            ann = self.ann
            status = ann.status if self.stored else "draft"
            self._set(replace(ann, status=status, note=note or None), "note")

        self.app.push_screen(NoteDialog(self.ann.note), written)

    def action_delete_stance(self) -> None:
        t0 = time.perf_counter()
        table = self.query_one(StanceTable)
        row = table.highlighted
        if self.ann is None or row is None or row >= len(self.ann.stances):
            return
        stances = self.ann.stances[:row] + self.ann.stances[row + 1 :]
        self._labels_changed(self.ann.claims, stances, "stance", t0)
        self.query_one(StanceTable).show_rows(
            [(s.claim, self.stance_app.display_actor(s.actor), s.stance) for s in stances], row
        )

    def action_add_stance(self) -> None:
        if self.ann is None or not self.ann.claims:
            return
        sentence_id = self.ann.sentence_id
        schema = self.stance_app.schema
        tagged = [
            (c.key, c.id)
            for c in sorted(schema.claims, key=lambda c: c.key)
            if c.id in self.ann.claims
        ]

        def claim_chosen(claim: str | None) -> None:
            if claim is None:
                return
            picker = ActorPicker(
                self.sentence.text if self.sentence else "",
                self.store.alias_map(),
                self.stance_app.store.actor_names(),
                claim,
            )
            self.app.push_screen(picker, lambda choice: actor_chosen(claim, choice))

        def actor_chosen(claim: str, choice: ActorChoice | None) -> None:
            if choice is None:
                return
            if choice.actor_id is None:
                actor_id = self.stance_app.create_actor(choice.name, self._actor_created)
            else:
                actor_id = choice.actor_id
            self.app.push_screen(
                StancePrompt(choice.name, claim, schema.stances),
                lambda stance: stance_chosen(claim, actor_id, stance),
            )

        def stance_chosen(claim: str, actor_id: str, stance: str | None) -> None:
            t0 = time.perf_counter()
            ann = self.ann
            if stance is None or ann is None or ann.sentence_id != sentence_id:
                return
            new = Stance(claim, actor_id, stance)
            kept = [s for s in ann.stances if not (s.claim == claim and s.actor == actor_id)]
            stances = (*kept, new)
            self._labels_changed(ann.claims, stances, "stance", t0)
            self.query_one(StanceTable).show_rows(
                [(s.claim, self.stance_app.display_actor(s.actor), s.stance) for s in stances],
                len(stances) - 1,
            )

        if len(tagged) == 1:
            claim_chosen(tagged[0][1])
        else:
            self.app.push_screen(ClaimChooser(tagged), claim_chosen)

    def _actor_created(self, provisional: str, real: str) -> None:
        from stanceterm.ui.app import replace_actor

        if self.ann is not None:
            self.ann = replace_actor(self.ann, provisional, real)
        self._show_labels(keep=self.query_one(StanceTable).highlighted)

    # ---------------------------------------------------------------- undo, cluster, panels

    def action_undo(self) -> None:
        from stanceterm.ui.app import Job

        annotator = self.annotator
        self.undo_in_flight += 1
        self.refresh_bindings()

        def run(store: Store) -> tuple[str | None, tuple[int, int, dict[str, int]]]:
            sid = store.undo(annotator)
            counts = (
                store.queue_size(annotator),
                store.done_count(annotator),
                store.claim_counts(annotator),
            )
            return sid, counts

        def done(result: tuple[str | None, tuple[int, int, dict[str, int]]]) -> None:
            self.undo_in_flight -= 1
            sid, counts = result
            self.progress.total, self.progress.done, self.progress.claims = counts
            if sid is None:
                self.notify("Nothing to undo.", timeout=3)
            else:
                self.jump_to(sid)
            self._show_progress()
            self.refresh_bindings()

        def failed(_error: str) -> None:
            self.undo_in_flight -= 1
            self.refresh_bindings()

        self.stance_app.submit(Job(run, "undo", None, done, failed=failed))

    def action_cluster(self) -> None:
        from stanceterm.ui.app import Job

        sentence = self.sentence
        if sentence is None or sentence.cluster_id is None:
            return
        members = self.store.cluster_members(sentence.cluster_id)
        annotator = self.annotator

        def chosen(member_id: str | None) -> None:
            if member_id is None:
                return

            def done(withdrawn: int) -> None:
                self.notify(
                    f"Split out of its cluster; {withdrawn} propagated label(s) withdrawn.",
                    timeout=4,
                )
                self.jump_to(sentence.id)

            self.stance_app.submit(
                Job(lambda store: store.split_sentence(member_id, annotator), "split", None, done)
            )

        self.app.push_screen(ClusterDialog(members, sentence.id), chosen)

    def action_guidelines(self) -> None:
        panel = self.query_one("#guidelines")
        panel.display = not panel.display

    def action_help(self) -> None:
        stances = stance_keys(self.stance_app.schema.stances)
        extra = [
            (
                ", ".join(stances),
                "after `a` and an actor: " + ", ".join(f"{k} {s}" for k, s in stances.items()),
            ),
            ("1-9", "after `a` with several claims tagged: which claim"),
            ("↑, ↓, Enter", "actor picker: move, take the highlighted actor or create the name"),
            ("Tab", "focus the stance table (↑/↓ pick a row for d; Esc back)"),
            ("ctrl+s, Esc", "note: save, cancel"),
            ("s", "copies list (c): split the highlighted copy out of the cluster"),
        ]
        self.app.push_screen(
            HelpScreen(self._all_bindings(), self.stance_app.keymap_overrides, extra)
        )

    def _all_bindings(self) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding)]

    async def action_quit(self) -> None:
        await self.stance_app.action_quit()

    @property
    def current_text(self) -> str:
        return self.query_one(SentenceView).current_text
