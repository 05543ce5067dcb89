"""Merge converges (issue 12 §4, §7; issue 15 §2): random edit/undo/delete histories on replicas
of one DB, merged in every order, give identical exports (annotations, gold, actors)."""

from __future__ import annotations

import contextlib
import itertools
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stanceterm.export import Filters, export
from stanceterm.store import Annotation, Gold, Stance, Store
from stanceterm.store.actors import ActorOpError
from stanceterm.team import merge_databases
from tests.conftest import S, demo_db, run

ANNOTATORS = ("alice", "bob")
LABELS = (
    ("done", ("arms_deal",), ()),
    ("done", ("denial",), (("denial", "vladimir-poutine", "oppose"),)),
    ("done", ("denial",), (("denial", "le-kremlin", "support"),)),
    ("flagged", ("denial",), ()),
    ("skipped", (), ()),
)

ACTORS = ("vladimir-poutine", "le-kremlin", "la-russie")
NEW_ACTORS = ("Sergueï Lavrov", "Serguei Lavrov", "Lavrov", "Dmitri Peskov")

op = st.one_of(
    st.tuples(
        st.just("save"),
        st.integers(0, 2),  # replica
        st.integers(0, 2),  # sentence
        st.sampled_from(ANNOTATORS),
        st.integers(0, len(LABELS) - 1),
    ),
    st.tuples(st.just("undo"), st.integers(0, 2), st.sampled_from(ANNOTATORS)),
    st.tuples(st.just("delete"), st.integers(0, 2), st.integers(0, 2), st.sampled_from(ANNOTATORS)),
    st.tuples(st.just("gold"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 1)),
    st.tuples(st.just("gold_undo"), st.integers(0, 2)),
    st.tuples(st.just("pull"), st.integers(0, 2), st.integers(0, 2)),  # replica i merges j
    st.tuples(st.just("actor_merge"), st.integers(0, 2), st.sampled_from(ACTORS)),
    st.tuples(st.just("actor_alias"), st.integers(0, 2), st.sampled_from(ACTORS)),
    st.tuples(st.just("actor_rename"), st.integers(0, 2), st.sampled_from(ACTORS)),
    st.tuples(st.just("actor_undo"), st.integers(0, 2)),
    # actors made on two machines (the picker's new actor), with names that clash by alias key
    st.tuples(st.just("actor_add"), st.integers(0, 2), st.integers(0, len(NEW_ACTORS) - 1)),
    # an annotator's alias from the picker (no event), the same alias for other actors
    st.tuples(st.just("picker_alias"), st.integers(0, 2), st.sampled_from(ACTORS)),
    # a label naming an actor made here (when it exists here)
    st.tuples(
        st.just("save_new_actor"),
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(0, len(NEW_ACTORS) - 1),
    ),
)


def _label(sid: str, annotator: str, k: int) -> Annotation:
    status, claims, stances = LABELS[k]
    return Annotation(sid, annotator, status, claims, tuple(Stance(*s) for s in stances))


def _visible(path: Path, out: Path) -> bytes:
    s = Store.open(path)
    try:
        export(s, "annotations", out, Filters(statuses=("done", "skipped", "flagged", "draft")))
        ann = out.read_bytes()
        export(s, "gold", out)
        gold = out.read_bytes()
        with s.read() as c:
            tables = (
                c.execute(
                    "SELECT id, name, base_name, same_as, created_by, created_at FROM actors ORDER BY id"
                ).fetchall(),
                c.execute(
                    "SELECT key, alias, actor_id, trusted FROM actor_aliases ORDER BY key"
                ).fetchall(),
            )
        actors = repr(
            (
                sorted(s.actors.names().items()),
                sorted(s.actors.alias_keys().items()),
                sorted(s.actors.canonical().items()),
                sorted((r.id, r.merged_into) for r in s.actor_ops.rows()),
                tables,
            )
        ).encode()
    finally:
        s.close()
    return ann + b"\n--gold--\n" + gold + b"\n--actors--\n" + actors


