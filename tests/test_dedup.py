"""Fuzzy cross-article dedup: normalisation, merging of wire copies, the fact guard, no chaining,
incremental == full, splitting, propagation, the TUI queue, exports, the CLI and a crash."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from rapidfuzz import fuzz

from stanceterm.dedup import (
    DEFAULT_THRESHOLD,
    cluster_id_for,
    cluster_texts,
    compare_key,
    describe_difference,
    explain,
    normalize,
    run_dedup,
)
from stanceterm.export import Filters, export
from stanceterm.schema import LabelSchema, load_schema
from stanceterm.store import Annotation, ImportCounts, NewArticle, Stance, Store
from tests.conftest import add_article, children_of


def aliases_of(schema: LabelSchema) -> dict[str, str]:
    out: dict[str, str] = {}
    for actor in schema.actors:
        out[actor.name] = actor.name
        for alias in actor.aliases:
            out[alias] = actor.name
    return out


ALIASES = aliases_of(load_schema())

# --------------------------------------------------------------------------- normalisation


def test_normalize_unifies_quotes_spaces_dashes_case_accents() -> None:
    a = "Le Kremlin — « un soutien\u00a0total » – a déclaré M. Peskov."
    b = 'le kremlin - "un soutien total" - a declare m. peskov'
    assert normalize(a) == normalize(b) == "le kremlin un soutien total a declare m peskov"


@pytest.mark.parametrize(
    "variant",
    ["1 000 obus", "1,000 obus", "1000 obus", "1.000 obus", "1\u202f000 obus", "1\u00a0000 obus"],
)
def test_number_formats_unify(variant: str) -> None:
    assert normalize(variant) == "1000 obus"


def test_decimals_and_millions() -> None:
    assert normalize("2,5 millions") == normalize("2.5 millions") == "2.5 millions"
    assert normalize("1 000 000 shells") == normalize("1,000,000 shells") == "1000000 shells"
    assert normalize("1 500 and 2 000") == "1500 and 2000"


@pytest.mark.parametrize(
    "prefixed",
    [
        "Selon l'AFP, Pyongyang a livré des obus à la Russie depuis l'été.",
        "D'après Reuters, Pyongyang a livré des obus à la Russie depuis l'été.",
        "MOSCOU (AFP) - Pyongyang a livré des obus à la Russie depuis l'été.",
        "Pyongyang a livré des obus à la Russie depuis l'été, selon l'AFP.",
    ],
)
def test_match_key_strips_attribution(prefixed: str) -> None:
    assert compare_key(prefixed) == compare_key(
        "Pyongyang a livré des obus à la Russie depuis l'été."
    )


def test_match_key_keeps_short_sentences_whole() -> None:
    assert compare_key("Peskov said no.") == "peskov said no"


# --------------------------------------------------------------------------- merging

BASE_FR = (
    "Kim Jong Un a promis « un soutien total » à la Russie dans sa guerre contre l'Ukraine, "
    "a déclaré Dmitri Peskov mercredi soir."
)
BASE_EN = (
    "North Korea has shipped more than 1,000 containers of munitions to Russia since September, "
    "Matthew Miller said."
)

VARIANTS = {
    "quotes": (BASE_FR, BASE_FR.replace("« un soutien total »", "“un soutien total”")),
    "straight quotes": (BASE_FR, BASE_FR.replace("« un soutien total »", '"un soutien total"')),
    "nbsp": (BASE_FR, BASE_FR.replace("« un soutien total »", "«\u00a0un soutien total\u00a0»")),
    "dashes": (
        "Kim Jong Un — who met Putin last week — promised more shells to the Russian army.",
        "Kim Jong Un - who met Putin last week - promised more shells to the Russian army.",
    ),
    "dropped article": (
        "The Kremlin said the shipments arrived in Vladivostok on Tuesday night by train.",
        "The Kremlin said shipments arrived in Vladivostok on Tuesday night by train.",
    ),
    "said X / X said": (
        BASE_EN,
        BASE_EN.replace(", Matthew Miller said.", ", said Matthew Miller."),
    ),
    "X said that": (
        BASE_EN,
        "Matthew Miller said North Korea has shipped more than 1,000 containers of munitions to "
        "Russia since September.",
    ),
    "a déclaré X / X a déclaré": (
        BASE_FR,
        "Dmitri Peskov a déclaré que Kim Jong Un a promis « un soutien total » à la Russie dans sa "
        "guerre contre l'Ukraine mercredi soir.",
    ),
    "selon l'AFP": (BASE_FR, "Selon l'AFP, " + BASE_FR),
    "according to Reuters": (BASE_EN, "According to Reuters, " + BASE_EN),
    "dateline": (BASE_EN, "WASHINGTON (AP) - " + BASE_EN),
    "number format": (BASE_EN, BASE_EN.replace("1,000", "1 000")),
    "number format nbsp": (BASE_EN, BASE_EN.replace("1,000", "1\u00a0000")),
    "no separator": (BASE_EN, BASE_EN.replace("1,000", "1000")),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_wire_copy_variants_merge(name: str) -> None:
    a, b = VARIANTS[name]
    assert cluster_texts([a, b], aliases=ALIASES) == [0, 0]
    assert cluster_texts([b, a], aliases=ALIASES) == [0, 0]


def test_all_variants_form_one_cluster() -> None:
    texts = [BASE_EN] + [b for a, b in VARIANTS.values() if a == BASE_EN]
    assert cluster_texts(texts, aliases=ALIASES) == [0] * len(texts)


HARD_NEGATIVES = {
    "negation fr": (
        "Le Kremlin a nié que la Corée du Nord livre des armes à la Russie depuis l'été.",
        "Le Kremlin n'a pas nié que la Corée du Nord livre des armes à la Russie depuis l'été.",
    ),
    "negation en": (BASE_EN, BASE_EN.replace("has shipped", "has not shipped")),
    "didn't": (
        "North Korea did supply artillery shells to Russia during the summer, officials said.",
        "North Korea didn't supply artillery shells to Russia during the summer, officials said.",
    ),
    "never vs not": (
        "Pyongyang has never sent artillery shells to Russia during the war, officials said.",
        "Pyongyang has not sent artillery shells to Russia during the war, officials said.",
    ),
    "jamais": (
        "La Corée du Nord a livré des obus à la Russie pendant la guerre, selon Séoul.",
        "La Corée du Nord n'a jamais livré des obus à la Russie pendant la guerre, selon Séoul.",
    ),
    "swapped actor": (BASE_EN, BASE_EN.replace("Matthew Miller", "Dmitry Peskov")),
    "swapped subject": (
        "Putin promised to deepen military cooperation with Pyongyang during the summit.",
        "Kim promised to deepen military cooperation with Pyongyang during the summit.",
    ),
    "said X vs said Y": (
        "The deal covered artillery shells and rockets delivered in October, Peskov said.",
        "The deal covered artillery shells and rockets delivered in October, Putin said.",
    ),
    "changed country": (
        "The shells were delivered to Russia through Belarus in October, officials said.",
        "The shells were delivered to Russia through Poland in October, officials said.",
    ),
    "changed gazetteer country": (
        "North Korea has shipped 1,000 containers of munitions to Russia since September.",
        "North Korea has shipped 1,000 containers of munitions to Ukraine since September.",
    ),
    "changed number": (BASE_EN, BASE_EN.replace("1,000", "2,000")),
    "changed small number": (
        "North Korea has sent 12 trains of munitions to Russia since the summit, officials said.",
        "North Korea has sent 13 trains of munitions to Russia since the summit, officials said.",
    ),
}


@pytest.mark.parametrize("name", sorted(HARD_NEGATIVES))
def test_hard_negatives_stay_apart(name: str) -> None:
    a, b = HARD_NEGATIVES[name]
    # the near-miss is fuzzy-similar: only the fact guard keeps it apart
    assert fuzz.ratio(compare_key(a), compare_key(b)) >= DEFAULT_THRESHOLD
    assert cluster_texts([a, b], aliases=ALIASES) == [0, 1]
    assert cluster_texts([b, a], aliases=ALIASES) == [0, 1]


def test_explain_reports_the_catalogue_classes() -> None:
    e = explain(BASE_EN, "According to Reuters, " + BASE_EN.replace("1,000", "1 000"))
    assert e.merge
    kinds = {d.kind for d in e.differences}
    assert kinds == {"number format", "attribution added"}
    assert "attribution added" in describe_difference(BASE_FR, "Selon l'AFP, " + BASE_FR)


def test_no_chaining() -> None:
    a = "The Kremlin confirmed that the delegation from Pyongyang arrived in Vladivostok on Tuesday night by train"
    b = a.replace("delegation", "delegaiton").replace("by train", "by trian")
    c = b.replace("arrived", "arived").replace("Tuesday night", "Tuesday niht")
    ka, kb, kc = compare_key(a), compare_key(b), compare_key(c)
    t = (fuzz.ratio(ka, kc) + min(fuzz.ratio(ka, kb), fuzz.ratio(kb, kc))) / 2
    assert fuzz.ratio(ka, kb) >= t and fuzz.ratio(kb, kc) >= t and fuzz.ratio(ka, kc) < t
    # B joins A; C matches B but not A, the representative: it does not chain into A's cluster
    assert cluster_texts([a, b, c], threshold=t, aliases=ALIASES) == [0, 0, 2]


def test_every_member_matches_its_representative() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from dedup_corpus import build

    items = build(2000, seed=3)
    texts = [it.text for it in items]
    reps = cluster_texts(texts, aliases=ALIASES, batch=300)
    assert any(r != i for i, r in enumerate(reps))
    for i, r in enumerate(reps):
        if r != i:
            assert reps[r] == r
            assert fuzz.ratio(compare_key(texts[i]), compare_key(texts[r])) >= DEFAULT_THRESHOLD
    # batch size does not change the result
    assert cluster_texts(texts, aliases=ALIASES, batch=2000) == reps


# --------------------------------------------------------------------------- against the store

STORY = [
    BASE_EN,
    "Washington said the shipments violated several UN Security Council resolutions on Pyongyang.",
    "Analysts said the arms deal showed how isolated both countries had become since the invasion.",
    "The weather in Vladivostok was cold and windy for the whole week of the summit meeting.",
]


def outlet(article_id: str, *, variant: int, extra: str) -> tuple[str, list[str]]:
    """A copy of the story as another outlet ran it."""
    sents = list(STORY)
    if variant == 1:
        sents[0] = "According to Reuters, " + BASE_EN.replace("1,000", "1 000")
        sents[1] = sents[1].replace("violated", "violatd").replace("resolutions", "resolutons")
    elif variant == 2:
        sents[0] = BASE_EN.replace(", Matthew Miller said.", ", said Matthew Miller.")
        sents[2] = "“" + sents[2][:-1] + "”."
    return article_id, [*sents, extra]


def fill(store: Store, specs: list[tuple[str, list[str]]]) -> None:
    for aid, sents in specs:
        add_article(store, aid, sents, title=f"title {aid}")


ARTICLES = [
    outlet("afp", variant=0, extra="This line only appears in the first outlet's copy today."),
    outlet("reuters", variant=1, extra="Reuters adds a different closing line about markets here."),
    outlet("ap", variant=2, extra="The third outlet closes with its own remark on the weather."),
]


def test_store_clusters_and_queue_shows_one_per_cluster(store: Store) -> None:
    fill(store, ARTICLES)
    before = store.team.queue_size()
    result = run_dedup(store)
    assert result.mode == "full"
    clusters, members = store.clusters.snapshot()
    assert {c[0] for c in clusters} == {cluster_id_for(f"afp:{i}") for i in range(4)}
    assert all(size == 3 for _, _, size in clusters)
    assert store.team.queue_size() == before - 8
    # walking the queue meets each cluster once, with "also in N articles" data
    seen, s = [], store.corpus.first()
    while s is not None:
        seen.append(s.id)
        s = store.corpus.step(s.seq)
    assert seen == ["afp:0", "afp:1", "afp:2", "afp:3", "afp:4", "reuters:4", "ap:4"]
    assert store.clusters.size(cluster_id_for("afp:0")) == (3, 3)
    assert [m.id for m, _ in store.clusters.members(cluster_id_for("afp:0"))] == [
        "afp:0",
        "reuters:0",
        "ap:0",
    ]
    assert len(store.team.unit_seqs()) == 7
    # a second run finds nothing new
    again = run_dedup(store)
    assert again.mode == "up to date" and store.clusters.snapshot() == (clusters, members)


def label(store: Store, sid: str, who: str = "alice") -> Annotation:
    return store.labels.save(
        Annotation(
            sid,
            who,
            "done",
            ("arms_deal",),
            (Stance("arms_deal", "les-etats-unis", "support"),),
        )
    )


def test_labels_propagate_on_join_and_to_exports(store: Store, tmp_path: Path) -> None:
    fill(store, ARTICLES[:1])
    run_dedup(store)
    label(store, "afp:0")
    fill(store, ARTICLES[1:])
    result = run_dedup(store)
    assert result.mode == "incremental" and result.propagated == 2
    member = store.labels.get("reuters:0", "alice")
    assert member is not None and member.propagated_from == "afp:0"
    assert member.claims == ("arms_deal",)
    out = tmp_path / "ann.jsonl"
    export(store, "annotations", out, Filters())
    rows = {r["sentence_id"]: r for r in map(orjson.loads, out.read_bytes().splitlines())}
    assert rows["afp:0"]["propagated_from"] is None
    assert rows["reuters:0"]["propagated_from"] == "afp:0"
    assert rows["ap:0"]["propagated_from"] == "afp:0"
    sent = tmp_path / "sent.jsonl"
    export(store, "sentences", sent, Filters())
    srows = {r["sentence_id"]: r for r in map(orjson.loads, sent.read_bytes().splitlines())}
    assert srows["ap:0"]["cluster_id"] == srows["afp:0"]["cluster_id"] == cluster_id_for("afp:0")
    assert srows["afp:4"]["cluster_id"] is None


def test_member_with_its_own_labels_stays_visible(store: Store) -> None:
    fill(store, ARTICLES)
    label(store, "reuters:0", "bob")  # labelled before dedup ever ran
    run_dedup(store)
    member = store.corpus.sentence("reuters:0")
    assert member is not None and member.cluster_id == cluster_id_for("afp:0")
    assert member.hidden is False  # work done is never hidden
    other = store.corpus.sentence("ap:0")
    assert other is not None and other.hidden is True


def test_split_withdraws_labels_and_is_never_merged_again(store: Store) -> None:
    fill(store, ARTICLES)
    run_dedup(store)
    label(store, "afp:0")
    assert store.labels.get("ap:0", "alice") is not None
    withdrawn = store.clusters.split("ap:0", "alice")
    assert withdrawn == 1
    assert store.labels.get("ap:0", "alice") is None
    result = run_dedup(store)
    assert result.mode == "full"  # a split since the last run: rebuilt, the split respected
    s = store.corpus.sentence("ap:0")
    assert s is not None and s.cluster_id is None and s.hidden is False
    assert store.labels.get("reuters:0", "alice") is not None  # the others keep theirs
    assert store.labels.get("ap:0", "alice") is None
    assert run_dedup(store, full=True).mode == "full"
    assert store.corpus.sentence("ap:0").cluster_id is None  # type: ignore[union-attr]


def test_split_representative_regroups_the_rest(store: Store) -> None:
    fill(store, ARTICLES)
    run_dedup(store)
    store.clusters.split("afp:0")
    run_dedup(store)
    s = store.corpus.sentence("reuters:0")
    assert s is not None and s.cluster_id == cluster_id_for("reuters:0")
    assert store.corpus.sentence("afp:0").cluster_id is None  # type: ignore[union-attr]


def snapshot_of(specs: list[tuple[str, list[str]]], batches: list[list[int]]) -> object:
    s = Store.memory()
    s.set_label_schema(load_schema())
    for b in batches:
        fill(s, [specs[i] for i in b])
        run_dedup(s, batch=3)
    snap = s.clusters.snapshot()
    s.close()
    return snap


def test_incremental_equals_full(store: Store) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from dedup_corpus import build

    items = build(600, seed=11)
    specs = [(f"art{i:03d}", [it.text for it in items[i : i + 10]]) for i in range(0, 600, 10)]
    incremental = snapshot_of(specs, [list(range(0, 20)), list(range(20, 45)), list(range(45, 60))])
    one_go = snapshot_of(specs, [list(range(60))])
    assert incremental == one_go
    clusters, _ = one_go  # type: ignore[misc]
    assert len(clusters) > 20
    # and --full on the incrementally built DB changes nothing
    fill(store, specs[:30])
    run_dedup(store)
    fill(store, specs[30:])
    assert run_dedup(store).mode == "incremental"
    inc = store.clusters.snapshot()
    assert run_dedup(store, full=True).mode == "full"
    assert store.clusters.snapshot() == inc == one_go


def partition(snapshot: object) -> set[frozenset[str]]:
    _, members = snapshot  # type: ignore[misc]
    groups: dict[str, set[str]] = {}
    for sid, cid, _hidden in members:
        groups.setdefault(cid, set()).add(sid)
    return {frozenset(g) for g in groups.values()}


def test_import_order_gives_the_same_partition_for_tight_clusters() -> None:
    """The documented rule: the representative is the earliest import; for wire copies that all
    match each other, the partition does not depend on the import order."""
    forward = snapshot_of(ARTICLES, [[0], [1], [2]])
    backward = snapshot_of(ARTICLES, [[2], [1], [0]])
    assert partition(forward) == partition(backward)
    assert forward != backward  # the representatives differ: the earliest import


def test_threshold_change_rebuilds(store: Store) -> None:
    fill(store, ARTICLES)
    run_dedup(store)
    r = run_dedup(store, threshold=99)
    assert r.mode == "full" and "threshold" in r.reason
    assert store.clusters.size(cluster_id_for("afp:1")) == (2, 2)  # two typos: < 99
    assert store.corpus.sentence("reuters:1").cluster_id is None  # type: ignore[union-attr]


def test_near_duplicate_articles(store: Store) -> None:
    from stanceterm.dedup import overlap_rows

    fill(store, ARTICLES)
    add_article(store, "other", ["A wholly different story about fishing quotas in the Baltic."])
    run_dedup(store)
    pairs = overlap_rows(store, 0.5)
    assert {(p["article_a"], p["article_b"]) for p in pairs} == {
        ("afp", "ap"),
        ("afp", "reuters"),
        ("ap", "reuters"),
    }
    assert all(p["shared"] == 4 and p["overlap"] == 0.8 for p in pairs)
    assert store.counts()["articles"] == 4  # reported, never merged


# --------------------------------------------------------------------------- command line


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("STANCETERM_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_jsonl(path: Path, specs: list[tuple[str, list[str]]]) -> None:
    with path.open("w") as f:
        for aid, sents in specs:
            f.write(json.dumps({"id": aid, "title": aid, "lang": "en", "text": "\n\n".join(sents)}))
            f.write("\n")


def test_cli_dedup_split_and_articles(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    assert cli("--db", "t.db", "import", "a.jsonl", cwd=tmp_path).returncode == 0
    p = cli("--db", "t.db", "dedup", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "dedup (full: first run), threshold 90" in p.stderr
    assert "Now 4 clusters, 8 copies hidden" in p.stderr
    p = cli("--db", "t.db", "dedup", "--json", "--articles", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["mode"] == "up to date" and out["clusters"] == 4
    assert len(out["article_pairs"]) == 3
    p = cli("--db", "t.db", "dedup", "--articles", cwd=tmp_path)
    assert "near-duplicate articles" in p.stdout and "80%" in p.stdout
    p = cli("--db", "t.db", "dedup", "--split", "reuters:0", cwd=tmp_path)
    assert p.returncode == 0 and "Split reuters:0 out of c:afp:0" in p.stderr
    p = cli("--db", "t.db", "dedup", "--split", "nope:9", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.strip() == "error: unknown sentence id: nope:9"
    p = cli("--db", "t.db", "dedup", "--threshold", "30", cwd=tmp_path)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    p = cli("--db", "missing.db", "dedup", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.startswith("error: ") and len(p.stderr.splitlines()) == 1
    p = cli("--db", "t.db", "dedup", "--json", cwd=tmp_path)
    assert json.loads(p.stdout)["mode"] == "full"  # the split forces a rebuild
    p = cli("--db", "t.db", "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    rows = {r["sentence_id"]: r for r in map(json.loads, p.stdout.splitlines())}
    assert rows["reuters:0"]["cluster_id"] is None
    assert rows["ap:0"]["cluster_id"] == "c:afp:0"


# --------------------------------------------------------------------------- crash safety


def big_db(path: Path, n_articles: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from dedup_corpus import build

    items = build(n_articles * 20, seed=5)
    with Store.open(path) as s:
        s.set_label_schema(load_schema())
        with s.tx():
            s.corpus.insert_articles(
                (
                    NewArticle(
                        id=f"a{i}",
                        title=None,
                        source=None,
                        url=None,
                        published=None,
                        lang="en",
                        content_hash=f"h{i}",
                        sentences=[it.text for it in items[i * 20 : i * 20 + 20]],
                        norms=[it.text.casefold() for it in items[i * 20 : i * 20 + 20]],
                    )
                    for i in range(n_articles)
                ),
                ImportCounts(),
            )


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill_9_mid_run_then_rerun_gives_the_same_clusters(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    big_db(db, 1200)  # 24,000 sentences
    ref = tmp_path / "ref.db"
    src, dst = sqlite3.connect(db), sqlite3.connect(ref)
    src.backup(dst)
    src.close()
    dst.close()
    env = {**os.environ}
    env.pop("STANCETERM_DB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stanceterm", "--db", str(db), "dedup"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watch = sqlite3.connect(db, timeout=30)
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            written = watch.execute("SELECT count(*) FROM clusters").fetchone()[0]
        except sqlite3.OperationalError:
            written = 0
        if written:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "dedup finished before it could be killed; make the DB bigger"
    helpers = children_of(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # its helper process (the second core) does not linger as an orphan
    until = time.monotonic() + 10
    while time.monotonic() < until and any(Path(f"/proc/{p}").exists() for p in helpers):
        time.sleep(0.05)
    assert not [p for p in helpers if Path(f"/proc/{p}").exists()]
    assert written > 0
    assert watch.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    watch.close()
    with Store.open(db) as s:
        assert s.clusters.state().last_seq == -1  # the run never finished
        run_dedup(s)
        after_crash = s.clusters.snapshot()
        assert s.integrity_ok()
    with Store.open(ref) as s:
        run_dedup(s)
        uninterrupted = s.clusters.snapshot()
    assert after_crash == uninterrupted
    assert len(uninterrupted[0]) > 1000


def test_cli_dedup_explain(tmp_path: Path) -> None:
    hostile = "Le Kremlin a confirmé \x1b[31mla livraison\x1b[0m d'obus, a déclaré Peskov."
    arts = [
        ("a1", ["Le Kremlin a confirmé la livraison d'obus, a déclaré Peskov.", hostile]),
        ("a2", ["Peskov a déclaré que le Kremlin a confirmé la livraison d'obus."]),
        ("a3", ["Le Kremlin a démenti la livraison d'obus, a déclaré Peskov."]),
    ]
    write_jsonl(tmp_path / "a.jsonl", arts)
    assert cli("--db", "t.db", "import", "a.jsonl", cwd=tmp_path).returncode == 0
    p = cli("--db", "t.db", "dedup", "--explain", "a1:0", "a2:0", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "attribution moved" in p.stdout and "verdict: merge" in p.stdout
    p = cli("--db", "t.db", "dedup", "--explain", "a1:0", "a3:0", cwd=tmp_path)
    assert "fact word" in p.stdout and "verdict: keep apart (fact word)" in p.stdout
    assert "'confirme'" in p.stdout and "'dementi'" in p.stdout
    p = cli("--db", "t.db", "dedup", "--explain", "a1:0", "nope:1", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.strip() == "error: unknown sentence id: nope:1"
    p = cli("--db", "t.db", "dedup", "--explain", "a1:1", "a1:0", cwd=tmp_path)
    assert p.returncode == 0 and "\x1b" not in p.stdout


def test_cli_dedup_split_subcommand_and_old_option(tmp_path: Path) -> None:
    """`dedup split ID` is the command; `dedup --split ID` still works; `dedup` alone still runs."""
    write_jsonl(tmp_path / "a.jsonl", ARTICLES)
    assert cli("--db", "t.db", "import", "a.jsonl", cwd=tmp_path).returncode == 0
    p = cli("--db", "t.db", "dedup", cwd=tmp_path)
    assert p.returncode == 0 and "Now 4 clusters" in p.stderr, p.stderr
    p = cli("--db", "t.db", "dedup", "split", "reuters:0", "--annotator", "lea", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Split reuters:0 out of c:afp:0" in p.stderr and "never be merged again" in p.stderr
    p = cli("--db", "t.db", "dedup", "split", "--json", "ap:0", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"split": "ap:0", "cluster_id": "c:afp:0", "withdrawn": 0}
    p = cli("--db", "t.db", "dedup", "--split", "reuters:0", "--json", cwd=tmp_path)
    assert json.loads(p.stdout)["cluster_id"] is None  # the old form, on a sentence split already
    p = cli("--db", "t.db", "dedup", "split", "nope:9", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.strip() == "error: unknown sentence id: nope:9"
    p = cli("--db", "t.db", "dedup", "split", cwd=tmp_path)
    assert p.returncode == 2 and "Missing argument" in p.stderr and "Traceback" not in p.stderr
    p = cli("--db", "t.db", "dedup", "--help", cwd=tmp_path)
    assert "split" in p.stdout and "--threshold" in p.stdout
    p = cli("--db", "t.db", "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    rows = {r["sentence_id"]: r for r in map(json.loads, p.stdout.splitlines())}
    assert rows["reuters:0"]["cluster_id"] is None and rows["ap:0"]["cluster_id"] is None
    with Store.open(tmp_path / "t.db") as s:
        who = dict(s.conn.execute("SELECT sentence_id, annotator FROM cluster_splits"))
    assert who == {"reuters:0": "lea", "ap:0": None}


def test_cli_dedup_explain_shows_the_inputs_the_score_and_the_clusters(tmp_path: Path) -> None:
    """`dedup --explain` names what it compared: both sentences, the score that
    proposes a pair against the threshold, and whether they are in one cluster now."""
    arts = [
        ("a1", ["Russia accused Ukraine of shelling the plant on Friday, officials said."]),
        (
            "a2",
            ["\u201cRussia accused Ukraine of shelling the plant on Friday,\u201d officials said."],
        ),
        ("a3", ["Ukraine accused Russia of shelling the plant on Friday, officials said."]),
    ]
    write_jsonl(tmp_path / "a.jsonl", arts)
    assert cli("--db", "t.db", "import", "a.jsonl", cwd=tmp_path).returncode == 0
    assert cli("--db", "t.db", "dedup", cwd=tmp_path).returncode == 0
    p = cli("--db", "t.db", "dedup", "--explain", "a1:0", "a3:0", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert (
        lines[0]
        == "A  a1:0  Russia accused Ukraine of shelling the plant on Friday, officials said."
    )
    assert (
        lines[1]
        == "B  a3:0  Ukraine accused Russia of shelling the plant on Friday, officials said."
    )
    score = re.search(r"^score (\d+\.\d) \(dedup proposes a pair at 90 or more\)", p.stdout, re.M)
    want = fuzz.ratio(compare_key(arts[0][1][0]), compare_key(arts[2][1][0]))
    assert score is not None and float(score.group(1)) == round(want, 1)
    assert "now: in different clusters" in p.stdout
    assert "verdict: keep apart (reordered)" in p.stdout
    p = cli("--db", "t.db", "dedup", "--explain", "a1:0", "a2:0", cwd=tmp_path)
    assert "score 100.0" in p.stdout and "now: one cluster (a1:0 is shown, a2:0 hidden)" in p.stdout


SPEAKERS = [
    "Russia will send more troops to the border next month.",
    "Russia will send more troops to the border next month, Ukraine said.",
    "Russia will send more troops to the border next month, the Kremlin denied.",
    "Russia will send more troops to the border next month, Lavrov said.",
    '"Russia will send more troops to the border next month," Zelensky said.',
    "Russia will send more troops to the border next month, Ukraine said on Monday.",
    "Selon l'AFP, Russia will send more troops to the border next month.",
]


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 6], [1, 0, 3, 4, 6, 2], [0, 6, 4, 3, 1, 2]])
def test_copies_quoting_different_speakers_never_share_a_cluster(order: list[int]) -> None:
    """Each copy adds an attribution to an unattributed representative, which is benign for
    that pair; but "Ukraine said" and "Lavrov said" are different statements, so they may not
    end up in one cluster through it (new-user review: a label on the bare sentence spread to
    Ukraine's, Lavrov's and Zelensky's). Within any cluster every pair must merge on its own."""
    texts = [SPEAKERS[i] for i in order]
    reps = cluster_texts(texts, parallel=False)
    clusters: dict[int, list[str]] = {}
    for i, r in enumerate(reps):
        clusters.setdefault(r, []).append(texts[i])
    for members in clusters.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                assert explain(a, b).merge, (a, b, members)
    # the copies that say the same thing still merge: the agency prefix with the bare sentence
    assert (
        any(SPEAKERS[0] in m and SPEAKERS[6] in m for m in clusters.values())
        or SPEAKERS[0] not in texts
    )


def test_speaker_copies_incremental_equals_full() -> None:
    """The copies that joined with an attribution are reloaded by an incremental run: a later
    run keeps "Lavrov said" out of the cluster where "Ukraine said" joined the bare sentence,
    as one run over everything does."""
    specs = [(f"w{i}", [t]) for i, t in enumerate(SPEAKERS)]
    one_go = snapshot_of(specs, [list(range(len(specs)))])
    for cut in (1, 2, 3, 5):
        parts = [list(range(cut)), list(range(cut, len(specs)))]
        assert snapshot_of(specs, parts) == one_go, cut
    groups = partition(one_go)
    assert not any({"w1:0", "w3:0"} <= g for g in groups)  # Ukraine / Lavrov
    assert any({"w0:0", "w1:0"} <= g for g in groups)  # the first speaker still joins


def test_reported_is_an_attribution_verb() -> None:
    """ "…, Reuters reported." credits an agency as "…, officials said." credits a speaker
    (new-user review: it was classed as a name); another reporter is still another speaker."""
    base = "Russia will send more troops to the border next month"
    assert explain(f"{base}.", f"{base}, Reuters reported.").merge
    assert explain(
        f"{base}, Lavrov reported.",
        f"Lavrov reported that {base}.",
    ).merge
    assert not explain(f"{base}, the ministry reported.", f"{base}, the army reported.").merge
    assert explain(f"{base}.", f"{base}, a rapporté l'AFP.").merge
