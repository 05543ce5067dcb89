"""Streaming JSONL writers (annotations, sentences, gold) and the import-labels reader.

Writers never leave a half-written file, even when killed: they write to an unnamed file beside
the target and rename it into place at the end (see :func:`atomic_output`). Lines are orjson-encoded with a fixed key order, so an export,
imported back with :func:`import_labels` and exported again, is byte-identical.

Size: over 600 lines because the writers (annotations, sentences, gold and the gold history)
and the import-labels reader (validation, text check, staging) share one record format, key
order and actor rendering; each writer and each reading step is a short function.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from pydantic import ValidationError

from stanceterm import fileguard
from stanceterm.actors import alias_key
from stanceterm.procs import gc_paused
from stanceterm.records import AnnotationRecord, SuggestedRecord, describe_error
from stanceterm.schema import (
    ANNOTATOR_MAX,
    SCHEMA_VERSION,
    STATUSES,
    LabelSchema,
    check_annotator_name,
)
from stanceterm.store import Store, now
from stanceterm.store.actors import free_actor_id
from stanceterm.store.models import SKEW_TOLERANCE_S, text_key
from stanceterm.textkey import normalize
from stanceterm.wording import count, verb

Kind = Literal["annotations", "sentences", "gold"]
KINDS: tuple[str, ...] = ("annotations", "sentences", "gold")
MAX_LINE_BYTES = 16 * 1024 * 1024


class LabelsError(Exception):
    """A bad line in a labels file: ``file:line: reason``."""


@dataclass(frozen=True, slots=True)
class Filters:
    annotators: Sequence[str] = ()
    statuses: Sequence[str] = ()
    articles: Sequence[str] = ()


def default_out_path(kind: str, folder: Path = Path("exports")) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"{kind}-{stamp}.jsonl"


def _unnamed_file(folder: Path) -> int | None:
    """An unnamed file in ``folder`` (Linux ``O_TMPFILE``): a process killed while writing it
    leaves nothing behind. None where the OS or file system cannot make one."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:
        return None


def _name_unnamed(fd: int, path: Path) -> str:
    """Give the unnamed file ``fd`` a temporary name beside ``path`` (linkat through /proc)."""
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    procfd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:  # a src_dir_fd makes os.link call linkat(), which can follow the /proc symlink
        os.link(str(fd), tmp, src_dir_fd=procfd, follow_symlinks=True)
    finally:
        os.close(procfd)
    return tmp


@contextmanager
def atomic_output(target: str | Path) -> Iterator[IO[bytes]]:
    """A binary stream for ``target`` ('-' is stdout) that never leaves a half-written file.

    The data goes to an unnamed file in the target's folder, which gets a name and is renamed over
    the target only once complete: a crash or kill -9 while writing leaves the target as it was
    and no temporary file beside it. Where unnamed files are not available, a named temporary
    file is used (removed on any error, but left behind by a kill -9).
    """
    if str(target) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    if fileguard.is_connected(path):
        raise fileguard.ConnectedFileError(
            f"{path}: is the open database; refusing to write an export over it"
        )
    if path.exists() and not path.is_file():
        # a device or a pipe (/dev/null, a FIFO): there is nothing to replace, write straight in
        with path.open("wb") as f:
            yield f
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp: str | None = None
    fd = _unnamed_file(path.parent)
    if fd is None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=1024 * 1024) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:
                tmp = _name_unnamed(f.fileno(), path)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- writers

#: rows per fetch from SQLite (one statement: the export reads one snapshot)
FETCH_ROWS = 10_000
#: writers end each line with its newline (orjson appends it: no copy of the line)
NL = orjson.OPT_APPEND_NEWLINE


def _tight(data: bytes) -> bytes:
    """A copy of orjson's output in a buffer of its own size: orjson returns bytes whose buffer
    is over-allocated (kilobytes for a short line), which a long-lived cache would keep."""
    return memoryview(data).tobytes()


@dataclass
class ExportCounts:
    """What an export wrote, and the drafts its status filter left out (counted in the same
    pass over the labels: no second query for the hint of issue 12 §6)."""

    lines: int = 0
    drafts_left_out: int = 0


def _stances(raw: str, names: dict[str, str]) -> list[dict[str, str]]:
    return [
        {
            "claim": d["claim"],
            "actor": names.get(d["actor"], d["actor"]),
            "stance": d["stance"],
            "actor_id": d["actor"],
        }
        for d in orjson.loads(raw)
    ]


