"""Benchmark corpora from real public text (see benchmarks/README.md, "Real text").

The articles in benchmarks/data/text/*.jsonl.xz were cut from public repositories by
benchmarks/data/text/extract.py (BBC News 2004-05, AG News test split, and French and English
Universal Dependencies treebanks), with exact-duplicate paragraphs dropped across sources.
Nothing here writes, templates or replicates text: a corpus of N sentences is the first articles,
sources interleaved round robin, whose sentences add up to N. When the sources hold fewer unique
sentences than asked, the corpus stops there and says so (``Corpus.short``); it never repeats one.

Held-out split: an article whose id hashes to 0 mod 10 (blake2b) is *held out*; the fast path of
segment.py and every other tuning uses only ``split="tune"``; figures are reported on
``split="all"`` and ``split="heldout"``.

Labels for 3-4 annotators (``make_labels``): about 70% of sentences have no claim; a claim's
stance rows name actors taken from the capitalised names of *that sentence* (many distinct
actors), else the label schema's actors; annotators share a per-sentence "truth" and differ by
per-annotator habits (how often they tag a claim, pick another actor or another stance, skip).

    python benchmarks/realtext.py --sentences 30000 --out corpus.jsonl   # writes and prints counts
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from _common import upgrade_cached

DATA = Path(__file__).resolve().parent / "data" / "text"
SOURCES: tuple[str, ...] = (
    "bbc",
    "ag_news",
    "ud_en_gum",
    "ud_en_ewt",
    "ud_fr_gsd",
    "ud_fr_sequoia",
    "ud_fr_parisstories",
    "ud_fr_rhapsodie",
)
# cheap sentence estimate for sizing (the import's own count is the figure that is reported)
_SENT_END = re.compile(r"[.!?…»\"”)](?:\s+|$)(?=[A-Z«\"“À-Ý0-9]|$)")


def estimate_sentences(text: str) -> int:
    return max(1, len(_SENT_END.findall(text)))


def is_heldout(article_id: str) -> bool:
    return hashlib.blake2b(article_id.encode(), digest_size=4).digest()[0] % 10 == 0


def iter_source(name: str) -> Iterator[dict[str, str]]:
    with lzma.open(DATA / f"{name}.jsonl.xz", "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def iter_articles(split: str = "all", sources: Sequence[str] = SOURCES) -> Iterator[dict[str, str]]:
    """All articles, the sources interleaved round robin (so any prefix mixes fr and en)."""
    if split not in ("all", "tune", "heldout"):
        raise ValueError(f"unknown split {split!r}")
    gens = [iter_source(s) for s in sources]
    while gens:
        alive = []
        for g in gens:
            art = next(g, None)
            if art is None:
                continue
            alive.append(g)
            held = is_heldout(art["id"])
            if split == "all" or (split == "heldout") == held:
                yield art
        gens = alive


@dataclass
class Corpus:
    articles: list[dict[str, str]]
    sentences_estimate: int
    asked: int
    short: bool
    per_source: dict[str, int] = field(default_factory=dict)

    @property
    def note(self) -> str:
        src = ", ".join(f"{k} {v}" for k, v in sorted(self.per_source.items()))
        s = f"real text, {len(self.articles)} articles, ~{self.sentences_estimate} sentences ({src})"
        if self.short:
            s += f"; SHORT of {self.asked}: every unique sentence available is used"
        return s


def build_corpus(sentences: int, split: str = "all") -> Corpus:
    arts: list[dict[str, str]] = []
    n = 0
    per: dict[str, int] = {}
    for art in iter_articles(split):
        if n >= sentences:
            break
        arts.append(art)
        k = estimate_sentences(art["text"]) + (1 if art.get("title") else 0)
        n += k
        per[art["source"]] = per.get(art["source"], 0) + k
    return Corpus(arts, n, sentences, n < sentences, per)


def write_jsonl(corpus: Corpus, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for a in corpus.articles:
            rec = {
                "id": a["id"],
                "title": a["title"] or None,
                "source": a["source"],
                "text": a["text"],
            }
            rec["lang"] = a["lang"]
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


# ------------------------------------------------------------------------------------------
# labels
# ------------------------------------------------------------------------------------------

CLAIMS = ("arms_deal", "denial", "sanctions_efficacy")
STANCES = ("support", "oppose", "neutral")
SCHEMA_ACTORS = ("Vladimir Poutine", "Kim Jong Un", "la Russie", "les États-Unis", "l'ONU")
# a name: capitalised words (with French particles) not at the sentence start
_NAME = re.compile(
    r"(?<=[a-zà-ÿ,;:] )(?:[A-ZÀ-Ý][\w'’-]+)(?:\s(?:de\s|du\s|la\s|von\s|van\s)?[A-ZÀ-Ý][\w'’-]+){0,3}"
)


def names(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0) for m in _NAME.finditer(text)))


@dataclass(frozen=True)
class Habit:
    """One annotator's habits (rates of departing from the shared truth)."""

    miss_claim: float
    extra_claim: float
    other_actor: float
    other_stance: float
    skip: float