def _apply(tmp: Path, n: int, ops: list[tuple[object, ...]]) -> list[Path]:
    paths = [tmp / f"r{i}.db" for i in range(n)]
    for p in paths[1:]:
        shutil.copy(paths[0], p)
    for o in ops:
        kind, i = o[0], int(o[1]) % n  # type: ignore[call-overload]
        if kind == "pull":
            j = int(o[2]) % n  # type: ignore[call-overload]
            if i == j:
                continue
            s = Store.open(paths[i])
            merge_databases(s, [paths[j]])
            s.close()
            continue
        s = Store.open(paths[i])
        try:
            if kind == "save":
                s.labels.save(_label(S(int(o[2])), str(o[3]), int(o[4])))  # type: ignore[call-overload]
            elif kind == "undo":
                s.labels.undo(str(o[2]))
            elif kind == "delete":
                s.labels.delete(S(int(o[2])), str(o[3]))  # type: ignore[call-overload]
            elif kind == "gold":
                status = ("gold", "unresolvable")[int(o[3])]  # type: ignore[call-overload]
                claims = ("denial",) if status == "gold" else ()
                s.gold.set(Gold(S(int(o[2])), status, claims, (), "lead", None))  # type: ignore[call-overload]
            elif kind == "gold_undo":
                s.gold.undo("lead")
            elif kind == "actor_merge":  # fold one of the others into this actor
                keep = str(o[2])
                gone = ACTORS[(ACTORS.index(keep) + 1) % len(ACTORS)]
                with contextlib.suppress(ActorOpError):  # already the same actor here
                    s.actor_ops.merge(keep, gone, "lead")
            elif kind == "actor_alias":
                s.actor_ops.alias(str(o[2]), "the boss", "lead", move=True)
            elif kind == "actor_rename":  # one name for all: replicas rename different actors
                with contextlib.suppress(ActorOpError):  # to the same name
                    s.actor_ops.rename(str(o[2]), "Le Renommé", "lead")
            elif kind == "actor_undo":
                s.actor_ops.undo("lead")
            elif kind == "actor_add":
                s.actors.add(NEW_ACTORS[int(o[2])], created_by="alice")  # type: ignore[call-overload]
            elif kind == "picker_alias":
                with contextlib.suppress(ActorOpError):
                    s.actor_ops.alias(str(o[2]), "Le Patron", "alice", trusted=False)
            elif kind == "save_new_actor":
                actor = s.actors.resolve(NEW_ACTORS[int(o[3])])  # type: ignore[call-overload]
                if actor is not None:
                    s.labels.save(
                        Annotation(
                            S(int(o[2])),  # type: ignore[call-overload]
                            "bob",
                            "done",
                            ("denial",),
                            (Stance("denial", actor, "support"),),
                        )
                    )
        finally:
            s.close()
    return paths


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(n=st.integers(2, 3), ops=st.lists(op, min_size=1, max_size=14))
def test_merge_in_every_order_gives_identical_exports(
    tmp_path_factory: object, n: int, ops: list[tuple[object, ...]]
) -> None:
    tmp = tmp_path_factory.mktemp("conv")  # type: ignore[attr-defined]
    base = demo_db(tmp / "r0.db")
    base.close()
    paths = _apply(tmp, n, ops)
    results = set()
    for order in itertools.permutations(range(n)):
        target = tmp / f"m{''.join(map(str, order))}.db"
        shutil.copy(paths[order[0]], target)
        s = Store.open(target)
        for k in order[1:]:  # one at a time (associativity) ...
            merge_databases(s, [paths[k]])
        s.close()
        first = _visible(target, tmp / "out.jsonl")
        s = Store.open(target)
        merge_databases(s, [p for p in paths if p != paths[order[0]]])  # ... and again: idempotent
        s.close()
        assert _visible(target, tmp / "out.jsonl") == first
        results.add(first)
    assert len(results) == 1, "merge orders disagree"


