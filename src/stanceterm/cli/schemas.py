"""``schemas``: write (or check) the JSON Schema of every record type."""

from __future__ import annotations

from pathlib import Path

import click

from stanceterm.cli.context import fail
from stanceterm.textsafe import clean


@click.command("schemas")
@click.option(
    "--check", is_flag=True, help="Fail if the files in --dir are stale instead of writing."
)
@click.option(
    "--dir", "folder", default="schemas", show_default=True, type=click.Path(file_okay=False)
)
def schemas_cmd(check: bool, folder: str) -> None:
    """Write the JSON Schema of every record type (label schema, article, exports)."""
    from stanceterm.records import json_schemas  # pydantic: only for this command

    target = Path(folder)
    stale = []
    for name, text in json_schemas().items():
        path = target / name
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            stale.append(name)
            if not check:
                target.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if check and stale:
        fail(f"stale JSON Schemas in {target}: {', '.join(stale)}; run `stanceterm schemas`")
    click.echo(
        ("up to date" if not stale else f"wrote {', '.join(stale)}") + f" in {clean(target)}",
        err=True,
    )
