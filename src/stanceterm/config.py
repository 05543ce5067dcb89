"""Where things live: the DB, the label schema, the annotator, user settings.

Precedence everywhere: command-line flag > environment variable > config file > default.
The config file is TOML: ``./stanceterm.toml`` if present, else ``$XDG_CONFIG_HOME/stanceterm/config.toml``
(``STANCETERM_CONFIG`` names another file). Recognised keys::

    annotator = "alice"
    db = "team.db"
    schema = "schemas/my-labels.json"
    theme = "textual-light"   # any Textual theme (also $STANCETERM_THEME); default textual-dark

    [keys]            # TUI keymap overrides: action = "key[,key...]"
    next = "j,down"
    stance_oppose = "p"   # stance keys too: stance_<name> per stance of the label schema
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DB = "stanceterm.db"
ENV_DB = "STANCETERM_DB"
ENV_SCHEMA = "STANCETERM_SCHEMA"
ENV_ANNOTATOR = "STANCETERM_ANNOTATOR"
ENV_CONFIG = "STANCETERM_CONFIG"
ENV_THEME = "STANCETERM_THEME"


class ConfigError(ValueError):
    """The config file is unreadable; the message is one line."""


@dataclass(frozen=True)
class Settings:
    annotator: str | None = None
    db: str | None = None
    schema: str | None = None
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    #: Enter on a sentence with a claim but no stance nudges once (``nudge_stances = false``: off).
    nudge_stances: bool = True


def config_path() -> Path | None:
    explicit = os.environ.get(ENV_CONFIG)
    if explicit:
        return Path(explicit)
    local = Path("stanceterm.toml")
    if local.is_file():
        return local
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    user = base / "stanceterm" / "config.toml"
    return user if user.is_file() else None


def load_settings() -> Settings:
    path = config_path()
    if path is None:
        return Settings()
    import tomllib  # only with a config file: every command starts here (startup, issue 17)

    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
    ):
        raise ConfigError(f"{path}: [keys] must map action names to key strings")
    for name in ("annotator", "db", "schema", "theme"):
        if name in data and not isinstance(data[name], str):
            raise ConfigError(f"{path}: {name} must be a string")
    nudge = data.get("nudge_stances", True)
    if not isinstance(nudge, bool):
        raise ConfigError(f"{path}: nudge_stances must be true or false")
    return Settings(
        annotator=data.get("annotator"),
        db=data.get("db"),
        schema=data.get("schema"),
        theme=data.get("theme"),
        keys=dict(keys),
        path=path,
        nudge_stances=nudge,
    )


def resolve_db(flag: str | None, settings: Settings) -> Path:
    if flag is not None and not flag.strip():  # Path("") is "." : never guess ./stanceterm.db
        raise ConfigError("--db: empty path; name a database file")
    return Path(flag or os.environ.get(ENV_DB) or settings.db or DEFAULT_DB)


def resolve_schema(flag: str | None, settings: Settings) -> Path | None:
    """An explicitly chosen schema file, or None to use the DB's (or the bundled default)."""
    value = flag or os.environ.get(ENV_SCHEMA) or settings.schema
    return Path(value) if value else None


def resolve_annotator(flag: str | None, settings: Settings) -> str | None:
    value = flag or os.environ.get(ENV_ANNOTATOR) or settings.annotator
    return value.strip() if value and value.strip() else None


def demo_article_path() -> Path:
    from importlib import resources

    packaged = resources.files("stanceterm").joinpath("_data/putin-kim-arms-fr.txt")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "data" / "putin-kim-arms-fr.txt"


def resolve_theme(settings: Settings) -> str | None:
    """The TUI theme: $STANCETERM_THEME, else the config file's ``theme``, else None (default)."""
    return os.environ.get(ENV_THEME) or settings.theme or None


def _shown(path: Path) -> str:
    """A path as a user would type it: relative ones from the current folder, ``./`` first."""
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return str(path)
    text = str(path)
    return text if "/" in text else "./" + text


def missing_db_message(path: Path, found: list[Path]) -> str:
    """ "no such database ./stanceterm.db; found stanceterm-demo.db: pass --db stanceterm-demo.db"."""
    import shlex

    where = _shown(path)
    if not found:
        return (
            f"no such database {where}; no stanceterm database in {_shown(path.parent)}: "
            "run `stanceterm import FILES` (or `stanceterm demo`) to make one, or pass --db PATH"
        )
    names = [str(p) for p in found]  # as the folder was given: "x.db", "data/x.db"
    if len(names) == 1:
        return f"no such database {where}; found {names[0]}: pass --db {shlex.quote(names[0])}"
    return f"no such database {where}; found {', '.join(names)}: pass --db with one of them"


def next_commands(db: Path, annotator: str) -> list[str]:
    """The commands to run after ``stanceterm demo``, with its --db."""
    import shlex

    flag = f"--db {shlex.quote(str(db))}"
    return [
        f"stanceterm {flag} annotate --annotator {shlex.quote(annotator)}",
        f"stanceterm {flag} stats",
        f"stanceterm {flag} export --kind annotations",
        f"stanceterm {flag} export --kind final",  # hour2: the dataset to ship (issue 15 §6)
    ]