def test_undo_there_after_an_older_edit_here_agrees_both_ways(tmp_path: Path) -> None:
    base = demo_db(tmp_path / "base.db")
    base.labels.save(_label(S(0), "alice", 0))
    base.close()
    for name in ("a.db", "b.db"):
        shutil.copy(tmp_path / "base.db", tmp_path / name)
    a = Store.open(tmp_path / "a.db")
    a.labels.save(_label(S(0), "alice", 2))  # an edit on laptop a ...
    a.close()
    b = Store.open(tmp_path / "b.db")
    assert b.labels.undo("alice") == S(0)  # ... then, later, an undo back to nothing on laptop b
    b.close()
    for name in ("a.db", "b.db"):
        shutil.copy(tmp_path / name, tmp_path / f"orig-{name}")
    ab, ba = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
    merge_databases(ab, [tmp_path / "orig-b.db"])
    merge_databases(ba, [tmp_path / "orig-a.db"])
    assert ab.labels.get(S(0), "alice") is None  # the later undo wins in both directions
    assert ba.labels.get(S(0), "alice") is None
    ab.close()
    ba.close()
    assert _visible(tmp_path / "a.db", tmp_path / "o.jsonl") == _visible(
        tmp_path / "b.db", tmp_path / "o.jsonl"
    )


def test_future_dated_events_warn_and_later_edits_still_win(tmp_path: Path) -> None:
    import sqlite3
    from datetime import UTC, datetime, timedelta

    a = demo_db(tmp_path / "a.db")
    a.labels.save(_label(S(0), "alice", 0))
    a.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    a = Store.open(tmp_path / "a.db")
    a.labels.save(_label(S(0), "alice", 3))
    a.close()
    future = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    con = sqlite3.connect(tmp_path / "a.db")  # laptop a's clock was two hours ahead
    con.execute(
        "UPDATE annotation_events SET ts = ? WHERE id = (SELECT max(id) FROM annotation_events)",
        (future,),
    )
    con.commit()
    con.close()
    p = run("--db", str(tmp_path / "b.db"), "merge", str(tmp_path / "a.db"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "in the future" in p.stderr and "a.db" in p.stderr
    b = Store.open(tmp_path / "b.db")
    got = b.labels.get(S(0), "alice")
    assert got is not None and got.status == "flagged"  # merged as dated
    b.labels.save(_label(S(0), "alice", 4))  # edited afterwards on b, with a correct clock
    b.close()
    p = run("--db", str(tmp_path / "a.db"), "merge", str(tmp_path / "b.db"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    a = Store.open(tmp_path / "a.db")
    got = a.labels.get(S(0), "alice")
    assert got is not None and got.status == "skipped"  # the later edit wins everywhere
    a.close()


def test_an_import_after_a_merged_future_event_stands_everywhere(tmp_path: Path) -> None:
    """import-labels stamps its events after everything known for the record (the staged
    batches too), so the imported label does not flip back when the replicas merge."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    import orjson

    a = demo_db(tmp_path / "a.db")
    a.labels.save(_label(S(0), "alice", 0))
    a.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    a = Store.open(tmp_path / "a.db")
    a.labels.save(_label(S(0), "alice", 3))
    a.close()
    future = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    con = sqlite3.connect(tmp_path / "a.db")  # laptop a's clock was two hours ahead
    con.execute(
        "UPDATE annotation_events SET ts = ? WHERE id = (SELECT max(id) FROM annotation_events)",
        (future,),
    )
    con.commit()
    con.close()
    b = str(tmp_path / "b.db")
    assert run("--db", b, "merge", str(tmp_path / "a.db"), cwd=tmp_path).returncode == 0
    out = run("--db", b, "export", "--kind", "sentences", "--out", "-", cwd=tmp_path)
    row = next(r for r in map(orjson.loads, out.stdout.splitlines()) if r["sentence_id"] == S(0))
    rec = {
        "sentence_id": row["sentence_id"],
        "article_id": row["article_id"],
        "text": row["text"],
        "annotator": "alice",
        "status": "skipped",
        "claims": [],
        "stances": [],
    }
    f = tmp_path / "l.jsonl"
    f.write_bytes(orjson.dumps(rec) + b"\n")
    p = run("--db", b, "import-labels", "--force", str(f), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    for here, there in (("b", "a"), ("a", "b"), ("b", "a")):
        p = run(
            "--db",
            str(tmp_path / f"{here}.db"),
            "merge",
            str(tmp_path / f"{there}.db"),
            cwd=tmp_path,
        )
        assert p.returncode == 0, p.stderr
        s = Store.open(tmp_path / f"{here}.db")
        got = s.labels.get(S(0), "alice")
        s.close()
        assert got is not None and got.status == "skipped", (here, got)