HABITS = (
    Habit(0.10, 0.03, 0.08, 0.15, 0.04),
    Habit(0.18, 0.06, 0.12, 0.20, 0.08),
    Habit(0.07, 0.02, 0.05, 0.10, 0.02),
    Habit(0.25, 0.10, 0.20, 0.30, 0.12),
)


def make_labels(
    sentences: Sequence[tuple[str, str]], annotators: int = 4, seed: int = 0
) -> Iterator[dict[str, object]]:
    """Annotation records (the import-labels format) for (sentence_id, text) pairs."""
    if not 1 <= annotators <= len(HABITS):
        raise ValueError(f"annotators must be 1..{len(HABITS)}")
    rng = random.Random(seed)
    stamp = "2026-11-30T12:00:00Z"
    for sid, text in sentences:
        cands = names(text) or list(SCHEMA_ACTORS)
        r = rng.random()
        truth: list[str] = [] if r < 0.7 else rng.sample(CLAIMS, 1 if r < 0.93 else 2)
        rows = {c: (rng.choice(cands), rng.choices(STANCES, (0.45, 0.35, 0.2))[0]) for c in truth}
        for k in range(annotators):
            h = HABITS[k]
            rec: dict[str, object] = {"sentence_id": sid, "annotator": f"ann{k + 1}"}
            rec["created_at"] = rec["updated_at"] = stamp
            if rng.random() < h.skip:
                rec.update(status="skipped", claims=[], stances=[])
                yield rec
                continue
            claims = [c for c in truth if rng.random() >= h.miss_claim]
            if rng.random() < h.extra_claim:
                extra = rng.choice(CLAIMS)
                if extra not in claims:
                    claims.append(extra)
                    rows.setdefault(extra, (rng.choice(cands), rng.choice(STANCES)))
            stances = []
            for c in claims:
                actor, st = rows[c]
                if rng.random() < h.other_actor:
                    actor = rng.choice(cands)
                if rng.random() < h.other_stance:
                    st = rng.choice(STANCES)
                stances.append({"claim": c, "actor": actor, "stance": st})
            rec.update(status="done", claims=claims, stances=stances)
            yield rec


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sentences", type=int, default=30_000)
    ap.add_argument("--split", default="all", choices=("all", "tune", "heldout"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    c = build_corpus(args.sentences, args.split)
    print(c.note)
    if args.out:
        write_jsonl(c, args.out)


if __name__ == "__main__":
    main()


def build_db(
    sentences: int, annotators: int, work: Path, seed: int = 0
) -> tuple[Path, Corpus, int]:
    """A stanceterm DB of real text with varied labels, built as a user would: ``stanceterm
    import`` of the corpus, then ``stanceterm import-labels`` of make_labels' records (the
    sentence ids and texts read back read-only). Cached in ``work`` by size; returns (db, corpus,
    number of label records)."""
    import sqlite3
    import subprocess
    import sys

    work.mkdir(parents=True, exist_ok=True)
    corpus = build_corpus(sentences)
    db = work / f"real-{sentences}-{annotators}-{seed}.db"
    done = db.with_suffix(".labels")
    if db.exists() and done.exists():
        return upgrade_cached(db), corpus, int(done.read_text())
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    src = work / f"real-{sentences}.jsonl"
    write_jsonl(corpus, src)
    root = Path(__file__).resolve().parents[1]
    env = {**__import__("os").environ, "PYTHONPATH": str(root / "src")}
    cli = [sys.executable, "-m", "stanceterm", "--db", str(db)]
    subprocess.run([*cli, "import", "-q", str(src)], check=True, env=env)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = con.execute("SELECT id, text FROM sentences ORDER BY rowid").fetchall()
    labels = work / f"real-{sentences}-{annotators}-{seed}.labels.jsonl"
    n = 0
    with open(labels, "w", encoding="utf-8") as fh:
        for rec in make_labels(rows, annotators, seed):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    subprocess.run(
        [*cli, "import-labels", str(labels)], check=True, env=env, stdout=subprocess.DEVNULL
    )
    done.write_text(str(n))
    return db, corpus, n


def unique_paragraphs(
    split: str, normalize: Callable[[str], str], max_chars: int = 20_000
) -> Iterator[tuple[str, str]]:
    """(paragraph, lang) of every distinct line of the titles and texts of ``split`` (all,
    heldout, tune), through ``normalize`` (``stanceterm.segment.normalize``), skipping blank ones
    and those over ``max_chars``: what the segmentation benchmarks and checks walk."""
    seen: set[tuple[str, str]] = set()
    for art in iter_articles(split):
        lang = "fr" if art["lang"] == "fr" else "en"
        for line in "\n".join([art["title"], art["text"]]).splitlines():
            p = normalize(line)
            if not p or (p, lang) in seen or len(p) > max_chars:
                continue
            seen.add((p, lang))
            yield p, lang


def halves_of_real(real: Sequence[str], rng: random.Random, seen: set[str]) -> Iterator[str]:
    """Endless new sentences beyond the real text, each the first half of one real sentence and
    the second half of another, never one in ``seen`` (which it extends): the **synthetic-from-
    real** rule of every 1M benchmark size (say so beside each figure it produces)."""
    while True:
        a, b = rng.choice(real), rng.choice(real)
        t = a[: len(a) // 2] + b[len(b) // 2 :]
        if t not in seen:
            seen.add(t)
            yield t


def complete_db(db: Path, sentences: int, out: Path, seed: int = 17) -> tuple[Path, int, int]:
    """A copy of ``db`` (a :func:`build_db` DB holding every real sentence available) completed
    to ``sentences`` sentences, for sizes beyond the real text: each new sentence is the first
    half of one real sentence of the DB and the second half of another (each pair once, no
    sentence twice), in articles of 50 (the rule of benchmarks/search_speed.py). They are
    **synthetic-from-real**: say so beside every figure. Written through the store (the FTS
    index's trigger included), in short transactions. Cached in ``out``; returns (path, real
    sentences, total)."""
    import sqlite3

    from stanceterm.segment import match_key
    from stanceterm.store import ImportCounts, NewArticle, Store

    done = out.with_suffix(".complete")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        real = [str(r[0]) for r in con.execute("SELECT text FROM sentences ORDER BY seq")]
    if out.exists() and done.exists():
        return upgrade_cached(out), len(real), int(done.read_text())
    for suffix in ("", "-wal", "-shm"):
        Path(str(out) + suffix).unlink(missing_ok=True)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        con.execute("VACUUM INTO ?", (str(out),))
    more = halves_of_real(real, random.Random(seed), set(real))
    store = Store.open(out)
    total, per, batch = len(real), 50, 200
    art = 0
    while total < sentences:
        articles = []
        for _ in range(batch):
            chunk = list(islice(more, max(0, min(per, sentences - total))))
            if not chunk:
                break
            articles.append(
                NewArticle(
                    id=f"synthetic-from-real/{art}",
                    title=None,
                    source="synthetic-from-real",
                    url=None,
                    published=None,
                    lang="en",
                    content_hash=f"synthetic-from-real/{art}",
                    sentences=chunk,
                    norms=[match_key(t) for t in chunk],
                )
            )
            art += 1
            total += len(chunk)
        with store.tx():
            store.corpus.insert_articles(articles, ImportCounts())
    store.close()
    done.write_text(str(total))
    return out, len(real), total