class _StanceRenderer:
    """Stored stances JSON -> exported fragment (actor ids resolved to names), memoised.

    Many rows share the same stances, so rendering is cached; the cache is bounded (``limit``
    entries, emptied when full; each entry stored tightly: a few MB whatever the export).
    Claims JSON from the DB is already canonical and is spliced in as an
    :class:`orjson.Fragment` without re-parsing.
    """

    def __init__(self, names: dict[str, str], limit: int = 20_000) -> None:
        self.names, self.limit = names, limit
        self.cache: dict[str, orjson.Fragment] = {}
        self.empty = orjson.Fragment(b"[]")

    def __call__(self, raw: str) -> orjson.Fragment:
        if raw == "[]":
            return self.empty
        frag = self.cache.get(raw)
        if frag is None:
            if len(self.cache) >= self.limit:
                self.cache.clear()
            frag = orjson.Fragment(_tight(orjson.dumps(_stances(raw, self.names))))
            self.cache[raw] = frag
        return frag


def _label_query(filters: Filters) -> tuple[tuple[str, ...], bool]:
    """The statuses to read for ``filters`` and whether drafts are read only to be counted:
    when the filter names statuses without ``draft``, the drafts come in the same pass, are
    counted (the hint) and not written."""
    statuses = tuple(filters.statuses)
    count_drafts = bool(statuses) and "draft" not in statuses
    return ((*statuses, "draft") if count_drafts else statuses), count_drafts


def annotation_lines(
    store: Store, filters: Filters = Filters(), counts: ExportCounts | None = None
) -> Iterator[bytes]:
    """Annotation lines, in sentence order, then annotator: one SQL pass with the sentence
    pre-joined, fetched in large batches; each line is written as soon as it is made (a batch
    of lines held back would hold orjson's over-allocated buffers)."""
    counts = counts if counts is not None else ExportCounts()
    render = _StanceRenderer(store.actors.names())
    dumps, fragment = orjson.dumps, orjson.Fragment
    statuses, count_drafts = _label_query(filters)
    drafts = 0
    for rows in store.labels.iter_row_batches(
        annotators=filters.annotators,
        statuses=statuses,
        articles=filters.articles,
        batch=FETCH_ROWS,
    ):
        for (
            sid,
            aid,
            text,
            annotator,
            status,
            claims,
            stances,
            prop,
            note,
            created,
            updated,
            suggested,
        ) in rows:
            if count_drafts and status == "draft":
                drafts += 1
                continue
            if status == "skipped":  # missing data: what was tagged before stays in the history
                claims, stances = "[]", "[]"
            record = {
                "schema_version": SCHEMA_VERSION,
                "sentence_id": sid,
                "article_id": aid,
                "text": text,
                "annotator": annotator,
                "status": status,
                "claims": fragment(claims),
                "stances": render(stances),
                "propagated_from": prop,
                "note": note,
                "created_at": created,
                "updated_at": updated,
            }
            if suggested is not None:  # provenance; absent: no suggestion was shown (typed)
                record["suggested"] = fragment(suggested)
            yield dumps(record, option=NL)
    counts.drafts_left_out = drafts


def drafts_hint(n: int) -> str:
    """What an export says about the drafts it left out."""
    return (
        f"{count(n, 'draft')} left out (labels changed but not accepted with Enter); "
        f"add --status draft to export {verb(n, 'it', 'them')}"
    )


def sentence_lines(
    store: Store, filters: Filters = Filters(), counts: ExportCounts | None = None
) -> Iterator[bytes]:
    """One line per sentence with its annotations (annotations are matched by a merge walk)."""
    counts = counts if counts is not None else ExportCounts()
    names = store.actors.names()
    render = _StanceRenderer(names)
    statuses, count_drafts = _label_query(filters)
    drafts = 0
    anns = store.labels.iter_rows(
        annotators=filters.annotators,
        statuses=statuses,
        articles=filters.articles,
        batch=FETCH_ROWS,
    )
    pending = next(anns, None)
    # Both streams are in sentence order: walk them together instead of a query per sentence.
    for _seq, sid, aid, idx, text, cluster in store.corpus.iter_sentence_rows(
        articles=filters.articles, batch=FETCH_ROWS
    ):
        mine: list[dict[str, Any]] = []
        while pending is not None and pending[0] == sid:
            _, _, _, annotator, status, claims, stances, prop, note, _created, updated = pending[
                :11
            ]
            pending = next(anns, None)
            if count_drafts and status == "draft":
                drafts += 1
                continue
            if status == "skipped":  # missing data (as in annotation_lines)
                claims, stances = "[]", "[]"
            mine.append(
                {
                    "annotator": annotator,
                    "status": status,
                    "claims": orjson.loads(claims),
                    "stances": render(stances),
                    "propagated_from": prop,
                    "note": note,
                    "updated_at": updated,
                }
            )
        yield orjson.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "sentence_id": sid,
                "article_id": aid,
                "index": idx,
                "text": text,
                "cluster_id": cluster,
                "annotations": mine,
            },
            option=NL,
        )
    counts.drafts_left_out = drafts


