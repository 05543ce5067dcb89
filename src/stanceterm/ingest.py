"""Files → articles → sentences in the store.

``.txt`` files hold one article (the first non-empty line is its title); ``.jsonl`` files hold one
article per line (``text`` required; ``id``, ``title``, ``source``, ``url``, ``published``, ``lang``
optional); ``.csv`` files one article per record, with the same columns (a header naming ``text``
is required; ``,``, ``;`` or tab separated); ``.html``/``.htm`` files are saved news pages, whose
main text, title, date, site name and canonical URL trafilatura extracts (the id is the canonical
URL when the page has one, else the content hash). Folders are recursed. Each file is one transaction: a file with any bad line is refused
whole, with a ``file:line: reason`` error, and the other files still import.

Reading streams: JSONL is read line by line and segmented in bounded batches across processes
(:func:`stanceterm.segment.segment_many`), so memory does not grow with the file.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson
from pydantic import ValidationError

from stanceterm import fileguard, segment
from stanceterm.records import ArticleIn, describe_error
from stanceterm.store import ImportCounts, NewArticle, Store, StoreError
from stanceterm.store.models import ChangedArticle, ReplaceRefused

MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_TXT_BYTES = 64 * 1024 * 1024
SUFFIXES = (".txt", ".jsonl", ".csv", ".html", ".htm")
#: CSV columns read (others are ignored, like unknown JSONL keys).
CSV_COLUMNS = ("text", "id", "title", "source", "url", "published", "lang")


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


def discover(paths: Iterable[str | Path], skipped: Counter[str] | None = None) -> Iterator[Path]:
    """Files to import: given files as they are, folders recursed for supported files (sorted).

    Files in folders with other suffixes are counted in ``skipped`` (suffix, lowercased ->
    count); hidden files and folders (``.DS_Store``, ``.git``) are passed over.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if any(part.startswith(".") for part in child.relative_to(p).parts):
                    continue
                if not child.is_file():
                    continue
                if child.suffix.lower() in SUFFIXES:
                    yield child
                elif skipped is not None:
                    skipped[child.suffix.lower() or "(no suffix)"] += 1
        else:
            yield p


def describe_skipped(skipped: Counter[str]) -> str | None:
    """``"skipped 1 .docx, 2 .pdf: unsupported"``, or None when nothing was skipped."""
    if not skipped:
        return None
    parts = ", ".join(f"{n} {suffix}" for suffix, n in sorted(skipped.items()))
    return f"skipped {parts}: unsupported (use {', '.join(SUFFIXES)})"


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


def _lines(path: Path, f: BinaryIO, counter: list[int]) -> Iterator[str]:
    """Decoded lines of a binary file (strict UTF-8, errors naming the line); ``counter[0]`` is
    the number of the last line read."""
    while True:
        raw = f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        counter[0] += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise IngestError(path, counter[0], f"line longer than {MAX_LINE_BYTES} bytes")
        if counter[0] == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        yield _decode(raw, path, counter[0])


def read_csv(path: Path) -> Iterator[_Pending]:
    """One article per record; the header must name a ``text`` column. Errors name the line on
    which the record starts."""
    counter = [0]
    with path.open("rb") as f:
        lines = _lines(path, f, counter)
        header = next(lines, None)
        if header is None or not header.strip():
            raise IngestError(path, 1, "empty CSV file: expected a header with a 'text' column")
        counts = {d: header.count(d) for d in (",", ";", "\t")}
        delimiter = max(counts, key=lambda d: counts[d])
        csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))

        def chained() -> Iterator[str]:
            yield header
            yield from lines

        reader = csv.reader(chained(), delimiter=delimiter, strict=True)
        try:
            columns = [c.strip().lower() for c in next(reader)]
            if "text" not in columns:
                raise IngestError(
                    path, 1, f"no 'text' column (columns: {', '.join(columns) or 'none'})"
                )
            where = {name: columns.index(name) for name in CSV_COLUMNS if name in columns}
            while True:
                start = counter[0] + 1
                try:
                    record = next(reader)
                except StopIteration:
                    return
                if not any(cell.strip() for cell in record):
                    continue
                if len(record) > len(columns):
                    raise IngestError(
                        path,
                        start,
                        f"{len(record)} fields but the header has {len(columns)}; "
                        "quote fields that contain the separator",
                    )
                data = {name: record[i] if i < len(record) else "" for name, i in where.items()}
                # empty optional cells are absent values, not empty ids or titles
                clean = {k: v for k, v in data.items() if k == "text" or v.strip()}
                try:
                    art = ArticleIn.model_validate(clean)
                except ValidationError as exc:
                    raise IngestError(path, start, describe_error(exc)) from None
                for name in ("text", "title", "id", "source", "url", "published"):
                    value = getattr(art, name)
                    if isinstance(value, str) and "\x00" in value:
                        raise IngestError(path, start, f"{name}: NUL character")
                title = segment.normalize(art.title) if art.title else None
                yield _Pending(start, art.model_copy(update={"title": title}), art.text)
        except csv.Error as exc:
            raise IngestError(path, counter[0], f"broken CSV: {exc}") from None


