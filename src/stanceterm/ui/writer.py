"""The write path of the screens: one FIFO writer worker per app.

Every change is written through the store by ONE writer worker (a Textual thread worker) that
takes jobs from a FIFO queue, so the UI never waits on the DB and one user's writes are applied
in the order they were made. The UI updates optimistically: the newest not-yet-committed state of
each sentence is kept in :attr:`Writer.pending` (so moving away and back shows it), and a failed
write is reported (error toast + a persistent marker in :attr:`Writer.unsaved`) and never
silently dropped. Actors created on the fly get a provisional id at once; writes queued later that
mention it get the real one.

The writer posts :class:`WriteDone` / :class:`WriteFailed` to its app; the app hands them back to
:meth:`Writer.handle_done` / :meth:`Writer.handle_failed` on the UI thread and then tells its
screens with :class:`WritesChanged`.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from textual.app import App
from textual.message import Message
from textual.worker import get_current_worker

from stanceterm.store import Annotation, Gold, Stance, Store

#: A save not committed after this many seconds is shown as "saving…" (issue 15 §3).
SAVING_AFTER_S = 0.3
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
class WriteDone(Message):
    """A job was applied (posted to the app by the writer thread)."""

    job: Job
    result: Any


@dataclass
class WriteFailed(Message):
    """A job raised; nothing of it was written (posted to the app by the writer thread)."""

    job: Job
    error: str


class WritesChanged(Message):
    """A write finished or failed: screens refresh their saved / NOT SAVED markers."""


class Writer:
    """The ordered write queue of one app, its optimistic state and its failures."""

    def __init__(
        self,
        app: App[Any],
        store: Store,
        annotator: str,
        *,
        on_commit: Callable[[float, Job], None] | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.annotator = annotator
        self.on_commit = on_commit
        #: sentence id -> (job seq, optimistic state) of states not yet committed
        self.pending: dict[str, tuple[int, Annotation]] = {}
        #: sentence id -> when its oldest not-yet-committed save was queued (``saving…``)
        self.pending_since: dict[str, float] = {}
        #: sentence ids whose latest write failed (cleared by a later successful save)
        self.unsaved: dict[str, str] = {}
        #: one line per failed write, for the report after the app exits
        self.errors: list[str] = []
        self.actor_names: dict[str, str] = {}
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._seq = 0
        self._in_flight = 0
        #: kept by the writer thread itself: the seq of the last job it finished, and the
        #: sentences whose latest save failed (quit reads these: while a key's action runs, the
        #: app's messages, hence WriteDone/WriteFailed, wait)
        self._applied = 0
        self._writer_unsaved: dict[str, str] = {}
        self._actor_ids: dict[str, str] = {}  # provisional -> real (writer thread only)

    # ---------------------------------------------------------------- the worker

    def start(self) -> None:
        # actor names are read as stances show them (display_actor), not all before the first
        # paint: a team's gazetteer grows to tens of thousands (startup, issue 17)
        self.app.run_worker(
            self._run, thread=True, exclusive=True, group="store-writer", name="store-writer"
        )

    def _run(self) -> None:
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
                self.app.post_message(WriteFailed(job, error))
            else:
                if job.label == "save" and job.sentence_id is not None:
                    self._writer_unsaved.pop(job.sentence_id, None)
                self._applied = job.seq
                if self.on_commit is not None:
                    self.on_commit(time.perf_counter() - job.t0, job)
                self.app.post_message(WriteDone(job, result))

    def submit(self, job: Job) -> Job:
        self._seq += 1
        job.seq = self._seq
        self._in_flight += 1
        self._jobs.put(job)
        return job

    async def flush(self, timeout: float = 30.0, *, handled: bool = True) -> None:
        """Wait (without blocking the UI) until every queued write has been applied, and (with
        ``handled``) its result handled on the UI side."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self._in_flight if handled else self._applied < self._seq) == 0:
                return
            await asyncio.sleep(0.002)

    def unsaved_at_exit(self) -> int:
        """On quit (after a flush without handling): record the failures the app has not
        handled yet; returns how many sentences are not saved."""
        for sid, error in self._writer_unsaved.items():
            if sid not in self.unsaved:
                self.unsaved[sid] = error
                self.errors.append(f"NOT SAVED (sentence {sid}): save failed: {error}")
        return len(self._writer_unsaved)

    # ---------------------------------------------------------------- results (UI thread)

    def handle_done(self, message: WriteDone) -> None:
        self._in_flight -= 1
        job = message.job
        sid = job.sentence_id
        if sid is not None:
            entry = self.pending.get(sid)
            if entry is not None and entry[0] == job.seq:
                del self.pending[sid]
                self.pending_since.pop(sid, None)
            if job.label == "save":
                self.unsaved.pop(sid, None)
        if job.done is not None:
            job.done(message.result)

    def handle_failed(self, message: WriteFailed) -> None:
        self._in_flight -= 1
        job = message.job
        where = f" (sentence {job.sentence_id})" if job.sentence_id else ""
        text = f"NOT SAVED{where}: {job.label} failed: {message.error}"
        self.errors.append(text)
        if job.sentence_id is not None:
            self.unsaved[job.sentence_id] = message.error
            self.pending_since.pop(job.sentence_id, None)
        self.app.notify(text, title="write failed", severity="error", timeout=30, markup=False)
        if job.failed is not None:
            job.failed(message.error)

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
            before = store.labels.get(final.sentence_id, final.annotator)
            return before, store.labels.save(final, action)

        job = Job(run, "save", ann.sentence_id, done)
        if t0 is not None:
            job.t0 = t0
        self.submit(job)
        self.pending[ann.sentence_id] = (job.seq, ann)
        self.pending_since.setdefault(ann.sentence_id, time.monotonic())

    def saving(self, sentence_id: str, after: float = SAVING_AFTER_S) -> bool:
        """True when a save of ``sentence_id`` has waited longer than ``after`` seconds (another
        process holds the write lock, or a slow disk): the screen then says "saving…"."""
        since = self.pending_since.get(sentence_id)
        return since is not None and time.monotonic() - since > after

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
            real = store.actors.add(name, created_by=annotator)
            ids[provisional] = real
            return real

        def finished(real: str) -> None:
            stored = self.store.actors.name(real)
            self.actor_names[real] = name if stored is None else stored
            for sid, (seq, ann) in list(self.pending.items()):
                self.pending[sid] = (seq, replace_actor(ann, provisional, real))
            done(provisional, real)

        self.submit(Job(run, "create actor", None, finished))
        return provisional

    def add_alias(self, actor_id: str, alias: str) -> None:
        """Queue making ``alias`` a name of the actor (from the picker: not trusted for dedup)."""
        annotator = self.annotator

        def run(store: Store) -> None:
            store.actor_ops.alias(actor_id, alias, annotator, trusted=False)

        self.submit(Job(run, "add alias", None, lambda _result: None))

    def display_actor(self, actor_id: str) -> str:
        name = self.actor_names.get(actor_id)
        if name is None:
            stored = self.store.actors.name(actor_id)
            name = actor_id if stored is None else stored
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


class GoldWrites:
    """Gold decisions and their undo, run in the writer thread, in the order the decisions were
    made. The undo stack is the gold history in the DB (``gold_events``), so ``u`` also undoes
    the decisions of an earlier session."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def write(self, store: Store, gold: Gold) -> Gold:
        """Store a decision (writer thread): provisional actor ids replaced by the real ones,
        the replaced decision remembered for undo."""
        stances = self.writer.real_stances(gold.stances)
        if stances is not gold.stances:
            gold = replace(gold, stances=stances)
        _before, stored = store.gold.replace(gold)  # read and written in one transaction
        return stored

    def undo(self, store: Store, adjudicator: str) -> tuple[str, Gold | None] | None:
        """Put back what the adjudicator's latest decision replaced, in this session or an
        earlier one (writer thread); None: nothing to undo."""
        return store.gold.undo(adjudicator)
