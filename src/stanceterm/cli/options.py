"""Option decorators shared by several commands (one spelling and one help text each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def annotator_option(
    help: str = "Who is annotating (default: $STANCETERM_ANNOTATOR or config).", **kw: Any
) -> Callable[[F], F]:
    """``--annotator NAME``: the acting user (resolved later through the config precedence)."""
    return click.option("--annotator", help=help, **kw)


def annotators_filter_option(help: str = "Only this annotator (repeatable).") -> Callable[[F], F]:
    """``--annotator NAME`` (repeatable), stored as ``annotators``: a filter on whose labels."""
    return click.option("--annotator", "annotators", multiple=True, help=help)


def json_option(help: str = "Print one JSON object instead of a table.") -> Callable[[F], F]:
    """``--json``, stored as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def format_option(f: F) -> F:
    """``--format table|markdown|latex``, stored as ``fmt``."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "markdown", "latex"]),
        default="table",
        show_default=True,
        help="Table style: a terminal table, Markdown, or a LaTeX booktabs tabular.",
    )(f)


def seed_option(help: str) -> Callable[[F], F]:
    """``--seed N`` (default 0)."""
    return click.option("--seed", type=int, default=0, show_default=True, help=help)