def read_html(path: Path) -> Iterator[_Pending]:
    """A saved news page: main text and metadata through trafilatura, boilerplate left out."""
    size = path.stat().st_size
    if size > MAX_TXT_BYTES:
        raise IngestError(path, None, f"file too large for one article ({size} bytes)")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise IngestError(path, raw.count(b"\n", 0, raw.index(b"\x00")) + 1, "NUL byte in input")
    import trafilatura  # lazy: slow to import, and only HTML imports need it

    doc = trafilatura.bare_extraction(
        raw, with_metadata=True, include_comments=False, include_tables=False
    )
    text = getattr(doc, "text", None) if doc is not None else None
    if not text or not text.strip():
        raise IngestError(path, 1, "no article text found in this page")
    title = _meta(doc, "title")
    lines = text.splitlines()
    # trafilatura keeps the headline as the first line of the text: it is the title, not a sentence
    if title and lines and segment.hash_key(lines[0]) == segment.hash_key(title):
        lines = lines[1:]
    body = "\n".join(lines)
    # a page of menus and links leaves a few words at most (trafilatura's fallbacks keep them)
    if not any(len(line.split()) >= 4 for line in lines):
        raise IngestError(path, 1, "no article text found in this page")
    url = _meta(doc, "url")
    article = ArticleIn(
        text=body,
        id=url if url and len(url) <= 200 else None,
        title=segment.normalize(title) if title else None,
        source=_meta(doc, "sitename"),
        url=url,
        published=_meta(doc, "date"),
    )
    yield _Pending(1, article, body)


def _meta(doc: object, name: str) -> str | None:
    value = getattr(doc, name, None)
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        return None
    return value.strip()


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
    replace: bool = False,
) -> FileResult:
    """Import one file in one transaction; a bad line rolls the whole file back.

    The file is read and segmented into TEMP staging tables first (no lock on the DB, so other
    processes keep writing), then copied in by one short write transaction.

    Segmentation runs on ``jobs`` worker processes (default :func:`segment.default_jobs`; small
    files stay in-process); reading, validation and writes stay in this process.

    An article id already imported with another text refuses the file (``file:line: article ID
    already imported with another text``) unless ``replace``: then the article is updated and
    labels on its unchanged sentences are kept (matched by text; see
    :func:`stanceterm.store.corpus.replace_article_in`).
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
        result.error = (
            f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(SUFFIXES)}"
        )
        return result
    readers: dict[str, Callable[[Path], Iterator[_Pending]]] = {
        ".txt": read_txt,
        ".jsonl": read_jsonl,
        ".csv": read_csv,
        ".html": read_html,
        ".htm": read_html,
    }
    reader = readers[suffix]
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
            store.corpus.commit_staged(counts, replace=replace)
    except (ChangedArticle, ReplaceRefused) as exc:  # safeimport (issue 12 §6): name the line
        # ChangedArticle: an id already imported with another text; ReplaceRefused: --replace
        # would drop a sentence a gold decision or a dedup cluster stands on
        line = (exc.origin or "").rpartition(":")[2]
        where = f"{path}:{line}" if line.isdigit() else str(path)
        hint = "; re-import with --replace to update it" if isinstance(exc, ChangedArticle) else ""
        result.error = f"{where}: {exc}{hint}"
        return result
    except StoreError as exc:
        result.error = f"{path}: {exc}"
        return result
    except IngestError as exc:
        result.error = str(exc)
        return result
    except OSError as exc:
        result.error = f"{path}: cannot read: {exc.strerror or exc}"
        return result
    result.counts = counts
    if counts.articles_added == 0 and counts.articles_skipped == 0 and not counts.articles_replaced:
        result.warning = f"{path}: no article with sentences found (empty file?)"
    return result
