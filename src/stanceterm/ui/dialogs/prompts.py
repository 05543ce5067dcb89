"""Small modal prompts: which claim, which stance, a note, a search, a cluster's members."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from stanceterm.store import Sentence
from stanceterm.ui import keymap
from stanceterm.ui.keymap import stance_keys
from stanceterm.ui.text import data, visible


class ClaimChooser(ModalScreen[str | None]):
    """« which claim? 1-3 »: a digit (or a click) picks one of the tagged claims."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(
        self, claims: Sequence[tuple[int, str]], keys: Mapping[int, Sequence[str]] | None = None
    ) -> None:
        """``keys``: claim number -> the keys that pick it (default: its digit)."""
        super().__init__()
        self.claims = list(claims)
        self.keys = {n: list((keys or {}).get(n) or [str(n)]) for n, _ in self.claims}

    def compose(self) -> ComposeResult:
        shown = [self.keys[n][0] for n, _ in self.claims]
        with Vertical(classes="dialog small docked"):
            yield Static(Text(f"which claim? {', '.join(shown)}", style="bold"))
            with Horizontal(classes="buttons"):
                for key, claim in self.claims:
                    label = Content(f"{self.keys[key][0]} {claim}")
                    yield Button(label, id=f"pick-{key}", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_key(self, event: events.Key) -> None:
        for key, claim in self.claims:
            if event.key in self.keys[key] or event.character in self.keys[key]:
                event.stop()
                self.dismiss(claim)
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        for key, claim in self.claims:
            if event.button.id == f"pick-{key}":
                self.dismiss(claim)
                return
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StancePrompt(ModalScreen[str | None]):
    """`s` support, `o` oppose, `n` neutral (letters from the schema's stances)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(
        self,
        actor: str,
        claim: str,
        stances: Sequence[str],
        keys: Mapping[str, str] | None = None,
    ) -> None:
        """``keys``: key -> stance (default: :func:`stance_keys`; ``[keys]`` can change it)."""
        super().__init__()
        self.actor = actor
        self.claim = claim
        self.keys = dict(keys) if keys else stance_keys(stances)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small docked"):
            title = Text("stance of ")
            title.append(visible(self.actor), style="bold")
            title.append(f" on {self.claim}?")
            yield Static(title)
            with Horizontal(classes="buttons"):
                for i, stance in enumerate(dict.fromkeys(self.keys.values())):
                    key = next(k for k, s in self.keys.items() if s == stance)
                    yield Button(Content(f"{key} {stance}"), id=f"stance-{i}", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_key(self, event: events.Key) -> None:
        for key in (event.key, event.character):
            if key and key in self.keys:
                event.stop()
                self.dismiss(self.keys[key])
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        stances = list(dict.fromkeys(self.keys.values()))
        index = (event.button.id or "").removeprefix("stance-")
        self.dismiss(stances[int(index)] if index.isdigit() else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(ModalScreen[str | None]):
    """Edit the sentence's note; ctrl+s saves ("" clears it), escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = keymap.NOTE_DIALOG

    def __init__(self, note: str | None) -> None:
        super().__init__()
        self.note = note or ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Note for this sentence (ctrl+s save, esc cancel)", style="bold"))
            yield TextArea(self.note, id="note-text", soft_wrap=True, show_line_numbers=False)
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class SearchDialog(ModalScreen[None]):
    """Search sentences by text (accent-, case- and quote-insensitive), as a find bar: Enter goes
    to the next match and the prompt stays open (the screen behind moves), so Enter again goes to
    the one after; Esc closes it (``n`` then repeats the last search).

    ``search(query)`` starts a search; its answer comes back through :meth:`show_result`."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "close")]

    def __init__(self, search: Callable[[str], None], query: str = "") -> None:
        super().__init__()
        self._search = search
        self._query = query

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog small"):
            yield Static(Text("Search · Enter: next match · Esc: close", style="bold"))
            yield Input(self._query, placeholder="text to find…", id="search-query", compact=True)
            yield Static("", id="search-status")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.query_one("#search-status", Static).update(Text("searching…", style="dim"))
            self._search(event.value)

    def show_result(self, message: str) -> None:
        """What the last search found (the screen behind has moved to it)."""
        self.query_one("#search-status", Static).update(data(message))

    def action_cancel(self) -> None:
        self.dismiss()


class ClusterDialog(ModalScreen[str | None]):
    """The members of a dedup cluster, each copy with how it differs from the representative
    (``describe(representative text, copy text)``, computed in a thread: the first call loads a
    dictionary); `s` (or the button) splits the highlighted one out."""

    BINDINGS: ClassVar[list[BindingType]] = keymap.CLUSTER_DIALOG

    def __init__(
        self,
        members: Sequence[tuple[Sentence, str | None]],
        current_id: str,
        describe: Callable[[str, str], str] | None = None,
    ) -> None:
        super().__init__()
        self.members = list(members)
        self.current_id = current_id
        self.describe = describe
        #: how each member differs from the representative ("" for the representative itself)
        self.differences: list[str | None] = [None] * len(self.members)
        #: the member a first split key asked about: a second press splits it (for good)
        self._armed: int | None = None

    def _prompt(self, i: int) -> Text:
        sentence, title = self.members[i]
        prompt = Text()
        prompt.append("★ " if i == 0 else "  ", style="bold")
        prompt.append(visible(title or sentence.article_id), style="italic")
        if i == 0:
            prompt.append("  (representative)", style="dim")
        elif self.describe is not None:
            diff = self.differences[i]
            prompt.append("  differs by: ", style="dim")
            prompt.append(visible(diff) if diff is not None else "…", style="dim")
        prompt.append("\n")
        prompt.append_text(data(sentence.text))
        return prompt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title(), id="cluster-title")
            options = [Option(self._prompt(i), id=f"m{i}") for i in range(len(self.members))]
            yield OptionList(*options, id="cluster-members", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Split out", id="split", variant="warning", compact=True)
                yield Button("Close", id="close", compact=True)

    @work(thread=True, exclusive=True)
    def _describe_copies(self) -> None:
        describe = self.describe
        if describe is None or not self.members:
            return
        rep = self.members[0][0].text
        found = [""] + [describe(rep, s.text) for s, _ in self.members[1:]]
        self.app.call_from_thread(self._show_differences, found)

    def _show_differences(self, found: list[str]) -> None:
        self.differences = list(found)
        options = self.query_one(OptionList)
        for i in range(1, len(self.members)):
            options.replace_option_prompt_at_index(i, self._prompt(i))

    def _split_key(self) -> str:
        """The key bound to ``split`` now (the user's keymap may move it)."""
        for key, active in self.active_bindings.items():
            if active.binding.action == "split":
                return active.binding.key_display or key
        return "s"

    def _title(self) -> Text:
        key = self._split_key() if self.is_mounted else "s"
        if self._armed is None:
            return Text(
                f"{len(self.members)} copies of this sentence ({key}: split the highlighted one "
                "out of the cluster, esc: close)",
                style="bold",
            )
        sentence, title = self.members[self._armed]
        return Text.assemble(
            ("Split ", "bold"),
            (visible(title or sentence.article_id), "bold italic"),
            (
                " out of the cluster for good? Its labels from the representative are withdrawn "
                f"and it is never merged again. {key} again: split; esc or a move: keep it",
                "bold",
            ),
        )

    def _arm(self, index: int | None) -> None:
        if index != self._armed:
            self._armed = index
            self.query_one("#cluster-title", Static).update(self._title())

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        # on the first copy: a stray split key must not take the representative out
        options.highlighted = 1 if len(self.members) > 1 else 0
        options.focus()
        self.query_one("#cluster-title", Static).update(self._title())
        self._describe_copies()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self._armed:
            self._arm(None)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        current = options.highlighted or 0
        options.highlighted = max(0, min(len(self.members) - 1, current + step))

    def action_split(self) -> None:
        """A split is for good: the first press asks, a second one on the same copy splits."""
        index = self.query_one(OptionList).highlighted
        if index is None:
            return
        if self._armed != index:
            self._arm(index)
            return
        self.dismiss(self.members[index][0].id)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "split":
            self.action_split()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