def gold_lines(
    store: Store, filters: Filters = Filters(), counts: ExportCounts | None = None
) -> Iterator[bytes]:
    """One line per sentence with a gold record: the gold labels (actor names resolved), the
    adjudicator, the decision time and the annotators' versions it was made from (``sources``,
    each with the ``updated_at`` that identifies the version). Only ``--article`` filters gold.
    A copy of a dedup cluster carries the decision made on its representative, marked with
    ``propagated_from`` (a cluster is one unit)."""
    names = store.actors.names()
    render = _StanceRenderer(names)
    for (
        sid,
        aid,
        text,
        status,
        claims,
        stances,
        adj,
        chosen,
        sources,
        note,
        updated,
        propagated_from,
    ) in store.gold.iter_rows(articles=filters.articles):
        srcs = [
            {
                "annotator": s["annotator"],
                "status": s["status"],
                "claims": s["claims"],
                "stances": [
                    {**st, "actor": names.get(st["actor"], st["actor"]), "actor_id": st["actor"]}
                    for st in s["stances"]
                ],
                "note": s.get("note"),
                "updated_at": s.get("updated_at"),
            }
            for s in orjson.loads(sources)
        ]
        yield orjson.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "sentence_id": sid,
                "article_id": aid,
                "text": text,
                "status": status,
                "claims": orjson.loads(claims),
                "stances": render(stances),
                "adjudicator": adj,
                "chosen_from": chosen,
                "sources": srcs,
                "note": note,
                "decided_at": updated,
                "propagated_from": propagated_from,
            },
            option=NL,
        )


def gold_history_lines(
    store: Store, filters: Filters = Filters(), counts: ExportCounts | None = None
) -> Iterator[bytes]:
    """One line per gold event (``export --kind gold --history``), by sentence then (ts, uid):
    the adjudicator, the time, the action (``decide``, ``undo``, ``restore``), the decision made
    (``labels``, null when the gold was removed) and the one replaced (``replaced``), the event
    it undoes, where it was made (``origin``: null here, ``merge:<db>`` elsewhere) and whether
    it is the decision standing now (``standing``)."""
    names = store.actors.names()
    standing: dict[str, str | None] = {}
    rows = list(store.gold.iter_history(articles=filters.articles))
    for ev in rows:  # the latest event of each sentence by (ts, uid) stands
        sid = ev["sentence_id"]
        best = standing.get(sid)
        if best is None or (ev["ts"], ev["uid"] or "") > tuple(best.split("\x1f")):
            standing[sid] = f"{ev['ts']}\x1f{ev['uid'] or ''}"

    def decision(raw: str | None) -> dict[str, Any] | None:
        if raw is None:
            return None
        d = orjson.loads(raw)
        return {
            "status": d["status"],
            "claims": d["claims"],
            "stances": [
                {**st, "actor": names.get(st["actor"], st["actor"]), "actor_id": st["actor"]}
                for st in d["stances"]
            ],
            "adjudicator": d["adjudicator"],
            "chosen_from": d.get("chosen_from"),
            "note": d.get("note"),
            "decided_at": d.get("updated_at"),
        }

    for ev in rows:
        yield orjson.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "sentence_id": ev["sentence_id"],
                "event_id": ev["uid"],
                "time": ev["ts"],
                "adjudicator": ev["adjudicator"],
                "action": ev["action"],
                "labels": decision(ev["after"]),
                "replaced": decision(ev["before"]),
                "undoes": ev["undoes"],
                "origin": ev["origin"],
                "standing": standing[ev["sentence_id"]] == f"{ev['ts']}\x1f{ev['uid'] or ''}",
            },
            option=NL,
        )


#: kind -> writer: ``writer(store, filters, counts)`` yields lines, each ending with b"\\n"
Writer = Callable[[Store, Filters, ExportCounts], Iterator[bytes]]
WRITERS: dict[str, Writer] = {
    "annotations": annotation_lines,
    "sentences": sentence_lines,
    "gold": gold_lines,
    "gold-history": gold_history_lines,
}


def export(
    store: Store,
    kind: str,
    out: str | Path,
    filters: Filters = Filters(),
    counts: ExportCounts | None = None,
) -> int:
    """Write ``kind`` records to ``out`` (or stdout for '-'); returns the number of lines.
    ``counts`` (if given) also gets the drafts that ``filters`` left out."""
    counts = counts if counts is not None else ExportCounts()
    writer = WRITERS[kind]
    with atomic_output(out) as f:
        write = f.write
        n = 0
        for line in writer(store, filters, counts):
            write(line)
            n += 1
    counts.lines = n
    return n


