"""Every export kind is byte-identical to the exporter it replaced (issue 17, export row).

``tests/fixtures/export_golden/`` holds the output of the exporter as it was before the
one-pass rewrite (commit be73722), run on the DB that :func:`build` makes: real sentences
(BBC News, AG News, UD French GSD / Sequoia, UD English GUM; ``articles.jsonl``) plus hostile
text (quotes, backslashes, control characters, U+2028, emoji, markup), five annotators with
every status, notes, suggestion provenance, many actors (aliases, renames, quotes in names),
dedup clusters with propagated labels, gold decisions (adjudicated, unresolvable, undone,
carried to cluster copies). The DB is deterministic: its clock and uuids are replaced while it
is built. Each export runs through the CLI (``python -m stanceterm export ...``), as a user runs
it; its file and its stderr (paths replaced) must equal the golden bytes.

To regenerate the golden files (only when an export's format changes on purpose):
``python tests/test_export_golden.py``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import orjson
import pytest

from stanceterm.dedup import run_dedup
from stanceterm.schema import load_schema
from stanceterm.store import Annotation, Gold, ImportCounts, NewArticle, Stance, Store

GOLDEN = Path(__file__).parent / "fixtures" / "export_golden"

HOSTILE = [
    'He said "no" \\ twice, then \\"yes\\".',
    "Tab\there, bell\x07, escape \x1b[31mred\x1b[0m and unit \x1f sep.",
    "Line\u2028separator and paragraph\u2029separator in one sentence.",
    "Emoji 🇫🇷 and 😀, CJK 北朝鮮, RTL עברית, combining e\u0301 (NFD).",
    "[bold]markup[/bold] <script>alert(1)</script> & {json: 'no'} /slash/.",
    "Non-breaking\u00a0space, thin\u202fspace « guillemets » and ‘curly’ “quotes”.",
    "Private use \ue000, BOM \ufeff inside, max BMP \uffff? and astral \U0010fffd.",
]
CLAIMS = ("arms_deal", "denial", "sanctions_efficacy")
STANCES = ("support", "oppose", "neutral")
ANNOTATORS = ("alice", "bob", "chloé", "dmitri", "e'o")
NOTES = [None, None, None, "unsure « » [bold]", 'quote " and \\ back', "tab\tnl\nend", "ok"]


@contextmanager
def frozen_clock_and_ids(seed: int = 17) -> Iterator[None]:
    """A clock that ticks 1.5 s per reading from 2026-11-30 and seeded uuids, for a DB built
    the same way every time."""
    rng = random.Random(seed)
    t = [datetime(2026, 11, 30, 9, 0, 0, 123456, tzinfo=UTC)]

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
            t[0] += timedelta(seconds=1, microseconds=500_000)
            return t[0] if tz is not None else t[0].replace(tzinfo=None)

    with (
        mock.patch("stanceterm.store.models.datetime", Clock),
        mock.patch.object(uuid, "uuid4", lambda: uuid.UUID(int=rng.getrandbits(128), version=4)),
    ):
        yield


def _articles() -> list[tuple[str, list[str]]]:
    arts = []
    with open(GOLDEN / "articles.jsonl", "rb") as fh:
        for line in fh:
            a = orjson.loads(line)
            arts.append((a["id"], a["sentences"]))
    arts.append(("hostile/1", HOSTILE))
    # copies: a wire story repeated (exact and with typography changed) makes dedup clusters
    first = arts[0][1][:4]
    arts.append(("copy/1", [first[0], first[1].replace("'", "’"), "Another story entirely, sir."]))
    arts.append(("copy/2", [first[0], first[2], first[3]]))
    return arts


def _insert(store: Store, aid: str, sentences: list[str]) -> None:
    art = NewArticle(
        id=aid,
        title=f"Title of {aid}",
        source="golden",
        url=None,
        published=None,
        lang="fr" if "fr" in aid else "en",
        content_hash="h-" + aid,
        sentences=sentences,
        norms=[s.casefold() for s in sentences],
    )
    with store.tx():
        store.corpus.insert_articles([art], ImportCounts())


def build(path: Path) -> None:
    """The golden DB at ``path`` (see the module docstring)."""
    rng = random.Random(4242)
    with frozen_clock_and_ids(), Store.open(path) as store:
        store.set_label_schema(load_schema())
        arts = _articles()
        for aid, sentences in arts:
            _insert(store, aid, sentences)
        run_dedup(store)
        # actors: the schema's, names from the text (with quotes and accents), an alias, a rename
        actors = [a for a in (store.actors.resolve(n) for n in ("Poutine", "Kim Jong Un")) if a]
        for name in (
            "TimeWarner",
            'Le "Kremlin"',
            "Bank of \\ England",
            "Société Générale",
            "l'ONU",
            "O'Brien",
            "Ægir Ødegård",
            "北朝鮮",
            "=SUM(A1)",
            "-minus",
            "@at",
        ):
            actors.append(store.actors.add(name, created_by=rng.choice(ANNOTATORS)))
        for i in range(40):
            actors.append(store.actors.add(f"Actor {i:02d} {rng.choice(['Sr', 'Jr', 'III'])}"))
        store.actors.add_alias(actors[2], "TW Inc")
        store.actor_ops.rename(actors[3], "Le Kremlin (Moscou)")
        store.actor_ops.merge(actors[4], actors[5])
        sids = [f"{aid}:{i}" for aid, sentences in arts for i in range(len(sentences))]
        for sid in sids:
            for who in ANNOTATORS:
                if rng.random() < 0.25:
                    continue
                status = rng.choices(("done", "skipped", "flagged", "draft"), (70, 10, 8, 12))[0]
                claims = tuple(c for c in CLAIMS if rng.random() < 0.25)
                stances = tuple(
                    Stance(c, rng.choice(actors), rng.choice(STANCES))
                    for c in claims
                    for _ in range(rng.choice((0, 1, 1, 2)))
                )
                sug = None
                if rng.random() < 0.15:
                    sug = orjson.dumps(
                        {
                            "accepted": rng.random() < 0.5,
                            "applied": True,
                            "claims": list(claims),
                            "model": "m1",
                        },
                        option=orjson.OPT_SORT_KEYS,
                    ).decode()
                store.labels.save(
                    Annotation(sid, who, status, claims, stances, rng.choice(NOTES), suggested=sug)
                )
        # one annotator changes their mind twice on a few sentences (updated_at after created_at)
        for sid in sids[::17]:
            store.labels.save(Annotation(sid, "alice", "done", ("denial",), note="changed"))
        # gold: decisions, an unresolvable one, a replaced one, an undone one, a cluster's
        for k, sid in enumerate(sids[::9]):
            claims = (CLAIMS[k % 3],)
            st = (Stance(claims[0], actors[k % len(actors)], STANCES[k % 3]),)
            status = "unresolvable" if k % 7 == 3 else "gold"
            sources = [
                {
                    "annotator": "alice",
                    "status": "done",
                    "claims": list(claims),
                    "stances": [s.as_dict() for s in st],
                    "note": None,
                    "updated_at": "2026-11-30T10:00:00.000000Z",
                }
            ]
            store.gold.set(
                Gold(
                    sid,
                    status,
                    claims,
                    st,
                    ("lead", "boss")[k % 2],
                    "alice" if k % 2 else None,
                    sources,
                    rng.choice(NOTES),
                )
            )
        store.gold.set(Gold(sids[0], "gold", ("denial",), (), "lead", None, [], "second thought"))
        store.gold.undo("boss")
        rep = [s for s in sids if s.startswith("bbc") and store.corpus.sentence(s).cluster_id]
        if rep:
            store.gold.set(Gold(rep[0], "gold", ("arms_deal",), (), "lead", None, [], None))


#: (name, export arguments): every kind and the filters that change what it reads
CASES: list[tuple[str, list[str]]] = [
    ("annotations", ["--kind", "annotations"]),
    (
        "annotations-all-statuses",
        [
            "--kind",
            "annotations",
            "--status",
            "done",
            "--status",
            "skipped",
            "--status",
            "flagged",
            "--status",
            "draft",
        ],
    ),
    ("annotations-draft", ["--kind", "annotations", "--status", "draft"]),
    (
        "annotations-filtered",
        [
            "--kind",
            "annotations",
            "--annotator",
            "bob",
            "--annotator",
            "chloé",
            "--article",
            "hostile/1",
            "--article",
            "bbc-business/001",
            "--article",
            "copy/1",
        ],
    ),
    ("sentences", ["--kind", "sentences"]),
    ("sentences-filtered", ["--kind", "sentences", "--status", "done", "--article", "hostile/1"]),
    ("gold", ["--kind", "gold"]),
    ("gold-article", ["--kind", "gold", "--article", "copy/1", "--article", "bbc-business/001"]),
    ("gold-history", ["--kind", "gold", "--history"]),
    ("final", ["--kind", "final"]),
    ("final-single", ["--kind", "final", "--allow-single", "--min-annotators", "3"]),
    ("final-csv", ["--kind", "final", "--format", "csv"]),
    ("final-article", ["--kind", "final", "--article", "copy/2", "--min-annotators", "1"]),
]


def export(db: Path, out: Path, args: list[str]) -> tuple[bytes, str]:
    """Run ``stanceterm export ARGS --out OUT``: (the file's bytes, stderr with paths replaced)."""
    env = {k: v for k, v in os.environ.items() if k != "STANCETERM_DB"}
    p = subprocess.run(
        [sys.executable, "-m", "stanceterm", "--db", str(db), "export", *args, "--out", str(out)],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    return out.read_bytes(), p.stderr.decode().replace(str(out), "OUT")


@pytest.fixture(scope="module")
def golden_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("golden") / "golden.db"
    build(db)
    return db


@pytest.mark.parametrize(("name", "args"), CASES, ids=[c[0] for c in CASES])
def test_export_is_byte_identical_to_the_golden_file(
    golden_db: Path, tmp_path: Path, name: str, args: list[str]
) -> None:
    ext = "csv" if "csv" in name else "jsonl"
    data, err = export(golden_db, tmp_path / f"out.{ext}", args)
    want = (GOLDEN / f"{name}.{ext}").read_bytes()
    assert data.count(b"\n") == want.count(b"\n"), f"{name}: line count differs"
    for i, (got, exp) in enumerate(zip(data.split(b"\n"), want.split(b"\n"), strict=True)):
        assert got == exp, f"{name} line {i + 1} differs"
    assert data == want
    assert err == (GOLDEN / f"{name}.stderr").read_text(encoding="utf-8")


def test_stdout_is_the_same_bytes(golden_db: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STANCETERM_DB"}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "stanceterm",
            "--db",
            str(golden_db),
            "export",
            "--kind",
            "annotations",
            "--out",
            "-",
        ],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == (GOLDEN / "annotations.jsonl").read_bytes()


def test_the_golden_db_is_varied() -> None:
    """The fixture exercises what the format has to carry (else the golden proves little)."""
    ann = [
        orjson.loads(x)
        for x in (GOLDEN / "annotations-all-statuses.jsonl").read_bytes().splitlines()
    ]
    assert {r["status"] for r in ann} == {"done", "skipped", "flagged", "draft"}
    assert any("suggested" in r for r in ann) and any("suggested" not in r for r in ann)
    assert any(r["propagated_from"] for r in ann)
    assert len({s["actor_id"] for r in ann for s in r["stances"]}) > 30
    assert any(r["created_at"] != r["updated_at"] for r in ann)
    assert any("\u2028" in r["text"] for r in ann) and any("\x1b" in r["text"] for r in ann)
    hist = [orjson.loads(x) for x in (GOLDEN / "gold-history.jsonl").read_bytes().splitlines()]
    assert {h["action"] for h in hist} >= {"decide", "undo"}
    gold = [orjson.loads(x) for x in (GOLDEN / "gold.jsonl").read_bytes().splitlines()]
    assert any(g["propagated_from"] for g in gold) and {g["status"] for g in gold} == {
        "gold",
        "unresolvable",
    }


def regenerate() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "golden.db"
        build(db)
        for name, args in CASES:
            ext = "csv" if "csv" in name else "jsonl"
            data, err = export(db, Path(tmp) / f"out.{ext}", args)
            (GOLDEN / f"{name}.{ext}").write_bytes(data)
            (GOLDEN / f"{name}.stderr").write_text(err, encoding="utf-8")
            print(name, data.count(b"\n"), "lines")


if __name__ == "__main__":
    regenerate()
