"""The annotation screen: one sentence, its claims and stances, one key per frequent action.

Size: over 600 lines because it is one screen's state, and its parts share it (the
sentence shown, its optimistic label, the counts): navigation and resume, label writes, the
progress counts kept in step with the writes (a snapshot count plus the commits since), and the
team's live progress. What is not this state lives elsewhere: the keys in
:mod:`stanceterm.ui.keymap`, the label editor (claims, stances, the claim → actor → stance flow)
in :mod:`stanceterm.ui.widgets.label_editor`, the writes in :mod:`stanceterm.ui.writer`.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar, cast

import orjson
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.notifications import Notification, Notify
from textual.screen import Screen
from textual.widgets import Static

from stanceterm.store import Annotation, Article, Sentence, Stance, Store
from stanceterm.suggest import (
    LiveSuggestions,
    Shown,
    boost_counts,
    suggestion_record,
    uncertain_order,
)
from stanceterm.ui import keymap
from stanceterm.ui.base import StoreApp
from stanceterm.ui.dialogs.prompts import ClusterDialog, NoteDialog, SearchDialog
from stanceterm.ui.keymap import configurable_bindings, effective_keys, key_display, stance_key_map
from stanceterm.ui.progress_model import Progress, TeamProgress
from stanceterm.ui.screens.help import HelpScreen
from stanceterm.ui.text import one_line, visible
from stanceterm.ui.widgets.claim_bar import ClaimBar
from stanceterm.ui.widgets.footer import KeyFooter
from stanceterm.ui.widgets.label_editor import LabelEditor, allowed, with_stance
from stanceterm.ui.widgets.line import Line
from stanceterm.ui.widgets.progress import ProgressLine
from stanceterm.ui.widgets.sentence_view import (
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    SentenceView,
    article_line,
)
from stanceterm.ui.widgets.team import TeamLine, TeamTable
from stanceterm.ui.writer import SAVING_AFTER_S, Job, WritesChanged, replace_actor
from stanceterm.wording import count

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
        "accept_suggestions",
    }
)
#: Suggestions are computed this many sentences ahead of the one on screen (off the UI thread),
#: and again when fewer than SUGGEST_MARGIN of them are left ahead.
SUGGEST_AHEAD = 30
SUGGEST_MARGIN = 10
#: Seconds between two looks for a newer model file (a stat).
SUGGEST_REFRESH_S = 5.0
#: Seconds between two counts of (claim, actor) uses for the picker's boost (a full scan).
ACTOR_COUNTS_EVERY_S = 60.0
NOT_DONE = ("draft",)
#: The first screen looks for the sentence to resume at among this many sequence numbers after
#: the resume hint; further on, the background check finds it (startup, issue 17).
RESUME_WINDOW = 2000
#: The team table also needs every visible sentence's count (the queue of the annotators without
#: assignments): a full count, so only this often.
VISIBLE_TOTAL_EVERY_S = 60.0


def _is_done(ann: Annotation | None) -> bool:
    return ann is not None and ann.status not in NOT_DONE


#: Key of the claims-count delta that carries the change in labels with status ``done`` (the
#: progress line shows finished vs done); never a claim id (claim ids are identifiers).
LABELLED = " done"


def _labelled(ann: Annotation | None) -> int:
    return int(ann is not None and ann.status == "done")


def _delta(before: Annotation | None, after: Annotation | None) -> tuple[int, dict[str, int]]:
    """How a change moves the progress counts: (finished, claim id -> count, and
    :data:`LABELLED` -> the change in ``done`` labels)."""
    done = int(_is_done(after)) - int(_is_done(before))
    claims: dict[str, int] = {LABELLED: _labelled(after) - _labelled(before)}
    for state, sign in ((before, -1), (after, 1)):
        if state is None or state.propagated_from:
            continue
        for c in state.claims:
            claims[c] = claims.get(c, 0) + sign
    return done, claims


def _with_labelled(store: Store, annotator: str) -> tuple[int, int, dict[str, int]]:
    """The progress counts, with the ``done`` labels under :data:`LABELLED` (one snapshot)."""
    total, finished, claims = store.team.progress_counts(annotator)
    return total, finished, {**claims, LABELLED: store.team.status_count(annotator, "done")}


def describe_undo(
    undone: Annotation | None, restored: Annotation | None, actor: Callable[[str], str]
) -> str:
    """What an undone change had done, from the state it left (``undone``) and the state the undo
    brought back (``restored``): "stance la Russie support on denial"."""
    new_claims = undone.claims if undone else ()
    old_claims = restored.claims if restored else ()
    new_stances = undone.stances if undone else ()
    old_stances = restored.stances if restored else ()
    parts = [f"claim {c}" for c in new_claims if c not in old_claims]
    parts += [f"removed claim {c}" for c in old_claims if c not in new_claims]

    def show(s: Stance) -> str:
        return f"{actor(s.actor)} {s.stance} on {s.claim}"

    parts += [f"stance {show(s)}" for s in new_stances if s not in old_stances]
    parts += [f"removed stance {show(s)}" for s in old_stances if s not in new_stances]
    new_status = undone.status if undone else None
    if new_status != (restored.status if restored else None) and new_status in STATUS_WORDS:
        parts.append(STATUS_WORDS[new_status])
    if (undone.note if undone else None) != (restored.note if restored else None):
        parts.append("note")
    if len(parts) > 4:
        parts = [*parts[:4], "…"]
    return ", ".join(parts) or "a change"


STATUS_WORDS = {"done": "done", "skipped": "skip", "flagged": "flag", "draft": "reopen"}


class AnnotateScreen(Screen[None]):
    AUTO_FOCUS = ""  # nothing focused: every key reaches the screen

    #: Every key of the screen (ids for ``[keys]``: see :mod:`stanceterm.ui.keymap`).
    BINDINGS: ClassVar[list[BindingType]] = keymap.ANNOTATE

    def __init__(
        self,
        *,
        show_others: bool = False,
        on_first_screen: Callable[[], None] | None = None,
        team_refresh: float = 3.0,
        suggestions: LiveSuggestions | None = None,
        order: str = "document",
    ) -> None:
        super().__init__()
        #: "document", or "uncertain": Enter / g walk the queue least sure first
        self.order = order
        self._uncertain: list[str] | None = None
        self._uncertain_pos: dict[str, int] = {}  # sentence id -> its place in that walk
        #: the last error of the suggestions worker (shown once, then on the status line)
        self._suggest_error: str | None = None
        #: with --order uncertain and no walk yet: why (shown in the top bar)
        self._order_note = "ranking the queue…"
        #: the claim model's suggestions (None: off); see :mod:`stanceterm.suggest`
        self.suggestions = suggestions
        self._suggest_reader: Store | None = None
        self._suggest_running = False
        self._suggest_again: int | None = None
        self._suggest_checked = False  # has the worker looked for a model once?
        self._model_file: bool | None = None  # was there a model file before that?
        self._suggest_until = -1  # compute more once the screen reaches this seq
        self._suggest_until_pos = -1  # ... or this place of the uncertain walk
        self._model_frozen = False  # the heap frozen again once the model is loaded
        #: sentences whose suggestions the annotator took with ``A`` in this session
        self._applied: set[str] = set()
        #: claim -> actor id -> uses (the picker's boost), counted in the background
        self._actor_counts: dict[str, dict[str, int]] = {}
        self._counts_at = -ACTOR_COUNTS_EVERY_S
        self._nudged: set[str] = set()  # hour (issue 15 §3): sentences already nudged
        #: toasts about the sentence on screen (the nudges): they go when the sentence changes
        self._sentence_toasts: list[Notification] = []
        self._a_warned: set[str] = set()  # sentences where A said what it would drop
        self.show_others = show_others
        self.on_first_screen = on_first_screen
        #: seconds between two reads of the team's progress (off the UI thread)
        self.team_refresh = team_refresh
        self.sentence: Sentence | None = None
        self.article: Article | None = None
        self.ann: Annotation | None = None
        self.stored = False  # does a row exist for (sentence, annotator)?
        self.cluster: tuple[int, int] | None = None
        self.progress = Progress()
        self.undo_in_flight = 0
        self._articles: dict[str, Article | None] = {}
        self._first_shown = False
        #: progress moves (done, claims) committed since the snapshot of a count in progress
        self._since_snapshot: tuple[int, dict[str, int]] | None = None
        self._count_token = 0
        self.counting = False
        #: resume: the sentence first shown, whether the user acted since, and how many times
        #: a sentence before the resume hint became not done during this session
        self._resume_seq: int | None = None
        #: the first screen shows a stand-in until the background check finds where to resume
        self._resume_pending = False
        self._acted = False
        self._lowered = 0
        self.checking_resume = False
        self.team = TeamProgress()
        self._team_reader: Store | None = None
        self._team_polling = False
        self._visible_total: int | None = None
        self._visible_at = -VISIBLE_TOTAL_EVERY_S
        self._closing = False
        #: the `/` search's reader connection (opened by the first search), and its lock
        self._search_reader: Store | None = None
        self._search_lock = threading.Lock()
        #: the last query searched (``n`` repeats it; the `/` prompt opens on it)
        self._last_query = ""

    @property
    def stance_app(self) -> StoreApp:
        return cast("StoreApp", self.app)

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
                yield Line(id="topbar")
                yield Line(id="article")
                yield SentenceView(id="sentence")
                yield Line(id="status")
                yield LabelEditor(
                    schema,
                    self.stance_app.keymap_overrides,
                    claims_id="claims",
                    stances_id="stances",
                )
                yield Static(id="others")
                yield TeamTable(id="team-table")
                yield ProgressLine(id="progress")
                yield TeamLine(id="team-line")
            with VerticalScroll(id="guidelines", can_focus=False):
                yield Static(self._guidelines_text())
        yield KeyFooter(compact=True, show_command_palette=False)

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
        keys = stance_key_map(schema.stances, self.stance_app.keymap_overrides)
        t.append("\nStances: ", style="bold")
        t.append(", ".join(f"{k} {s}" for k, s in keys.items()) + "\n")
        return t

    def on_mount(self) -> None:
        self.query_one("#guidelines").display = False
        self.query_one("#team-table").display = False
        self.query_one("#others").display = self.show_others
        self.query_one("#topbar", Line).show_text(
            Text.assemble(("stanceterm", "bold"), " · ", (visible(self.annotator), "bold"))
        )
        # Resume: search from the remembered lower bound (checked in the background below), so
        # the first screen does not wait for a walk over everything already done. The walk is
        # bounded (startup, issue 17): when the sentence to resume at is not within
        # RESUME_WINDOW of the hint (everything done, or no hint yet on a DB labelled
        # elsewhere), the first screen shows the queue's first sentence and the background
        # check finds the place (or says that every sentence is done).
        first = self.store.team.first_undone_from(
            self.annotator, self.store.team.resume_hint(self.annotator), within=RESUME_WINDOW
        )
        self._resume_pending = first is None
        if first is None:
            first = self.store.corpus.first(self.annotator)
        self._resume_seq = None if first is None else first.seq
        if first is None:
            self.query_one(SentenceView).show([], "No sentences: run `stanceterm import`.", [])
        else:
            self.load(first)
        self._acted = False
        self._show_progress()
        self._show_team()
        self.call_after_refresh(self._paint_first_frame)

    def _paint_first_frame(self) -> None:
        """Paint the whole screen now, and start what waits for the first paint only once that
        frame has been written. Textual composes the first screen inside its start-up batch,
        which drops that frame (its compositor still takes it as shown, so the next updates
        carry only what changed since), and runs the callbacks queued then straight after the
        batch, before any frame (startup, issue 17). The background work started there (the
        trainer process, the counts, the worker that loads numpy) delayed the first frame, and
        the top bar came only with the footer's later layout. Repainting every child puts the
        whole screen in the first update after the batch."""
        for child in self.children:
            child.refresh()
        self.call_after_refresh(self._first_screen)

    def _first_screen(self) -> None:
        if self._first_shown:
            return
        self._first_shown = True
        hook = self.on_first_screen
        if hook is not None:
            hook()
        # after the first paint: the counts, the resume check and the team's progress
        self._recount()
        self.checking_resume = True
        self._verify_resume(self._resume_seq, self._lowered)
        self._poll_team()
        self.set_interval(self.team_refresh, self._poll_team)
        self._freeze_heap()
        if self.suggestions is not None:
            # startup (issue 17): the first worker loads numpy and the model, and holds the GIL
            # while it does; it starts after the first paint, not from on_mount's load()
            self._want_suggestions()
            self.set_interval(SUGGEST_REFRESH_S, self._refresh_suggestions)
            if self.order == "uncertain":
                self._order_worker()

    def _freeze_heap(self) -> None:
        """Move every object alive now (the app, its widgets and stylesheet, the store; later
        numpy and the claim model) out of the garbage collector's generations: its full
        collections then walk only what the session made since. Before, one of them paused a
        keypress for about 0.1 s every few dozen keys (issue 18: keypress p95)."""
        gc.freeze()

    def on_unmount(self) -> None:
        self._closing = True
        reader, self._team_reader = self._team_reader, None
        if reader is not None and not self._team_polling:
            reader.close()
        reader, self._suggest_reader = self._suggest_reader, None
        if reader is not None and not self._suggest_running:
            reader.close()
        self._close_search_reader(wait=False)  # a search in progress closes it when done

    def on_key(self, event: events.Key) -> None:
        # hour (issue 15 §3): `a` is greyed out until a claim is tagged; pressed anyway, it says
        # what to do first instead of nothing
        if self.ann is None or self.ann.claims or self.undo_in_flight:
            return
        for b in self._all_bindings():
            if b.id == "add_stance" and event.key in effective_keys(
                b, self.stance_app.keymap_overrides
            ):
                # hour2: not at once. Keys typed in one burst ("1a", a fast typist or tmux): the
                # claim key's binding runs when its event reaches the app, after this handler;
                # the hint waits in the app's queue behind it, and the key goes on to its binding
                self.app.call_later(self._no_claim_hint, self.ann.sentence_id)
                return

    def _no_claim_hint(self, sentence_id: str) -> None:
        if self.ann is not None and self.ann.sentence_id == sentence_id and not self.ann.claims:
            self.action_add_stance()

    def key_for(self, binding_id: str) -> str:
        """The first key of a binding, after the keymap, as shown to the user."""
        for b in self._all_bindings():
            if b.id == binding_id:
                keys = effective_keys(b, self.stance_app.keymap_overrides)
                return key_display(keys[0]) if keys else "?"
        return "?"

    # ---------------------------------------------------------------- state → widgets

    def load(self, sentence: Sentence) -> None:
        """Show ``sentence`` with this annotator's labels (pending ones if not yet committed)."""
        if self.sentence is None or self.sentence.id != sentence.id:
            self._dismiss_sentence_toasts()
        self._left_as_draft(sentence)
        app = self.stance_app
        if self.sentence is not None:
            self._acted = True
        self.sentence = sentence
        if sentence.article_id not in self._articles:
            self._articles[sentence.article_id] = self.store.corpus.article(sentence.article_id)
        self.article = self._articles[sentence.article_id]
        pending = app.pending.get(sentence.id)
        if pending is not None:
            self.ann, self.stored = pending[1], True
        else:
            row = self.store.labels.get(sentence.id, self.annotator)
            self.stored = row is not None
            self.ann = row or Annotation(sentence.id, self.annotator)
        self.cluster = (
            self.store.clusters.size(sentence.cluster_id) if sentence.cluster_id else None
        )
        prev, nxt = self.store.corpus.context(sentence, CONTEXT_BEFORE, CONTEXT_AFTER)
        self.query_one(SentenceView).show(prev, sentence.text, nxt)
        self.query_one("#article", Line).show_text(article_line(self.article))
        self._show_top()
        self._show_labels(keep=None)
        self._show_others()
        self._want_suggestions()

    def _notify_sentence(self, message: str, timeout: float) -> None:
        """A toast about the sentence on screen (plain text): it goes when the sentence changes,
        not at its timeout, so it never stays over the next sentence's bars."""
        toast = Notification(message, "", "information", timeout, markup=False)
        self._sentence_toasts.append(toast)
        self.app.post_message(Notify(toast))

    def _dismiss_sentence_toasts(self) -> None:
        toasts, self._sentence_toasts = self._sentence_toasts, []
        for toast in toasts:
            # the Notify message went to the app before any later key, so the toast is there
            # (or gone already at its timeout, then this does nothing)
            self.app._unnotify(toast)

    def _show_top(self) -> None:
        """The top bar: who annotates, where in the article, and with ``--order uncertain``
        the order and the place in its walk (or why the walk is not there)."""
        top = Text.assemble(("stanceterm", "bold"), " · ", (visible(self.annotator), "bold"))
        sentence = self.sentence
        if sentence is not None:
            n = self.article.n_sentences if self.article else 0
            top.append(f"  ·  sentence {sentence.idx + 1}/{n} of this article", style="dim")
        if self.order == "uncertain":
            if self._uncertain is not None:
                pos = self._uncertain_pos.get(sentence.id) if sentence is not None else None
                where = "" if pos is None else f" {pos + 1}/{len(self._uncertain)}"
                top.append(f"  ·  least sure first{where}", style="bold")
            else:
                top.append(f"  ·  uncertain order: {self._order_note}", style="dim")
        self.query_one("#topbar", Line).show_text(top)

    def _left_as_draft(self, going_to: Sentence) -> None:
        """Leaving a sentence changed but not accepted says it stays a draft (issue 12 §6)."""
        old, ann = self.sentence, self.ann
        if old is None or ann is None or old.id == going_to.id:
            return
        if self.stored and ann.status == "draft":
            self.notify(
                f"sentence {old.idx + 1} left as a draft: not finished and not exported; "
                f"come back and press {self.key_for('accept')} to accept it",
                timeout=4,
                markup=False,
            )

    def _show_labels(self, keep: int | None) -> None:
        ann = self.ann
        if ann is None:
            return
        self.query_one(LabelEditor).show(
            ann.claims,
            ann.stances,
            keep,
            self._suggested_marks(),
            pending=self._suggestion_pending(),
        )
        self._show_status()
        self.refresh_bindings()

    def _show_status(self) -> None:
        ann, app = self.ann, self.stance_app
        t = Text(no_wrap=True, overflow="ellipsis")
        if ann is None or self.sentence is None:
            self.query_one("#status", Line).show_text(t)
            return
        status = ann.status if self.stored else "new"
        style = {"done": "bold green", "flagged": "bold yellow", "skipped": "bold magenta"}
        t.append(f"● {status}", style=style.get(status, "bold"))
        if status == "draft":  # issue 12 §6 / 15 §3: a draft is not finished, say so
            t.append(
                f" — not finished: {self.key_for('accept')} accepts; leaving keeps a draft",
                style="yellow",
            )
        if ann.status == "done" and self.stored and not ann.claims:
            t.append(" (no claim)")
        hint = self._suggestion_hint()
        if hint is not None:
            t.append(" · ")
            t.append(hint, style="italic")
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
        elif app.writer.saving(self.sentence.id):
            t.append("  saving…", style="bold yellow")
        self.query_one("#status", Line).show_text(t)

    def _show_others(self) -> None:
        if not self.show_others or self.sentence is None:
            return
        t = Text(style="dim")
        for other in self.store.labels.for_sentence(self.sentence.id):
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

    def on_writes_changed(self, _message: WritesChanged) -> None:
        """A write finished (or failed): refresh the markers."""
        self._show_status()
        self._show_progress()

    # ---------------------------------------------------------------- key availability

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_claim" and not self._editor_allows(action, parameters):
            return False
        if action == "cluster" and (self.sentence is None or self.sentence.cluster_id is None):
            return False
        if action in LABEL_ACTIONS:
            if self.sentence is None or self.ann is None:
                return None
            if self.undo_in_flight and action != "undo":
                return None
        if action in ("add_stance", "delete_stance"):
            return self._editor_allows(action, parameters)
        return True

    def _editor_allows(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        labels = None if self.ann is None else (self.ann.claims, self.ann.stances)
        return allowed(self.stance_app.schema, action, parameters, labels)

    # ---------------------------------------------------------------- writes

    def _set(
        self,
        ann: Annotation,
        action: str,
        *,
        keep: int | None = None,
        t0: float | None = None,
        show: bool = True,
    ) -> None:
        """Show ``ann`` now (unless not ``show``: the caller shows another sentence at once) and
        queue it for the store."""
        self._acted = True
        ann = self._with_provenance(ann)
        self.ann, self.stored = ann, True
        self.stance_app.save(ann, action, done=self._committed, t0=t0)
        if show:
            self._show_labels(keep)
        # a write still waiting (another process holds the lock) is shown as "saving…"
        self.set_timer(SAVING_AFTER_S + 0.05, self._show_status)

    def _finish(self, ann: Annotation, action: str, t0: float) -> None:
        """Save ``ann`` and go on to the next sentence not done. Its labels are painted once,
        for the sentence shown next (or for this one, when every sentence is done): painting
        them here first would restyle the claim bar twice per key (issue 18: key latency)."""
        self._set(ann, action, t0=t0, show=False)
        if not self._advance():
            self._show_labels(keep=None)

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
        if _is_done(after) and not _is_done(before):
            self.progress.completed()
        self._moved(before, after)

    def _moved(self, before: Annotation | None, after: Annotation | None) -> None:
        """Apply a committed change to the progress counts (and remember it while a count is
        running on an older snapshot); a sentence that stops being done lowers the resume hint."""
        done, claims = _delta(before, after)
        for target in (self._apply_to_progress, self._apply_to_since):
            target(done, claims)
        state = after or before
        if state is not None and _is_done(before) and not _is_done(after):
            self._lower_hint(state.sentence_id)
        self._show_progress()

    def _apply_to_progress(self, done: int, claims: Mapping[str, int]) -> None:
        p = self.progress
        p.done += done
        for c, n in claims.items():
            if c == LABELLED:
                p.labelled += n
                continue
            p.claims[c] = p.claims.get(c, 0) + n

    def _apply_to_since(self, done: int, claims: Mapping[str, int]) -> None:
        if self._since_snapshot is None:
            return
        d, cl = self._since_snapshot
        for c, n in claims.items():
            cl[c] = cl.get(c, 0) + n
        self._since_snapshot = (d + done, cl)

    def _lower_hint(self, sentence_id: str) -> None:
        """A sentence became not done: the resume hint must not lie past it."""
        sentence = self.store.corpus.sentence(sentence_id)
        if sentence is None:
            return
        annotator, seq = self.annotator, sentence.seq
        self._lowered += 1

        def run(store: Store) -> None:
            if seq < store.team.resume_hint(annotator):
                store.team.set_resume_hint(annotator, seq)

        self.stance_app.submit(Job(run, "resume hint", None))

    def _recount(self) -> None:
        """Recount progress. The count sees every earlier write: on a second connection, from a
        snapshot pinned by the writer (so in order with the writes) and read in a background
        thread, so neither the UI nor the writes wait for it; commits after the snapshot are
        added on top. Without a second connection (in-memory DB) it runs in the writer."""
        annotator = self.annotator
        self._count_token += 1
        token = self._count_token
        self.counting = True
        reader = self.store.open_reader()
        if reader is None:

            def count(store: Store) -> tuple[int, int, dict[str, int]]:
                return _with_labelled(store, annotator)

            def counted(result: tuple[int, int, dict[str, int]]) -> None:
                self._since_snapshot = (0, {})
                self._counted(token, result)

            self.stance_app.submit(Job(count, "count", None, counted))
            return

        def pin(_store: Store) -> None:
            reader.pin_snapshot()

        def pinned(_result: None) -> None:
            if token == self._count_token:
                self._since_snapshot = (0, {})
            self._count_worker(reader, token)

        def failed(error: str) -> None:
            reader.close()
            self.counting = False

        self.stance_app.submit(Job(pin, "count", None, pinned, failed=failed))

    @work(thread=True, group="counts", exit_on_error=False)
    def _count_worker(self, reader: Store, token: int) -> None:
        try:
            result: tuple[int, int, dict[str, int]] | str = _with_labelled(reader, self.annotator)
        except Exception as exc:  # shown, never fatal: the counts are only a display
            result = f"{type(exc).__name__}: {exc}"
        finally:
            reader.release_snapshot()
            reader.close()
        with contextlib.suppress(RuntimeError):  # the app has exited
            self.app.call_from_thread(self._counted, token, result)

    def _counted(self, token: int, result: tuple[int, int, dict[str, int]] | str) -> None:
        if token != self._count_token:
            return
        since, self._since_snapshot = self._since_snapshot or (0, {}), None
        self.counting = False
        if isinstance(result, str):
            self.notify(f"Could not count progress: {result}", severity="warning", markup=False)
            return
        p = self.progress
        p.total, p.done, claims = result
        p.claims = dict(claims)
        p.labelled = p.claims.pop(LABELLED, 0)
        self._apply_to_progress(*since)
        self._show_progress()

    # ---------------------------------------------------------------- resume hint

    @work(thread=True, group="resume", exit_on_error=False)
    def _verify_resume(self, shown_seq: int | None, lowered: int) -> None:
        """Check in the background that no sentence before the one resumed at is still to do
        (the hint may be stale: an undo in another session, a merge, a split); then record a
        fresh hint."""
        reader = self.store.open_reader()
        try:
            found = (reader or self.store).corpus.first(self.annotator, undone_only=True)
        except Exception:  # the check is a safety net; the hint stays as it was
            self.checking_resume = False
            return
        finally:
            if reader is not None:
                reader.close()
        with contextlib.suppress(RuntimeError):  # the app has exited
            self.app.call_from_thread(self._resume_verified, found, shown_seq, lowered)

    def _resume_verified(self, found: Sentence | None, shown_seq: int | None, lowered: int) -> None:
        self.checking_resume = False
        pending, self._resume_pending = self._resume_pending, False
        if found is None:
            if pending and shown_seq is not None:
                self.notify(
                    f"Every sentence is done. Browse with {self.key_for('next')}/"
                    f"{self.key_for('prev')}.",
                    timeout=5,
                )
            return
        # the first screen showed a stand-in (pending) or came from a stale hint (earlier)
        stand_in = pending and found.seq != shown_seq
        if shown_seq is not None and (found.seq < shown_seq or stand_in):
            if not self._acted:
                self.load(found)
                self._acted = False
            else:
                where = "An earlier" if found.seq < shown_seq else "A"
                self.notify(
                    f"{where} sentence is still to do: {self.key_for('next_undone')} "
                    "goes round to it.",
                    timeout=6,
                )
        annotator, seq, stale = self.annotator, found.seq, lowered != self._lowered

        def run(store: Store) -> None:
            hint = store.team.resume_hint(annotator)
            store.team.set_resume_hint(annotator, min(seq, hint) if stale else seq)

        self.stance_app.submit(Job(run, "resume hint", None))

    def _advance_hint(self) -> None:
        """On quit: move the hint up to the first sentence still to do (a short walk over what
        this session did)."""
        annotator = self.annotator

        def run(store: Store) -> None:
            hint = store.team.resume_hint(annotator)
            found = store.team.first_undone_from(annotator, hint)
            if found is not None and found.seq > hint:
                store.team.set_resume_hint(annotator, found.seq)

        self.stance_app.submit(Job(run, "resume hint", None))

    # ---------------------------------------------------------------- the team, live

    def _poll_team(self) -> None:
        if self._team_polling or self._closing:
            return
        self._team_polling = True
        now = time.monotonic()
        with_total = now - self._visible_at >= VISIBLE_TOTAL_EVERY_S
        if with_total:
            self._visible_at = now
        self._team_worker(with_total)

    @work(thread=True, group="team", exit_on_error=False)
    def _team_worker(self, with_total: bool) -> None:
        result: tuple[dict[str, dict[str, Any]], int | None] | str
        try:
            if self._team_reader is None:
                self._team_reader = self.store.open_reader()
            store = self._team_reader or self.store
            progress = store.team.progress_by_annotator()
            total = store.team.queue_size(None) if with_total else None
            result = (progress, total)
        except Exception as exc:
            result = f"{type(exc).__name__}: {exc}"
        try:
            self.app.call_from_thread(self._team_polled, result)
        except RuntimeError:
            self._team_polling = False

    def _team_polled(self, result: tuple[dict[str, dict[str, Any]], int | None] | str) -> None:
        self._team_polling = False
        if self._closing:
            if self._team_reader is not None:
                self._team_reader.close()
                self._team_reader = None
            return
        if isinstance(result, str):
            self.query_one(TeamLine).show_text(Text(f"team: cannot read progress: {result}"))
            return
        progress, total = result
        if total is not None:
            self._visible_total = total
        self.team.update(progress, self._visible_total)
        self._show_team()

    def _show_team(self) -> None:
        line = self.query_one(TeamLine)
        line.display = bool(self.team.others(self.annotator))  # alone: no line to spare
        line.show(self.team, self.annotator, self.key_for("team"))
        table = self.query_one(TeamTable)
        if table.display:
            table.show(self.team, self.annotator)

    def action_team(self) -> None:
        table = self.query_one(TeamTable)
        table.display = not table.display
        self._show_team()
        if table.display:
            self._poll_team()  # fresh figures now rather than at the next tick

    # ---------------------------------------------------------------- suggestions

    def shown(self) -> Shown | None:
        """The suggestion computed for the sentence on screen (None: none yet, or off)."""
        if self.suggestions is None or self.sentence is None:
            return None
        return self.suggestions.get(self.sentence.id)

    def _suggested_marks(self) -> dict[str, float]:
        shown = self.shown()
        if shown is None or shown.excluded:
            return {}
        return {c: shown.probs[c] for c in shown.claims}

    def _suggestion_pending(self) -> bool:
        """Is the suggestion for the unfinished sentence on screen still being computed? (The
        worker is busy elsewhere after fast moves, or loading the model; with no model file,
        or once the worker has looked and found no model, nothing is pending.)"""
        live, ann = self.suggestions, self.ann
        if live is None or ann is None or self._suggest_error is not None:
            return False
        if self.stored and ann.status != "draft":
            return False
        if live.model is None and (self._suggest_checked or not self._model_file_exists()):
            return False
        return self.shown() is None

    def _model_file_exists(self) -> bool:
        """Before the worker's first look: is there a model file (a stat, not the DB) to load?"""
        if self._model_file is None:
            path = self.suggestions.path if self.suggestions is not None else None
            self._model_file = path is not None and path.exists()
        return self._model_file

    def _suggestion_hint(self) -> str | None:
        """What ``A`` would take on this sentence (the claims, or "no claim", which has no ◌
        mark on the claim bar), or why there is no suggestion here; None once it is finished."""
        shown, ann = self.shown(), self.ann
        if shown is None and self._suggest_error is not None:
            error = self._suggest_error
            return f"◌ off: {error if len(error) <= 70 else error[:69] + '…'}"
        if self._suggestion_pending():
            return "◌ … (suggestions coming)"
        if shown is None or ann is None or (self.stored and ann.status != "draft"):
            return None
        if shown.excluded:
            return f"◌ none here: {shown.excluded.split(' (')[0]}"
        return f"◌ {self.key_for('accept_suggestions')}: {', '.join(shown.claims) or 'no claim'}"

    def _with_provenance(self, ann: Annotation) -> Annotation:
        """``ann`` with the suggestion shown for its sentence (if any) as its provenance."""
        if self.suggestions is None:
            return ann
        shown = self.suggestions.get(ann.sentence_id)
        if shown is None or shown.excluded:
            return ann
        before = suggestion_record(ann)
        applied = ann.sentence_id in self._applied or bool(before and before.get("applied"))
        record = shown.provenance(ann.claims, applied)
        return replace(ann, suggested=orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode())

    def _want_suggestions(self) -> None:
        sentence = self.sentence
        if self.suggestions is None or sentence is None or not self._first_shown:
            return
        if self._uncertain is not None:
            due = self._uncertain_pos.get(sentence.id, -1) >= self._suggest_until_pos
        else:
            due = sentence.seq >= self._suggest_until
        if self.suggestions.get(sentence.id) is None or due:
            self._start_suggest(sentence.seq)

    def _walk_ahead(self) -> tuple[int, list[str]] | None:
        """With ``--order uncertain``: (the sentence's place in the walk, the ids that follow
        it there): the sentences to compute ahead. None in document order."""
        if self._uncertain is None or self.sentence is None:
            return None
        pos = self._uncertain_pos.get(self.sentence.id, -1)
        return pos, self._uncertain[pos + 1 : pos + SUGGEST_AHEAD]

    def _refresh_suggestions(self) -> None:
        if self.sentence is not None:
            self._start_suggest(self.sentence.seq)

    def _start_suggest(self, seq: int) -> None:
        if self._closing:
            return
        if self._suggest_running:
            self._suggest_again = seq
            return
        self._suggest_running = True
        self._suggest_worker(seq, self._walk_ahead())

    @work(thread=True, group="suggest", exit_on_error=False)
    def _suggest_worker(self, seq: int, walk: tuple[int, list[str]] | None) -> None:
        """Look for a newer model (a stat), then compute the suggestions of the sentence at
        ``seq`` and the next ones of the annotator's walk (the queue in document order, or
        ``walk``: the uncertain order's next ids), on a reader connection: never on the UI
        thread."""
        live = self.suggestions
        assert live is not None
        result: int | str
        try:
            if self._suggest_reader is None:
                self._suggest_reader = self.store.open_reader()
            store = self._suggest_reader or self.store
            live.refresh()
            sentences: list[Sentence] = []
            current = store.corpus.sentence_at(seq)
            if current is not None:
                sentences.append(current)
            if walk is not None:
                for sid in walk[1]:
                    found = store.corpus.sentence(sid)
                    if found is not None and found.seq != seq:
                        sentences.append(found)
            at = seq
            while walk is None and len(sentences) < SUGGEST_AHEAD:
                nxt = store.corpus.step(at, 1, annotator=self.annotator)
                if nxt is None:
                    break
                sentences.append(nxt)
                at = nxt.seq
            ids = [x.id for x in sentences]
            blind = store.suggest.blind(ids)
            excluded = dict.fromkeys(blind, "a blind unit (no suggestions for anyone)")
            if not live.on_overlap:
                for sid in store.suggest.unassisted(ids) - blind:
                    excluded[sid] = "an overlap unit (several annotators: agreement stays honest)"
            for sid in store.suggest.labelled_by_others(ids, self.annotator) - excluded.keys():
                excluded[sid] = "labelled by another annotator (the model may have learnt it)"
            live.compute([(x.id, x.text) for x in sentences], excluded)
            now = time.monotonic()
            if now - self._counts_at >= ACTOR_COUNTS_EVERY_S:
                self._counts_at = now
                self._actor_counts = store.suggest.actor_counts_by_claim()
            if walk is not None:
                result = walk[0] + len(walk[1])
            else:
                result = sentences[-1].seq if len(sentences) > 1 else seq
        except Exception as exc:  # suggestions are a help: a failure is shown, never fatal
            result = f"{type(exc).__name__}: {exc}"
        try:
            self.app.call_from_thread(self._suggested, result, walk is not None)
        except RuntimeError:  # the app has exited
            self._suggest_running = False

    def _suggested(self, result: int | str, walked: bool = False) -> None:
        self._suggest_running = False
        if not self._model_frozen:  # numpy and the model are loaded now: out of the collector
            self._model_frozen = True
            self._freeze_heap()
        if self._closing:
            if self._suggest_reader is not None:
                self._suggest_reader.close()
                self._suggest_reader = None
            return
        if isinstance(result, str):
            message = result.removeprefix("SuggestError: ")
            if message != self._suggest_error:  # once, not on every key (a broken plug-in)
                self._suggest_error = message
                self.notify(f"Suggestions: {message}", severity="warning", markup=False, timeout=6)
        else:
            self._suggest_checked = True
            self._suggest_error = None
            if walked:
                self._suggest_until_pos = max(result - SUGGEST_MARGIN, 0)
            else:
                self._suggest_until = max(result - SUGGEST_MARGIN, 0)
        if self.ann is not None:
            self._show_labels(keep=self.query_one(LabelEditor).highlighted)
        again, self._suggest_again = self._suggest_again, None
        if again is not None and not isinstance(result, str):
            self._want_suggestions()

    @work(thread=True, group="order", exit_on_error=False)
    def _order_worker(self) -> None:
        """The ``--order uncertain`` walk: the queue's sentences not done, least sure first
        (on a reader connection, off the UI thread)."""
        live = self.suggestions
        assert live is not None
        result: list[str] | str
        reader = self.store.open_reader()
        try:
            live.refresh()
            if live.model is None:
                result = "no model yet (it needs --min-labels training labels): document order"
            else:
                rows = list((reader or self.store).suggest.queue_not_done(self.annotator))
                result = uncertain_order(live.model, rows)
        except Exception as exc:  # the order is a help: document order stays
            result = f"{type(exc).__name__}: {exc}"
        finally:
            if reader is not None:
                reader.close()
        with contextlib.suppress(RuntimeError):  # the app has exited
            self.app.call_from_thread(self._ordered, result)

    def _ordered(self, result: list[str] | str) -> None:
        if isinstance(result, str):
            self._order_note = (
                "no model yet, document order"
                if result.startswith("no model yet")
                else "failed, document order"
            )
            self._show_top()
            self.notify(f"Uncertain order: {result}", markup=False, timeout=5)
            return
        self._uncertain = result
        self._uncertain_pos = {sid: i for i, sid in enumerate(result)}
        self._suggest_until_pos = -1  # a new walk: compute ahead along it
        self.notify(
            f"Uncertain order: {count(len(result), 'sentence')}, least sure first.", timeout=3
        )
        if not self._acted and result:
            self.jump_to(result[0])
            self._acted = False
        self._show_top()
        self._want_suggestions()

    def _next_uncertain(self) -> Sentence | None:
        """The least sure sentence of the queue not done yet (counting pending writes)."""
        pending = self.stance_app.pending
        current = self.sentence.id if self.sentence is not None else None
        for sid in self._uncertain or ():
            if sid == current:
                continue
            entry = pending.get(sid)
            state = entry[1] if entry is not None else self.store.labels.get(sid, self.annotator)
            if state is None or state.status in NOT_DONE:
                return self.store.corpus.sentence(sid)
        return None

    def action_accept_suggestions(self) -> None:
        """Accept the suggested claims (``A``) in one key: they replace the ticked ones
        (stances of claims that stay are kept), the sentence is done, and the screen goes on
        to the next sentence not done, as after Enter."""
        t0 = time.perf_counter()
        if self.ann is None or self.sentence is None:
            return
        shown = self.shown()
        if self.suggestions is None:
            self.notify("Suggestions are off.", timeout=3)
            return
        if shown is None:
            why = "no model yet" if self.suggestions.model is None else "still computing"
            self._notify_sentence(f"No suggestion for this sentence ({why}).", 3)
            return
        if shown.excluded:
            self._notify_sentence(f"No suggestions here: {shown.excluded}.", 4)
            return
        claims = tuple(shown.claims)
        stances = tuple(s for s in self.ann.stances if s.claim in claims)
        dropped = [c for c in self.ann.claims if c not in claims]
        lost = len(self.ann.stances) - len(stances)
        sid = self.sentence.id
        if (dropped or lost) and sid not in self._a_warned:
            # never replace what the annotator tagged without asking (A sits beside a)
            self._a_warned.add(sid)
            what = ", ".join(dropped) if dropped else "no claim"
            stance_note = f" and {count(lost, 'stance')}" if lost else ""
            wanted = ", ".join(claims) if claims else "no claim"
            self.notify(
                f"A would drop {what}{stance_note} you tagged (suggested: {wanted}). "
                "A again replaces them; Enter keeps yours.",
                markup=False,
                timeout=5,
            )
            return
        self._applied.add(self.sentence.id)
        self._finish(
            replace(self.ann, status="done", claims=claims, stances=stances), "suggestion", t0
        )

    # ---------------------------------------------------------------- navigation

    def _go(self, sentence: Sentence | None, none_message: str) -> None:
        if sentence is None:
            self.notify(none_message, timeout=3)
            return
        self.load(sentence)

    def action_next(self) -> None:
        if self.sentence is not None:
            self._go(
                self.store.corpus.step(self.sentence.seq, 1, annotator=self.annotator),
                "Last sentence.",
            )

    def action_prev(self) -> None:
        if self.sentence is not None:
            self._go(
                self.store.corpus.step(self.sentence.seq, -1, annotator=self.annotator),
                "First sentence.",
            )

    def _next_undone(self) -> Sentence | None:
        """The next sentence (wrapping) this annotator has not done, counting pending writes
        (with ``--order uncertain``, the least sure first; then document order, for sentences
        imported since the order was made)."""
        if self._uncertain is not None:
            found = self._next_uncertain()
            if found is not None:
                return found
        pending = self.stance_app.pending
        start = self.sentence.seq if self.sentence is not None else -1
        seq, wrapped = start, False
        while True:
            found = self.store.corpus.step(seq, 1, annotator=self.annotator, undone_only=True)
            if found is None:
                if wrapped:
                    return None
                # round to the start; every sentence before the resume hint is done
                wrapped, seq = True, self.store.team.resume_hint(self.annotator) - 1
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

    def _advance(self) -> bool:
        """Show the next sentence not done; False (and say so) when there is none."""
        nxt = self._next_undone()
        if nxt is None:
            self.notify("Every sentence is done. 🎉", timeout=5)
            return False
        self.load(nxt)
        return True

    def action_search(self) -> None:
        self.app.push_screen(SearchDialog(self._run_search, self._last_query))

    def action_search_next(self) -> None:
        """``n``: the next match of the last `/` search, from this sentence."""
        if not self._last_query:
            self.notify("No search yet: / searches.", timeout=3)
            return
        self._run_search(self._last_query)

    def _run_search(self, query: str) -> None:
        self._last_query = query
        after = self.sentence.seq if self.sentence else -1
        self._search_worker(query, after)

    @work(thread=True, group="search", exclusive=True, exit_on_error=False)
    def _search_worker(self, query: str, after: int) -> None:
        """The `/` search, off the UI thread, on the screen's search reader: one connection
        kept for the session, so its page cache stays warm between searches (the FTS index
        answers in milliseconds; a short query or an index still being built scans)."""
        try:
            with self._search_lock:
                if self._search_reader is None and not self._closing:
                    self._search_reader = self.store.open_reader()
                reader = self._search_reader
                corpus = (reader or self.store).corpus
                hit = corpus.search(query, after, self.annotator)
                # not in the queue: maybe in a hidden dedup copy (new-user review)
                copy = corpus.search_copies(query, after) if hit is None else None
        except Exception as exc:  # a locked or vanished DB: say so, keep the screen
            with contextlib.suppress(RuntimeError):
                self.app.call_from_thread(
                    self.notify, f"Search failed: {exc}", markup=False, timeout=5
                )
            return
        finally:
            if self._closing:
                self._close_search_reader()
        with contextlib.suppress(RuntimeError):  # the app has exited
            self.app.call_from_thread(self._search_done, query, after, hit, copy)

    def _close_search_reader(self, wait: bool = True) -> None:
        if not self._search_lock.acquire(blocking=wait):
            return
        try:
            reader, self._search_reader = self._search_reader, None
        finally:
            self._search_lock.release()
        if reader is not None:
            reader.close()

    def _search_done(
        self,
        query: str,
        after: int,
        hit: Sentence | None,
        copy: tuple[str, Sentence] | None,
    ) -> None:
        if hit is not None:
            self.load(hit)
            where = f"sentence {hit.idx + 1} of {hit.article_id}"
            if hit.seq == after:
                message = where + " (the only match)"
            else:
                message = where + (" (wrapped to the start)" if hit.seq < after else "")
        elif copy is not None:
            copy_id, rep = copy
            self.load(rep)
            message = (
                f"« {query} » is only in {copy_id}, a dedup copy of this sentence: "
                "labels given here reach it too"
            )
        else:
            message = f"No sentence contains « {query} »."
        if isinstance(self.app.screen, SearchDialog):  # the prompt is still open
            self.app.screen.show_result(message)
        elif hit is None or hit.seq <= after:  # n, with the prompt closed: misses and wraps
            self.notify(message, markup=False, timeout=5)

    def jump_to(self, sentence_id: str) -> None:
        sentence = self.store.corpus.sentence(sentence_id)
        if sentence is not None:
            self.load(sentence)

    # ---------------------------------------------------------------- labels

    def action_toggle_claim(self, key: int) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        labels = self.query_one(LabelEditor).toggled((self.ann.claims, self.ann.stances), key)
        if labels is not None:
            gone = len(self.ann.stances) - len(labels[1])
            if gone > 0:  # hour (issue 15 §3): removing a claim removes its stances; say so
                removed = ", ".join(c for c in self.ann.claims if c not in labels[0])
                self.notify(
                    f"removed claim {removed} and its {count(gone, 'stance')}; u brings them back",
                    markup=False,
                    timeout=4,
                )
            self._labels_changed(*labels, "claims", t0)

    def on_claim_bar_toggled(self, message: ClaimBar.Toggled) -> None:
        if self.check_action("toggle_claim", (message.key,)):
            self.action_toggle_claim(message.key)

    def action_no_claim(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        self._finish(replace(self.ann, status="done", claims=(), stances=()), "no_claim", t0)

    def action_accept(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        # hour (issue 15 §3): a claim without a stance gets a nudge, once per sentence
        bare = [c for c in self.ann.claims if all(st.claim != c for st in self.ann.stances)]
        sid = self.ann.sentence_id
        nudge = getattr(self.app, "nudge_stances", True)  # AnnotateApp(nudge_stances=...)
        if bare and nudge and sid not in self._nudged:
            self._nudged.add(sid)
            self._notify_sentence(
                f"no stance on {', '.join(bare)}: a adds one; Enter again marks it done", 4
            )
            return
        # an Enter on a sentence never tagged nor saved would record "done, no claim" without
        # a word (a stray Enter, or the second of a double press on the sentence before):
        # it asks once; `0` says "no claim" in one key (new-user review)
        untouched = not self.stored and not self.ann.claims and not self.ann.note
        if untouched and nudge and sid not in self._nudged:
            self._nudged.add(sid)
            self._notify_sentence(
                f"nothing tagged: Enter again marks it done with no claim "
                f"({self.key_for('no_claim')} does that in one key)",
                4,
            )
            return
        self._finish(replace(self.ann, status="done"), "done", t0)

    def action_skip(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        self._finish(replace(self.ann, status="skipped"), "skip", t0)

    def action_flag(self) -> None:
        t0 = time.perf_counter()
        if self.ann is None:
            return
        self._finish(replace(self.ann, status="flagged"), "flag", t0)

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
        editor = self.query_one(LabelEditor)
        cut = None if self.ann is None else editor.without_highlighted(self.ann.stances)
        if self.ann is None or cut is None:
            return
        stances, row = cut
        self._labels_changed(self.ann.claims, stances, "stance", t0)
        editor.show_stances(stances, row)

    def action_add_stance(self) -> None:
        if self.ann is None:
            return
        if not self.ann.claims:  # hour (issue 15 §3): say what to do first
            keys = sorted(c.key for c in self.stance_app.schema.claims)
            span = f"{keys[0]}-{keys[-1]}" if len(keys) > 1 else str(keys[0]) if keys else "?"
            self.notify(f"Tag a claim first (keys {span}), then a adds a stance on it.", timeout=4)
            return
        sentence_id = self.ann.sentence_id
        editor = self.query_one(LabelEditor)

        def chosen(new: Stance) -> None:
            t0 = time.perf_counter()
            ann = self.ann
            if ann is None or ann.sentence_id != sentence_id:
                return
            stances = with_stance(ann.stances, new)
            self._labels_changed(ann.claims, stances, "stance", t0)
            editor.show_stances(stances, len(stances) - 1)

        text = self.sentence.text if self.sentence else ""
        editor.add_stance(text, self.ann.claims, chosen, self._actor_created, self._boost)

    def _boost(self, claim: str) -> dict[str, int]:
        """The actor picker's boost: the team's (claim, actor) counts, refreshed in the
        background, minus the labels of the sentence on screen (blindness first)."""
        if self.suggestions is None or self.sentence is None:
            return {}
        return boost_counts(
            self._actor_counts, claim, self.store.labels.for_sentence(self.sentence.id)
        )

    def _claim_keys(self) -> dict[int, list[str]]:
        """Claim number -> its keys after the keymap (the claim chooser follows them too)."""
        return self.query_one(LabelEditor).claim_keys()

    def _actor_created(self, provisional: str, real: str) -> None:
        if self.ann is not None:
            self.ann = replace_actor(self.ann, provisional, real)
        self._show_labels(keep=self.query_one(LabelEditor).highlighted)

    # ---------------------------------------------------------------- undo, cluster, panels

    def action_undo(self) -> None:
        annotator = self.annotator
        self.undo_in_flight += 1
        self.refresh_bindings()

        Undone = tuple[tuple[str, Annotation | None, Annotation | None] | None, int | None]

        def run(store: Store) -> Undone:
            undone = store.labels.undo_states(annotator)
            sentence = store.corpus.sentence(undone[0]) if undone is not None else None
            return undone, (sentence.idx + 1 if sentence is not None else None)

        def done(answer: Undone) -> None:
            result, number = answer
            self.undo_in_flight -= 1
            if result is None:
                self.notify("Nothing to undo.", timeout=3)
            else:
                sid, before, after = result
                # hour (issue 15 §3): say what was undone
                what = describe_undo(before, after, self.stance_app.display_actor)
                where = f", sentence {number}" if number is not None else ""
                self.notify(f"undid: {what}{where}", markup=False, timeout=5)
                self._moved(before, after)
                self.jump_to(sid)
            self._show_progress()
            self.refresh_bindings()

        def failed(_error: str) -> None:
            self.undo_in_flight -= 1
            self.refresh_bindings()

        self.stance_app.submit(Job(run, "undo", None, done, failed=failed))

    def action_cluster(self) -> None:
        sentence = self.sentence
        if sentence is None or sentence.cluster_id is None:
            return
        members = self.store.clusters.members(sentence.cluster_id)
        annotator = self.annotator

        def chosen(member_id: str | None) -> None:
            if member_id is None:
                return

            def done(withdrawn: int) -> None:
                self.notify(
                    f"Split out of its cluster; {count(withdrawn, 'propagated label')} withdrawn.",
                    timeout=4,
                )
                self.jump_to(sentence.id)
                self._recount()  # a sentence came back into view: the total changed

            self.stance_app.submit(
                Job(lambda store: store.clusters.split(member_id, annotator), "split", None, done)
            )

        aliases = self.store.actors.trusted_alias_map()

        def describe(rep_text: str, copy_text: str) -> str:
            # dedup pulls in numpy and rapidfuzz: loaded on first use (the dialog's worker
            # thread), so the screen starts without them (tests/test_layout.py)
            from stanceterm.dedup import describe_difference

            return describe_difference(rep_text, copy_text, aliases)

        self.app.push_screen(ClusterDialog(members, sentence.id, describe), chosen)

    def action_guidelines(self) -> None:
        panel = self.query_one("#guidelines")
        panel.display = not panel.display

    def action_help(self) -> None:
        claim_keys = self._claim_keys()
        extra = [
            (
                ", ".join(key_display(claim_keys[n][0]) for n in sorted(claim_keys)[:3]) + ", …",
                "after `a` with several claims tagged: the claim's key picks it",
            ),
            ("↑, ↓, Enter", "actor picker: move, take the highlighted actor or create the name"),
            ("Tab", "focus the stance table (↑/↓ pick a row for d; Esc back)"),
            ("Esc", "close a dialog without changing anything"),
        ]
        bindings = configurable_bindings(
            self.stance_app.schema.stances, self.stance_app.keymap_overrides
        )
        self.app.push_screen(HelpScreen(bindings, self.stance_app.keymap_overrides, extra))

    def _all_bindings(self) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding)]

    async def action_quit(self) -> None:
        self._advance_hint()
        await self.stance_app.action_quit()

    @property
    def current_text(self) -> str:
        return self.query_one(SentenceView).current_text