# --------------------------------------------------------------------------- import-labels


@dataclass
class LabelsResult:
    written: int = 0
    unchanged: int = 0
    actors_created: int = 0
    #: records older than (or as old as) the DB's label for their (sentence, annotator): kept
    kept_newer: int = 0
    run_id: str = ""
    #: True when an interrupted run of the same file was resumed
    resumed: bool = False
    #: records dated (updated_at) more than the clock-skew tolerance ahead of this machine's
    #: clock, the latest such date, and how far ahead of the clock it was (seconds)
    future_records: int = 0
    future_latest: str = ""
    future_ahead_s: float = 0.0


def _json_lines(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """(line number, raw line, JSON object) of every non-blank line of a JSONL file, with the
    one-line errors (``file:line: ...``) for an over-long line, a NUL byte, broken JSON or
    UTF-8, and a value that is not an object. Refuses the open DB (:mod:`stanceterm.fileguard`)."""
    if fileguard.is_connected(path):
        raise LabelsError(f"{path}: is the open database, not a labels file; refusing to read it")
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    with path.open("rb") as f:
        readline = f.readline
        limit = MAX_LINE_BYTES + 1
        lineno = 0
        while True:
            raw = readline(limit)
            if not raw:
                return
            lineno += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise LabelsError(f"{path}:{lineno}: line longer than {MAX_LINE_BYTES} bytes")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            if b"\x00" in raw:
                raise LabelsError(f"{path}:{lineno}: NUL byte in input")
            try:
                data = loads(raw)
            except decode_error as exc:
                reason = "invalid UTF-8" if "utf-8" in str(exc).lower() else f"broken JSON: {exc}"
                raise LabelsError(f"{path}:{lineno}: {reason}") from None
            if not isinstance(data, dict):
                raise LabelsError(
                    f"{path}:{lineno}: expected a JSON object, got {type(data).__name__}"
                )
            yield lineno, raw, data


def _read_records(path: Path) -> Iterator[tuple[int, AnnotationRecord]]:
    for lineno, _raw, data in _json_lines(path):
        try:
            rec = AnnotationRecord.model_validate(data)
        except ValidationError as exc:
            raise LabelsError(f"{path}:{lineno}: {describe_error(exc)}") from None
        yield lineno, rec


def read_label_records(
    path: Path, check: Callable[[str, AnnotationRecord], None] | None = None
) -> Iterator[tuple[int, AnnotationRecord]]:
    """The valid records of an annotations file with their line numbers; ``check(where, rec)``
    runs first on each; a second record for one (sentence, annotator) is an error naming both
    lines. Raises :class:`LabelsError` (``file:line: reason``)."""
    seen: dict[tuple[str, str], int] = {}
    for lineno, rec in _read_records(path):
        where = f"{path}:{lineno}"
        if check is not None:
            check(where, rec)
        key = (rec.sentence_id, rec.annotator)
        if key in seen:
            raise LabelsError(
                f"{where}: duplicate record for sentence {rec.sentence_id!r} by "
                f"{rec.annotator!r} (first at line {seen[key]})"
            )
        seen[key] = lineno
        yield lineno, rec


def _check_strings(where: str, rec: AnnotationRecord) -> None:
    values = [rec.sentence_id, rec.annotator, rec.note or "", *rec.claims]
    values += [v for s in rec.stances for v in (s.claim, s.actor, s.stance, s.actor_id or "")]
    if any("\x00" in v for v in values):
        raise LabelsError(f"{where}: NUL character in a field")


# --- safeimport: staged, batched, newer-wins import-labels (issue 12 §3, §5) ----------------

_CANONICAL_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
STAGE_ROWS = 5000
APPLY_BATCH = 2000
#: each apply transaction aims at this many seconds (the batch size adapts to the machine)
APPLY_TX_SECONDS = 0.04


@functools.lru_cache(maxsize=4096)
def _iso_to_canonical(value: str) -> str | None:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return ""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_ts(where: str, field: str, value: str | None) -> str | None:
    """A timestamp in the store's one format (UTC, microseconds, ``Z``), so that "older"
    compares instants, whatever ISO 8601 spelling the file used."""
    if value is None or _CANONICAL_TS.match(value):
        return value
    got = _iso_to_canonical(value)
    if got is None:
        raise LabelsError(f"{where}: {field}: not an ISO 8601 timestamp: {value!r}")
    if not got:
        raise LabelsError(f"{where}: {field}: timestamp without a time zone: {value!r}")
    return got


def _same_text(given: str, stored: str) -> bool:
    return given == stored or normalize(given) == normalize(stored)


# --- labelsio: the fast reader of import-labels (issue 17: >= 30k labels/s) -----------------
#
# A record with the export's exact shape and types (what ``stanceterm export`` writes, and
# hand-written files of the same plain types) skips pydantic: :func:`_fast_fields` accepts it
# only when :class:`AnnotationRecord` would accept it unchanged, and gives the same values.
# Anything else (a missing or extra key, another type that pydantic might coerce or refuse) goes
# through pydantic, so the error lines stay word for word what they were.

#: One record as import-labels uses it: (sentence_id, article_id, text, annotator, status,
#: claims, stances as (claim, actor, stance, actor_id) tuples, propagated_from, note,
#: suggested (JSON text, sorted keys, or None), created_at, updated_at).
Fields = tuple[Any, ...]
_RECORD_KEYS = frozenset(AnnotationRecord.model_fields)
_STANCE_KEYS = frozenset(("claim", "actor", "stance", "actor_id"))
_SUGGESTED_KEYS = frozenset(SuggestedRecord.model_fields)
_STATUSES = frozenset(STATUSES)
#: the records checked against the DB with one query (and staged) at a time
CHECK_CHUNK = 5000


def _name_ok(name: str, cache: dict[str, bool]) -> bool:
    ok = cache.get(name)
    if ok is None:
        try:
            ok = check_annotator_name(name) == name and len(name) <= ANNOTATOR_MAX
        except ValueError:
            ok = False
        cache[name] = ok
    return ok


#: the types of an optional string field
_OPT_STR = (str, type(None))


#: the keys of a record in the order ``export --kind annotations`` writes them (then
#: ``suggested`` when there is one): such a record is unpacked without one lookup per key
_EXPORT_ORDER = (
    "schema_version", "sentence_id", "article_id", "text", "annotator", "status", "claims",
    "stances", "propagated_from", "note", "created_at", "updated_at",
)  # fmt: skip
_EXPORT_ORDER_SUGGESTED = (*_EXPORT_ORDER, "suggested")
_STANCE_ORDER = ("claim", "actor", "stance", "actor_id")


def _fast_fields(d: dict[str, Any], names: dict[str, bool]) -> Fields | None:
    """The record's fields when ``d`` has exactly the shape and types :class:`AnnotationRecord`
    takes unchanged; None: let pydantic decide (and word the error)."""
    keys = tuple(d)
    suggested: Any = None
    if keys == _EXPORT_ORDER:
        (version, sid, article_id, text, annotator, status, claims, stances, propagated_from,
         note, created_at, updated_at) = d.values()  # fmt: skip
    elif keys == _EXPORT_ORDER_SUGGESTED:
        (version, sid, article_id, text, annotator, status, claims, stances, propagated_from,
         note, created_at, updated_at, suggested) = d.values()  # fmt: skip
    else:
        if not _RECORD_KEYS.issuperset(d):
            return None
        get = d.get
        version = get("schema_version", SCHEMA_VERSION)
        sid, annotator, status = get("sentence_id"), get("annotator"), get("status")
        article_id, text, note = get("article_id"), get("text"), get("note")
        propagated_from, created_at, updated_at = (
            get("propagated_from"),
            get("created_at"),
            get("updated_at"),
        )
        claims, stances, suggested = get("claims", []), get("stances", []), get("suggested")
    if type(sid) is not str or type(annotator) is not str or type(status) is not str:
        return None
    if status not in _STATUSES or not _name_ok(annotator, names):
        return None
    if type(version) is not int or not 1 <= version <= SCHEMA_VERSION:
        return None
    if (
        type(article_id) not in _OPT_STR
        or type(text) not in _OPT_STR
        or type(propagated_from) not in _OPT_STR
        or type(note) not in _OPT_STR
        or type(created_at) not in _OPT_STR
        or type(updated_at) not in _OPT_STR
    ):
        return None
    if type(claims) is not list or (claims and any(type(x) is not str for x in claims)):
        return None
    if type(stances) is not list:
        return None
    fields = []
    for st in stances:
        if type(st) is not dict:
            return None
        if tuple(st) == _STANCE_ORDER:
            claim, actor, stance, actor_id = st.values()
        else:
            if not _STANCE_KEYS.issuperset(st):
                return None
            claim, actor, stance, actor_id = (
                st.get("claim"),
                st.get("actor"),
                st.get("stance"),
                st.get("actor_id"),
            )
        if type(claim) is not str or type(actor) is not str or type(stance) is not str:
            return None
        if not actor or (actor_id is not None and type(actor_id) is not str):
            return None
        fields.append((claim, actor, stance, actor_id))
    if suggested is not None:
        if type(suggested) is not dict or not _SUGGESTED_KEYS.issuperset(suggested):
            return None
        s_claims, model = suggested.get("claims", []), suggested.get("model")
        accepted, applied = suggested.get("accepted"), suggested.get("applied", False)
        if type(s_claims) is not list or any(type(x) is not str for x in s_claims):
            return None
        if type(model) is not str or not 1 <= len(model) <= 500:
            return None
        if type(accepted) is not bool or type(applied) is not bool:
            return None
        suggested = orjson.dumps(
            {"claims": s_claims, "model": model, "accepted": accepted, "applied": applied},
            option=orjson.OPT_SORT_KEYS,
        ).decode()
    return (
        sid,
        article_id,
        text,
        annotator,
        status,
        claims,
        fields,
        propagated_from,
        note,
        suggested,
        created_at,
        updated_at,
    )


def _model_fields(rec: AnnotationRecord) -> Fields:
    return (
        rec.sentence_id,
        rec.article_id,
        rec.text,
        rec.annotator,
        rec.status,
        rec.claims,
        [(s.claim, s.actor, s.stance, s.actor_id) for s in rec.stances],
        rec.propagated_from,
        rec.note,
        None
        if rec.suggested is None
        else orjson.dumps(rec.suggested.model_dump(), option=orjson.OPT_SORT_KEYS).decode(),
        rec.created_at,
        rec.updated_at,
    )


def _has_nul(f: Fields) -> bool:
    values = [f[0], f[3], f[8] or "", *f[5]]
    values += [v for s in f[6] for v in (s[0], s[1], s[2], s[3] or "")]
    return any("\x00" in v for v in values)


def _label_fields(path: Path) -> Iterator[tuple[int, Fields]]:
    """(line number, fields) of every record of an annotations file, in order; the checks of
    :func:`_read_records` and :func:`_check_strings` (the same wording), through
    :func:`_fast_fields` where it applies."""
    names: dict[str, bool] = {}
    fast = _fast_fields
    for lineno, raw, data in _json_lines(path):
        fields = fast(data, names)
        if fields is None:
            try:
                fields = _model_fields(AnnotationRecord.model_validate(data))
            except ValidationError as exc:
                raise LabelsError(f"{path}:{lineno}: {describe_error(exc)}") from None
        if b"\\u0000" in raw and _has_nul(fields):  # no escape: no NUL in any string
            raise LabelsError(f"{path}:{lineno}: NUL character in a field")
        yield lineno, fields


@dataclass
class _Planner:
    """The checks against the schema and the DB, one chunk of records at a time (one query for
    the chunk's sentences), and the actors that the import will create."""

    store: Store
    path: Path
    schema: LabelSchema
    actor_ids: set[str]
    alias_keys: dict[str, str]
    new_actors: dict[str, tuple[str, str, str]]  # alias key -> (id, name, created_by)
    seen: dict[tuple[str, str], int]
    future_after: str  # updated_at later than this is dated in the future
    now_stamp: str  # the run's start: what a future-dated updated_at is clamped to
    future: int = 0
    future_latest: str = ""

    def __post_init__(self) -> None:
        self.claims_ok = set(self.schema.claim_ids)
        self.stances_ok = set(self.schema.stances)
        self.actor_cache: dict[tuple[str | None, str], str] = {}
        self.planned: set[str] = set()
        self.ts_cache: dict[str, str | None] = {}

    def _resolve(self, name_or_id: str) -> str | None:
        """As :meth:`~stanceterm.store.actors.Actors.resolve`, on the maps read at the start."""
        if name_or_id in self.actor_ids:
            return name_or_id
        return self.alias_keys.get(alias_key(name_or_id))

    def _actor(self, actor_id: str | None, name: str, annotator: str) -> str:
        ck = (actor_id, name)
        got = self.actor_cache.get(ck)
        if got is not None:
            return got
        found = self._resolve(actor_id) if actor_id is not None else None
        if found is None:
            found = self._resolve(name)
        if found is None:
            key = alias_key(name)
            if key not in self.new_actors:
                with self.store.read() as c:
                    new_id = free_actor_id(c, name, self.planned)
                self.planned.add(new_id)
                self.new_actors[key] = (new_id, name.strip(), annotator)
            found = self.new_actors[key][0]
        self.actor_cache[ck] = found
        return found

    def _ts(self, where: str, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        got = self.ts_cache.get(value)
        if got is None:
            got = _canonical_ts(where, field, value)
            self.ts_cache[value] = got
        return got

    def rows(self, chunk: list[tuple[int, Fields]]) -> list[tuple[Any, ...]]:
        """The staging rows of ``chunk`` (in :data:`_STAGE_COLS` order); raises
        :class:`LabelsError` at the first bad record, in line order."""
        wanted = {f[0] for _, f in chunk} | {f[7] for _, f in chunk if f[7] is not None}
        known = self.store.corpus.sentences_by_id(wanted)
        path, claims_ok, stances_ok, seen = self.path, self.claims_ok, self.stances_ok, self.seen
        out: list[tuple[Any, ...]] = []
        # the history events' text_key (migration v12), once per sentence of the chunk
        keys: dict[str, str] = {}
        ts_cache = self.ts_cache
        for lineno, f in chunk:
            sid, article_id, text, annotator, status, claims, stances = f[:7]
            propagated_from, note, suggested, created_at, updated_at = f[7:]
            key = (sid, annotator)
            first = seen.setdefault(key, lineno)
            if first != lineno:
                raise LabelsError(
                    f"{path}:{lineno}: duplicate record for sentence {sid!r} by "
                    f"{annotator!r} (first at line {first})"
                )
            sentence = known.get(sid)
            if sentence is None:
                raise LabelsError(f"{path}:{lineno}: unknown sentence_id {sid!r}")
            if article_id is not None and sentence[0] != article_id:
                raise LabelsError(
                    f"{path}:{lineno}: sentence {sid!r} belongs to article "
                    f"{sentence[0]!r}, not {article_id!r}"
                )
            if text is not None and not _same_text(text, sentence[1]):
                raise LabelsError(
                    f"{path}:{lineno}: sentence {sid!r} text differs from the DB's "
                    "(the article was segmented differently); refusing the file"
                )
            for claim in claims:
                if claim not in claims_ok:
                    raise LabelsError(
                        f"{path}:{lineno}: claims: unknown claim {claim!r} (schema has "
                        f"{', '.join(self.schema.claim_ids)})"
                    )
            if len(claims) > 1 and len(set(claims)) != len(claims):
                raise LabelsError(f"{path}:{lineno}: claims: listed twice")
            if propagated_from is not None and propagated_from not in known:
                raise LabelsError(
                    f"{path}:{lineno}: propagated_from: unknown sentence_id {propagated_from!r}"
                )
            rendered: list[dict[str, str]] = []
            for i, (claim, actor, stance, actor_id) in enumerate(stances):
                if claim not in claims_ok:
                    raise LabelsError(
                        f"{path}:{lineno}: stances.{i}.claim: unknown claim {claim!r}"
                    )
                if claim not in claims:
                    raise LabelsError(
                        f"{path}:{lineno}: stances.{i}.claim: {claim!r} is not among the claims"
                    )
                if stance not in stances_ok:
                    raise LabelsError(
                        f"{path}:{lineno}: stances.{i}.stance: unknown stance {stance!r} "
                        f"(schema has {', '.join(self.schema.stances)})"
                    )
                if not actor.strip():
                    raise LabelsError(f"{path}:{lineno}: stances.{i}.actor: empty actor name")
                rendered.append(
                    {
                        "claim": claim,
                        "actor": self._actor(actor_id, actor, annotator),
                        "stance": stance,
                    }
                )
            created = (
                None
                if created_at is None
                else ts_cache.get(created_at)
                or self._ts(f"{path}:{lineno}", "created_at", created_at)
            )
            updated = (
                None
                if updated_at is None
                else ts_cache.get(updated_at)
                or self._ts(f"{path}:{lineno}", "updated_at", updated_at)
            )
            if updated is not None and updated > self.future_after:
                self.future += 1
                if updated > self.future_latest:
                    self.future_latest = updated
                # clamped to the run's start (ROUND-NOTES, merge ordering): a skewed clock's
                # date would outrank every later edit, undo included, here and on replicas
                updated = self.now_stamp
                if created is not None and created > updated:
                    created = updated
            out.append(
                (
                    lineno,
                    sid,
                    annotator,
                    status,
                    orjson.dumps(claims).decode() if claims else "[]",
                    orjson.dumps(rendered).decode() if rendered else "[]",
                    note,
                    propagated_from,
                    created,
                    updated,
                    suggested,
                    keys.get(sid) or keys.setdefault(sid, text_key(sentence[1])),
                )
            )
        return out


def import_labels(
    store: Store,
    path: Path,
    schema: LabelSchema,
    *,
    force: bool = False,
    batch: int = APPLY_BATCH,
) -> LabelsResult:
    """Read an ``annotations`` export back: any bad line refuses the whole file.

    **Stage, then apply in short transactions.** The whole file is validated first, outside any
    write transaction (reads only; the records are staged in a TEMP table, which takes no lock on
    the DB), so annotators' saves never wait behind validation. Then the staged records are
    applied in write transactions of ``batch`` records each (well under a second), tagged with
    the run's id (``import_runs``; events ``origin = 'import:RUN'``). A bad line therefore
    writes nothing; a run interrupted while applying is resumed by importing the same file again
    (the applied records compare unchanged, the run keeps its id) and can be reverted as a whole
    with ``stanceterm undo-import RUN``.

    Checks: the label schema (claims, stances), sentence ids, ``article_id`` and ``text`` when
    given (after the import's normalisation: a sentence whose text differs is refused, so labels
    never land on another sentence after a change in segmentation), annotator names (one rule),
    timestamps. Actors are matched by id, then by name or alias; an unknown actor is created
    (attributed to the record's annotator). Records are read by :func:`_label_fields` and
    checked against the DB a chunk at a time (one query per :data:`CHECK_CHUNK` records).

    **Newer work wins.** A record whose ``updated_at`` is not later than the DB's label for that
    (sentence, annotator) does not replace it (a tie keeps the DB's label); ``force`` overrides.
    Records without timestamps count as "now" (the run's start), unless their labels equal the
    stored ones, so importing a hand-written file twice changes nothing. Records dated more than
    :data:`~stanceterm.store.models.SKEW_TOLERANCE_S` ahead of this machine's clock are counted
    (``future_*`` in the result: the CLI warns), as merge does for another DB's events.
    """
    result = LabelsResult()
    imports = store.imports
    started = datetime.now(UTC)
    planner = _Planner(
        store,
        path,
        schema,
        set(store.actors.names()),
        store.actors.alias_keys(),
        {},
        {},
        (started + timedelta(seconds=SKEW_TOLERANCE_S)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    records = 0
    try:
        imports.stage_begin()
        try:
            chunk: list[tuple[int, Fields]] = []
            failed: LabelsError | None = None
            try:
                # reading makes no cycles, but the collector walked the growing duplicate-key
                # map again and again: a quarter of the reader's time at 500k records
                with gc_paused():
                    for item in _label_fields(path):
                        chunk.append(item)
                        if len(chunk) >= CHECK_CHUNK:
                            imports.stage(planner.rows(chunk))
                            records += len(chunk)
                            chunk.clear()
            except LabelsError as exc:
                failed = exc  # the records before the bad line are checked first (first error)
            if chunk:
                imports.stage(planner.rows(chunk))
                records += len(chunk)
            if failed is not None:
                raise failed
            if planner.future:
                result.future_records = planner.future
                result.future_latest = planner.future_latest
                latest = datetime.strptime(planner.future_latest, "%Y-%m-%dT%H:%M:%S.%fZ")
                result.future_ahead_s = (latest.replace(tzinfo=UTC) - started).total_seconds()
            # everything is valid: apply in short transactions
            with path.open("rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            new_actors = list(planner.new_actors.values())
            with store.background_checkpoints() as checkpoint:
                run_id, resumed = imports.start(
                    str(path), digest, records, new_actors, checkpoint=checkpoint
                )
                result.run_id, result.resumed = run_id, resumed
                result.actors_created = len(new_actors)
                _apply(store, run_id, result, force=force, batch=batch, checkpoint=checkpoint)
            imports.finish(run_id)
        finally:
            imports.stage_end()
    except OSError as exc:
        raise LabelsError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return result


def _apply(
    store: Store,
    run_id: str,
    result: LabelsResult,
    *,
    force: bool,
    batch: int,
    checkpoint: Callable[[], None],
) -> None:
    """Apply the staged records in short write transactions whose size adapts to the machine
    (each aims at :data:`APPLY_TX_SECONDS`). Between two transactions annotators get a window
    of at least half the last one's length (20 ms at most): the next batch is planned then,
    from a read without the write lock (:meth:`~stanceterm.store.imports.ImportRuns.plan_batch`),
    and the rest of the window, if any, is slept."""
    imports = store.imports
    stamp = now()
    size = min(batch, 500)
    imports.stage_done()
    with imports.bulk_cache():
        plan = imports.plan_batch(None, size, force=force, stamp=stamp)
        while plan is not None:
            t0 = time.monotonic()
            plan = imports.write_batch(run_id, plan)
            released = time.monotonic()
            took = released - t0
            result.written += plan.written
            result.unchanged += plan.unchanged
            result.kept_newer += plan.kept
            # keep each transaction short whatever the machine's load: adapt the batch
            if took > APPLY_TX_SECONDS and size > 50:
                size = max(50, size // 2)
            elif took < APPLY_TX_SECONDS / 2:
                size = min(batch, size * 2)
            # copy the batch into the DB file now, without the write lock, so that an
            # annotator's commit never pays for checkpointing the import's pages (in the
            # background: the next batch is planned meanwhile)
            checkpoint()
            plan = imports.plan_batch(plan.last, size, force=force, stamp=stamp)
            rest = min(0.02, took / 2) - (time.monotonic() - released)
            if rest > 0:
                time.sleep(rest)  # the rest of the window for annotators waiting to write


# --- end safeimport
