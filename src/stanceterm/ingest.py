"""Files → articles → sentences in the store.

``.txt`` files hold one article (the first non-empty line is its title); ``.jsonl`` files hold one
article per line (``text`` required; ``id``, ``title``, ``source``, ``url``, ``published``, ``lang``
optional). Folders are recursed. Each file is one transaction: a file with any bad line is refused
whole, with a ``file:line: reason`` error, and the other files still import.

Reading streams: JSONL is read line by line and segmented in bounded batches across processes
(:func:`stanceterm.segment.segment_many`), so memory does not grow with the file.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from pydantic import ValidationError

from stanceterm import fileguard, segment
from stanceterm.schema import ArticleIn, describe_error
from stanceterm.store import ImportCounts, NewArticle, Store

MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_TXT_BYTES = 64 * 1024 * 1024
SUFFIXES = (".txt", ".jsonl")


class IngestError(Exception):
    """A bad input line: ``str(err)`` is ``file:line: reason``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.line = line
        self.reason = reason


@dataclass
class FileResult:
    path: str
    counts: ImportCounts = field(default_factory=ImportCounts)
    error: str | None = None
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class _Pending:
    line: int
    article: ArticleIn
    body: str


def discover(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files to import: given files as they are, folders recursed for .txt and .jsonl (sorted)."""
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUFFIXES:
                    yield child
        else:
            yield p


def _decode(raw: bytes, path: Path, line: int | None) -> str:
    """Strict UTF-8 without NUL bytes; errors name the line."""
    if line in (None, 1) and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise IngestError(path, 1, "UTF-16 text (byte order mark); re-encode the file as UTF-8")
    if b"\x00" in raw:
        where = line if line is not None else raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise IngestError(path, where, "NUL byte in input")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = line if line is not None else raw.count(b"\n", 0, exc.start) + 1
        raise IngestError(
            path, where, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}); re-encode the file as UTF-8"
        ) from None


def content_hash(title: str | None, body: str) -> str:
    # hash_key, not match_key: hashes (and the ids of articles without one) must never change
    key = segment.hash_key(title or "") + "\n" + segment.hash_key(body)
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def read_txt(path: Path) -> Iterator[_Pending]:
    size = path.stat().st_size
    if size > MAX_TXT_BYTES:
        raise IngestError(path, None, f"file too large for one article ({size} bytes)")
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = _decode(raw, path, None)
    lines = text.splitlines()
    title_at = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if title_at is None:
        return
    title = segment.normalize(lines[title_at])
    body = "\n".join(lines[title_at + 1 :])
    article = ArticleIn(text=text, title=title)
    yield _Pending(title_at + 1, article, body)


def read_jsonl(path: Path) -> Iterator[_Pending]:
    with path.open("rb") as f:
        lineno = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise IngestError(path, lineno, f"line longer than {MAX_LINE_BYTES} bytes")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            text = _decode(raw, path, lineno)
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise IngestError(path, lineno, f"broken JSON: {exc}") from None
            if not isinstance(data, dict):
                raise IngestError(
                    path, lineno, f"expected a JSON object, got {type(data).__name__}"
                )
            try:
                art = ArticleIn.model_validate(data)
            except ValidationError as exc:
                raise IngestError(path, lineno, describe_error(exc)) from None
            for name in ("text", "title", "id", "source", "url", "published"):
                value = getattr(art, name)
                if isinstance(value, str) and "\x00" in value:
                    raise IngestError(path, lineno, f"{name}: NUL character")
            title = segment.normalize(art.title) if art.title else None
            yield _Pending(lineno, art.model_copy(update={"title": title}), art.text)


def _articles(
    pendings: Iterator[_Pending],
    path: Path,
    boilerplate: Sequence[str] | None,
    jobs: int | None = None,
) -> Iterator[NewArticle]:
    queue: deque[_Pending] = deque()

    def feed() -> Iterator[tuple[str, str | None]]:
        for p in pendings:
            queue.append(p)
            yield p.body, p.article.lang

    for seg in segment.segment_many(feed(), jobs, boilerplate, norms=True):
        p = queue.popleft()
        art = p.article
        chash = content_hash(art.title, p.body)
        article_id = art.id.strip() if art.id else "a" + chash[:15]
        yield NewArticle(
            id=article_id,
            title=art.title,
            source=art.source,
            url=art.url,
            published=art.published,
            lang=seg.lang,
            content_hash=chash,
            sentences=seg.sentences,
            norms=seg.norms,
            origin=f"{path.name}:{p.line}",
        )


def import_file(
    store: Store,
    path: Path,
    boilerplate: Sequence[str] | None = None,
    on_article: Callable[[int], None] | None = None,
    jobs: int | None = None,
) -> FileResult:
    """Import one file in one transaction; a bad line rolls the whole file back.

    The file is read and segmented into TEMP staging tables first (no lock on the DB, so other
    processes keep writing), then copied in by one short write transaction.

    Segmentation runs on ``jobs`` worker processes (default :func:`segment.default_jobs`; small
    files stay in-process); reading, validation and writes stay in this process.
    """
    result = FileResult(str(path))
    suffix = path.suffix.lower()
    if not path.exists():
        result.error = f"{path}: no such file"
        return result
    if fileguard.is_connected(path):
        result.error = f"{path}: is the open database, not an article file; refusing to read it"
        return result
    if suffix not in SUFFIXES:
        result.error = f"{path}: unsupported file type {suffix or '(none)'}; use .txt or .jsonl"
        return result
    reader = read_txt if suffix == ".txt" else read_jsonl
    counts = ImportCounts()

    def counted(arts: Iterator[NewArticle]) -> Iterator[NewArticle]:
        for a in arts:
            if not a.sentences:
                continue
            yield a
            if on_article is not None:
                on_article(len(a.sentences))

    try:
        # read and segment into a staging area that locks nothing (annotators keep saving),
        # then copy in one short transaction: the file is still all-or-nothing
        store.corpus.stage_articles(counted(_articles(reader(path), path, boilerplate, jobs)))
        with store.tx():
            store.corpus.commit_staged(counts)
    except IngestError as exc:
        result.error = str(exc)
        return result
    except OSError as exc:
        result.error = f"{path}: cannot read: {exc.strerror or exc}"
        return result
    result.counts = counts
    if counts.articles_added == 0 and counts.articles_skipped == 0:
        result.warning = f"{path}: no article with sentences found (empty file?)"
    return result
