"""StanceApp: the annotation TUI.

Every change is written through the store by ONE writer worker (``@work(thread=True)``) that
takes jobs from a FIFO queue, so the UI never waits on the DB and one annotator's writes are
applied in the order they were made. The UI updates optimistically: the newest not-yet-committed
state of each sentence is kept in :attr:`StanceApp.pending` (so moving away and back shows it),
and a failed write is reported (error toast + a persistent marker) and never silently dropped.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from textual import work
from textual.app import App
from textual.message import Message
from textual.worker import get_current_worker

from stanceterm.schema import LabelSchema
from stanceterm.store import Annotation, Stance, Store

#: Prefix of the provisional id of an actor being created (real ids are slugs, never start so).
PROVISIONAL = "+"


@dataclass
class Job:
    """One write, run in order by the writer thread."""

    run: Callable[[Store], Any]
    label: str
    sentence_id: str | None = None
    done: Callable[[Any], None] | None = None
    failed: Callable[[str], None] | None = None
    t0: float = field(default_factory=time.perf_counter)
    seq: int = 0


@dataclass
class RunResult:
    """What ``stanceterm annotate`` reports after the app exits."""

    failed_writes: int = 0
    errors: list[str] = field(default_factory=list)


class StanceApp(App[RunResult]):
    """Annotate claims and actor stances, one sentence at a time."""

    CSS_PATH = "stanceterm.tcss"
    TITLE = "stanceterm"
    ENABLE_COMMAND_PALETTE = False

    @dataclass
    class WriteDone(Message):
        job: Job
        result: Any

    @dataclass
    class WriteFailed(Message):
        job: Job
        error: str

    def __init__(
        self,
        store: Store,
        schema: LabelSchema,
        annotator: str,
        *,
        show_others: bool = False,
        keymap: Mapping[str, str] | None = None,
        on_commit: Callable[[float, Job], None] | None = None,
        on_first_screen: Callable[[], None] | None = None,
        team_refresh: float = 3.0,
        nudge_stances: bool = True,
    ) -> None:
        super().__init__()
        self.nudge_stances = nudge_stances  # hour (issue 15 §3): Enter nudges a stanceless claim
        self.store = store
        self.schema = schema
        self.annotator = annotator
        self.show_others = show_others
        self.sub_title = annotator
        self.on_commit = on_commit
        self.on_first_screen = on_first_screen
        #: seconds between two reads of the team's progress (off the UI thread)
        self.team_refresh = team_refresh
        self.keymap_overrides = dict(keymap or {})
        #: sentence id -> (job seq, optimistic state) of states not yet committed
        self.pending: dict[str, tuple[int, Annotation]] = {}
        #: sentence ids whose latest write failed (cleared by a later successful save)
        self.unsaved: dict[str, str] = {}
        self.result = RunResult()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._seq = 0
        self._in_flight = 0
        #: kept by the writer thread itself: the seq of the last job it finished, and the
        #: sentences whose latest save failed (quit reads these: while a key's action runs, the
        #: app's messages, hence WriteDone/WriteFailed, wait)
        self._applied = 0
        self._writer_unsaved: dict[str, str] = {}
        self._actor_ids: dict[str, str] = {}  # provisional -> real (writer thread only)
        self.actor_names: dict[str, str] = {}

    # ---------------------------------------------------------------- lifecycle

    def on_mount(self) -> None:
        from stanceterm.ui.screens.annotate import AnnotateScreen

        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        self.actor_names = self.store.actor_names()
        self._writer()
        self.push_screen(AnnotateScreen())

    async def action_quit(self) -> None:
        # Quit runs inside a key's action, so the app handles no message until it returns: wait
        # for the writer thread itself, not for the WriteDone messages.
        await self.flush(handled=False)
        for sid, error in self._writer_unsaved.items():
            if sid not in self.unsaved:
                self.unsaved[sid] = error
                self.result.errors.append(f"NOT SAVED (sentence {sid}): save failed: {error}")
        self.result.failed_writes = len(self._writer_unsaved)
        self.exit(self.result)

    async def flush(self, timeout: float = 30.0, *, handled: bool = True) -> None:
        """Wait (without blocking the UI) until every queued write has been applied, and (with
        ``handled``) its result handled on the UI side."""
        import asyncio

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self._in_flight if handled else self._applied < self._seq) == 0:
                return
            await asyncio.sleep(0.002)

    # ---------------------------------------------------------------- the writer

    @work(thread=True, exclusive=True, group="store-writer", name="store-writer")
    def _writer(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                job = self._jobs.get(timeout=0.05)
            except queue.Empty:
                continue
            if job is None:
                return
            try:
                result = job.run(self.store)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if job.label == "save" and job.sentence_id is not None:
                    self._writer_unsaved[job.sentence_id] = error
                self._applied = job.seq
                self.post_message(self.WriteFailed(job, error))
            else:
                if job.label == "save" and job.sentence_id is not None:
                    self._writer_unsaved.pop(job.sentence_id, None)
                self._applied = job.seq
                if self.on_commit is not None:
                    self.on_commit(time.perf_counter() - job.t0, job)
                self.post_message(self.WriteDone(job, result))

    def submit(self, job: Job) -> Job:
        self._seq += 1
        job.seq = self._seq
        self._in_flight += 1
        self._jobs.put(job)
        return job

    def on_stance_app_write_done(self, message: WriteDone) -> None:
        self._in_flight -= 1
        job = message.job
        sid = job.sentence_id
        if sid is not None:
            entry = self.pending.get(sid)
            if entry is not None and entry[0] == job.seq:
                del self.pending[sid]
            if job.label == "save":
                self.unsaved.pop(sid, None)
        if job.done is not None:
            job.done(message.result)
        self._refresh_screen()

    def on_stance_app_write_failed(self, message: WriteFailed) -> None:
        self._in_flight -= 1
        job = message.job
        where = f" (sentence {job.sentence_id})" if job.sentence_id else ""
        text = f"NOT SAVED{where}: {job.label} failed: {message.error}"
        self.result.errors.append(text)
        if job.sentence_id is not None:
            self.unsaved[job.sentence_id] = message.error
        self.notify(text, title="write failed", severity="error", timeout=30, markup=False)
        if job.failed is not None:
            job.failed(message.error)
        self._refresh_screen()

    def _refresh_screen(self) -> None:
        from stanceterm.ui.screens.annotate import AnnotateScreen

        for screen in self.screen_stack:
            if isinstance(screen, AnnotateScreen):
                screen.writes_changed()

    # ---------------------------------------------------------------- write helpers

    def save(
        self,
        ann: Annotation,
        action: str,
        done: Callable[[tuple[Annotation | None, Annotation]], None] | None = None,
        t0: float | None = None,
    ) -> None:
        """Queue ``ann`` as the new state of its sentence; remember it until committed."""
        resolve = self._resolve

        def run(store: Store) -> tuple[Annotation | None, Annotation]:
            final = resolve(ann)
            before = store.annotation(final.sentence_id, final.annotator)
            return before, store.save(final, action)

        job = Job(run, "save", ann.sentence_id, done)
        if t0 is not None:
            job.t0 = t0
        self.submit(job)
        self.pending[ann.sentence_id] = (job.seq, ann)

    def real_stances(self, stances: tuple[Stance, ...]) -> tuple[Stance, ...]:
        """``stances`` with provisional actor ids replaced by the real ones (writer thread)."""
        if not any(s.actor.startswith(PROVISIONAL) for s in stances):
            return stances
        out = []
        for s in stances:
            if s.actor.startswith(PROVISIONAL):
                real = self._actor_ids.get(s.actor)
                if real is None:
                    raise RuntimeError(f"actor {s.actor[1:]!r} could not be created")
                s = Stance(s.claim, real, s.stance)
            out.append(s)
        return tuple(out)

    def _resolve(self, ann: Annotation) -> Annotation:
        """Replace provisional actor ids by the real ones (runs in the writer thread)."""
        stances = self.real_stances(ann.stances)
        return ann if stances is ann.stances else replace(ann, stances=stances)

    def create_actor(self, name: str, done: Callable[[str, str], None]) -> str:
        """Queue the creation of actor ``name``; returns a provisional id usable right away.

        Writes queued later that mention the provisional id get the real one; ``done(provisional,
        real)`` runs on the UI thread once it exists.
        """
        provisional = PROVISIONAL + name
        self.actor_names[provisional] = name
        ids = self._actor_ids
        annotator = self.annotator

        def run(store: Store) -> str:
            real = store.add_actor(name, created_by=annotator)
            ids[provisional] = real
            return real

        def finished(real: str) -> None:
            self.actor_names[real] = self.store.actor_names().get(real, name)
            for sid, (seq, ann) in list(self.pending.items()):
                self.pending[sid] = (seq, replace_actor(ann, provisional, real))
            done(provisional, real)

        self.submit(Job(run, "create actor", None, finished))
        return provisional

    def display_actor(self, actor_id: str) -> str:
        name = self.actor_names.get(actor_id)
        if name is None:
            name = self.store.actor_names().get(actor_id, actor_id)
            self.actor_names[actor_id] = name
        return name


def replace_actor(ann: Annotation, old: str, new: str) -> Annotation:
    if not any(s.actor == old for s in ann.stances):
        return ann
    return replace(
        ann,
        stances=tuple(
            Stance(s.claim, new if s.actor == old else s.actor, s.stance) for s in ann.stances
        ),
    )


def run_app(
    store: Store,
    schema: LabelSchema,
    annotator: str,
    *,
    show_others: bool = False,
    keymap: Mapping[str, str] | None = None,
    theme: str | None = None,
    nudge_stances: bool = True,
) -> RunResult:
    """Run the TUI until the user quits; returns what went wrong, if anything."""
    app = StanceApp(
        store,
        schema,
        annotator,
        show_others=show_others,
        keymap=keymap,
        nudge_stances=nudge_stances,
    )
    if theme:
        app.theme = theme
    result = app.run()
    return result or RunResult(failed_writes=len(app.unsaved), errors=app.result.errors)


class KeymapError(ValueError):
    """A bad [keys] table; the message is one line."""


def check_keymap(keys: Mapping[str, str], stances: Sequence[str] = ()) -> dict[str, str]:
    """Validate ``[keys]`` (action id -> "key,key") against the binding ids: the screen's, the
    dialogs' and one ``stance_<name>`` per stance of the label schema."""
    from stanceterm.ui.screens.annotate import configurable_bindings
    from stanceterm.ui.screens.help import stance_key_map

    known = [b.id for b in configurable_bindings(stances) if b.id]
    out: dict[str, str] = {}
    for action, value in keys.items():
        if action not in known:
            raise KeymapError(f"unknown action {action!r} (known: {', '.join(known)})")
        parts = [k.strip() for k in value.split(",")]
        if not value.strip() or any(not k or " " in k for k in parts):
            raise KeymapError(f'{action} = {value!r}: expected keys like "j,down"')
        out[action] = ",".join(parts)
    try:
        stance_key_map(stances, out)
    except ValueError as exc:
        raise KeymapError(str(exc)) from None
    return out
