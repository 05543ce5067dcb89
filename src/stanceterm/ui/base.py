"""StoreApp: what the annotate and review apps share (stylesheet, the writer, quit, start-up).

:class:`~stanceterm.ui.app.AnnotateApp` and :class:`~stanceterm.ui.review_app.ReviewApp` are
siblings on this base: each names its first screen. The app owns one
:class:`~stanceterm.ui.writer.Writer`; when a write finishes or fails it posts
:class:`~stanceterm.ui.writer.WritesChanged` to its screens, which refresh their markers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.screen import Screen

from stanceterm.schema import LabelSchema
from stanceterm.store import Annotation, Stance, Store
from stanceterm.ui.writer import Job, WriteDone, WriteFailed, Writer, WritesChanged


@dataclass
class RunResult:
    """What ``stanceterm annotate`` / ``review`` reports after the app exits."""

    failed_writes: int = 0
    errors: list[str] = field(default_factory=list)


class StoreApp(App[RunResult]):
    """A screen app over one store, one user, one ordered writer."""

    CSS_PATH = "stanceterm.tcss"
    TITLE = "stanceterm"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        store: Store,
        schema: LabelSchema,
        annotator: str,
        *,
        keymap: Mapping[str, str] | None = None,
        on_commit: Callable[[float, Job], None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.schema = schema
        self.annotator = annotator
        self.sub_title = annotator
        #: the config's ``[keys]`` (binding id -> "key,key"), already checked
        self.keymap_overrides = dict(keymap or {})
        self.writer = Writer(self, store, annotator, on_commit=on_commit)
        self.result = RunResult(errors=self.writer.errors)

    # The writer's optimistic state, under the names the screens use.
    @property
    def pending(self) -> dict[str, tuple[int, Annotation]]:
        return self.writer.pending

    @property
    def unsaved(self) -> dict[str, str]:
        return self.writer.unsaved

    # ---------------------------------------------------------------- lifecycle

    def first_screen(self) -> Screen[Any]:
        """The screen the app opens with."""
        raise NotImplementedError

    def on_mount(self) -> None:
        self.writer.start()
        self.push_screen(self.first_screen())

    async def action_quit(self) -> None:
        # Quit runs inside a key's action, so the app handles no message until it returns: wait
        # for the writer thread itself, not for the WriteDone messages.
        await self.flush(handled=False)
        self.result.failed_writes = self.writer.unsaved_at_exit()
        self.exit(self.result)

    async def flush(self, timeout: float = 30.0, *, handled: bool = True) -> None:
        """Wait (without blocking the UI) until every queued write has been applied, and (with
        ``handled``) its result handled on the UI side."""
        await self.writer.flush(timeout, handled=handled)

    # ---------------------------------------------------------------- writes

    def on_write_done(self, message: WriteDone) -> None:
        self.writer.handle_done(message)
        self._writes_changed()

    def on_write_failed(self, message: WriteFailed) -> None:
        self.writer.handle_failed(message)
        self._writes_changed()

    def _writes_changed(self) -> None:
        for screen in self.screen_stack:  # the screens under a dialog keep their markers true
            screen.post_message(WritesChanged())

    def submit(self, job: Job) -> Job:
        return self.writer.submit(job)

    def save(
        self,
        ann: Annotation,
        action: str,
        done: Callable[[tuple[Annotation | None, Annotation]], None] | None = None,
        t0: float | None = None,
    ) -> None:
        self.writer.save(ann, action, done, t0)

    def real_stances(self, stances: tuple[Stance, ...]) -> tuple[Stance, ...]:
        return self.writer.real_stances(stances)

    def create_actor(self, name: str, done: Callable[[str, str], None]) -> str:
        return self.writer.create_actor(name, done)

    def display_actor(self, actor_id: str) -> str:
        return self.writer.display_actor(actor_id)


def run(app: StoreApp, theme: str | None = None) -> RunResult:
    """Run ``app`` until the user quits; returns what went wrong, if anything."""
    if theme:
        app.theme = theme
    result = app.run()
    return result or RunResult(failed_writes=len(app.unsaved), errors=app.result.errors)
