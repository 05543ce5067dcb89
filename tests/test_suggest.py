"""Claim suggestions: the training-label rule, a model on a small fixed corpus, files, plug-ins."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stanceterm import suggest, suggest_eval, suggest_trainer
from stanceterm.suggest import Example
from tests.conftest import SUGGEST_CLAIMS as CLAIMS
from tests.conftest import suggest_corpus as corpus

# ---------------------------------------------------------------- the training-label rule


def test_training_label_rule_gold_then_agreed_then_single_done() -> None:
    rows = [
        # gold wins over disagreeing annotators
        ("s1", "t1", "alice", "done", ["arms_deal"]),
        ("s1", "t1", "bob", "done", ["denial"]),
        # agreement: two done labels with the same claims (order and duplicates ignored)
        ("s2", "t2", "alice", "done", ["denial", "arms_deal"]),
        ("s2", "t2", "bob", "done", ["arms_deal", "denial"]),
        # disagreement without gold: left out
        ("s3", "t3", "alice", "done", ["arms_deal"]),
        ("s3", "t3", "bob", "done", []),
        # a single done label; the flagged and skipped ones are left out
        ("s4", "t4", "alice", "done", []),
        ("s4", "t4", "bob", "flagged", ["denial"]),
        ("s4", "t4", "carol", "skipped", []),
        # only skipped / flagged / draft: nothing
        ("s5", "t5", "alice", "skipped", []),
        ("s6", "t6", "alice", "flagged", ["denial"]),
        ("s7", "t7", "alice", "draft", ["denial"]),
        # an unresolvable gold record leaves the sentence out even with a done label
        ("s8", "t8", "alice", "done", ["denial"]),
        # a gold-only sentence (no direct label): the store sends one row with status ""
        ("s9", "t9", "", "", []),
        # claims unknown to the schema are dropped
        ("s10", "t10", "alice", "done", ["arms_deal", "gone_claim"]),
    ]
    gold = {
        "s1": ("gold", ["denial"]),
        "s8": ("unresolvable", []),
        "s9": ("gold", ["sanctions_efficacy"]),
    }
    got = {e.sentence_id: e.claims for e in suggest.training_examples(rows, gold, CLAIMS)}
    assert got == {
        "s1": ("denial",),
        "s2": ("arms_deal", "denial"),
        "s4": (),
        "s9": ("sanctions_efficacy",),
        "s10": ("arms_deal",),
    }


# ---------------------------------------------------------------- the model


def test_training_is_deterministic_and_learns_the_corpus() -> None:
    data = corpus()
    a = suggest_trainer.train(data, CLAIMS, "fp", seed=0, trained_at="2026-01-01T00:00:00Z")
    b = suggest_trainer.train(data, CLAIMS, "fp", seed=0, trained_at="2026-01-01T00:00:00Z")
    probe = [
        "Russia wants to buy shells and rockets from North Korea.",
        "Le Kremlin a démenti ces informations.",
        "Il pleuvait sur la gare.",
    ]
    pa, pb = a.predict(probe), b.predict(probe)
    assert pa == pb
    assert a.model_id == b.model_id and a.n_train == len(data)
    assert suggest.suggested(pa[0]) == ("arms_deal",)
    assert suggest.suggested(pa[1]) == ("denial",)
    assert suggest.suggested(pa[2]) == ()
    # sanctions_efficacy never occurs: a constant, low, never certain probability
    assert 0.0 < pa[0]["sanctions_efficacy"] < 0.1
    # the least sure sentence ranks first under uncertainty order
    assert suggest.uncertainty({"x": 0.5}) == 1.0
    assert suggest.uncertainty({"x": 0.0, "y": 1.0}) == 0.0


def test_model_file_round_trip_and_schema_change(tmp_path: Path) -> None:
    model = suggest_trainer.train(corpus(), CLAIMS, "fp-1", seed=0)
    path = suggest.model_path(tmp_path / "team.db")
    assert path.name == "team.db.suggest-model"
    suggest_trainer.save_model(model, path)
    loaded = suggest.load_model(path, "fp-1")
    assert loaded is not None and loaded.model_id == model.model_id
    assert loaded.predict(["Le Kremlin a nié."]) == model.predict(["Le Kremlin a nié."])
    assert suggest.load_model(path, "fp-2") is None  # another label schema: ignored
    path.write_bytes(b"not a pickle")
    assert suggest.load_model(path) is None
    assert list(tmp_path.glob("*.tmp")) == []


def test_evaluate_reports_per_claim_scores_and_a_learning_curve() -> None:
    data = corpus() * 3  # 60 examples, so the curve has its 50-label point
    data = [Example(f"{e.sentence_id}#{i}", e.text, e.claims) for i, e in enumerate(data)]
    ev = suggest_eval.evaluate(data, CLAIMS, folds=3, seed=0, curve_sizes=(10, 20))
    assert ev.n == 60 and ev.folds == 3
    by = {s.claim: s for s in ev.claims}
    assert by["arms_deal"].support == 24 and by["denial"].support == 18
    assert by["sanctions_efficacy"].support == 0 and by["sanctions_efficacy"].f1 is None
    assert by["arms_deal"].f1 is not None and by["arms_deal"].f1 > 0.8
    assert [size for size, _f1, _exact in ev.curve] == [10, 20, 40]
    assert 0.0 <= ev.exact <= 1.0
    with pytest.raises(suggest.SuggestError):
        suggest_eval.evaluate(data[:2], CLAIMS, folds=5)


def test_anchoring_and_blind_units() -> None:
    a = suggest_eval.anchoring(
        [(["x"], ["x"]), (["x"], ["x"]), ([], ["x"])], [(["x"], ["x"]), ([], ["x"])]
    )
    assert (a.with_share, a.without_share) == (2 / 3, 1 / 2)
    assert a.effect == pytest.approx(2 / 3 - 1 / 2)
    units = [f"u{i}" for i in range(100)]
    blind = suggest.blind_units(units, 0.1, seed=3)
    assert len(blind) == 10
    assert blind == suggest.blind_units(list(reversed(units)), 0.1, seed=3)
    assert blind != suggest.blind_units(units, 0.1, seed=4)
    with pytest.raises(suggest.SuggestError):
        suggest.blind_units(units, 1.5, seed=0)


def test_plugin_suggester(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_suggester.py").write_text(
        textwrap.dedent(
            """
            def predict(sentences):
                return [{"denial": 0.9 if "nie" in s else 0.1} for s in sentences]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    func = suggest.load_suggester("my_suggester:predict")
    model = suggest.PluginModel(func, CLAIMS, "my_suggester:predict")
    out = model.predict(["Moscou nie tout.", "Il pleut."])
    assert out[0] == {"arms_deal": 0.0, "denial": 0.9, "sanctions_efficacy": 0.0}
    import numpy as np  # a model's numpy scalars are probabilities too

    np_model = suggest.PluginModel(lambda t: [{"denial": np.float32(0.5)}], CLAIMS, "np")
    assert np_model.predict(["x"])[0]["denial"] == 0.5
    assert suggest.suggested(out[1]) == ()
    for bad in ("nocolon", "no_such_module_xyz:f", "my_suggester:missing"):
        with pytest.raises(suggest.SuggestError):
            suggest.load_suggester(bad)
    sys.modules.pop("my_suggester", None)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"denial": "high"}], "sentence 1: denial is 'high', not a probability from 0 to 1"),
        ([{"denial": 1.5}], "sentence 1: denial is 1.5, not a probability from 0 to 1"),
        ([{"denial": float("nan")}], "sentence 1: denial is nan, not a probability"),
        ([{"bogus": 0.9}], "claim type 'bogus' is not in the label schema (arms_deal, denial,"),
        (["denial"], "sentence 1: 'denial' is not a mapping of claim type to probability"),
    ],
)
def test_plugin_suggester_output_is_checked(rows: list[Any], message: str) -> None:
    """A plug-in that returns what is not a claim probability fails with one SuggestError that
    names the sentence and the value (the screen shows it once), never a bare ValueError raised
    on every sentence, and an unknown claim type is not silently dropped."""
    model = suggest.PluginModel(lambda texts: rows, CLAIMS, "mysug:bad")
    with pytest.raises(suggest.SuggestError, match=re.escape(f"suggester mysug:bad: {message}")):
        model.predict(["Moscou nie tout."])


# ---------------------------------------------------------------- on a DB, through the CLI


def _team_db(path: Path, *, overlap: bool = False) -> list[str]:
    """A DB file with the corpus as sentences and alice's done labels on all but the last of
    each kind; returns the sentence ids in order."""
    from stanceterm.schema import load_schema
    from stanceterm.store import Annotation, Store
    from tests.conftest import add_article

    data = corpus()
    with Store.open(path) as store:
        store.set_label_schema(load_schema())
        add_article(store, "art", [e.text for e in data])
        ids = [f"art:{i}" for i in range(len(data))]
        for sid, e in zip(ids, data, strict=True):
            store.labels.save(Annotation(sid, "alice", "done", e.claims))
        # noise the rule leaves out: a flagged label, a draft, a skipped one
        store.labels.save(Annotation(ids[0], "bob", "flagged", ("denial",)))
        store.labels.save(Annotation(ids[1], "bob", "draft", ("denial",)))
        store.labels.save(Annotation(ids[2], "carol", "skipped"))
    return ids


def _wait_for_model(db: Path, timeout: float = 120) -> None:
    """Until the DB's trainer process has written a model (a failure after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not suggest.model_path(db).exists():
        assert time.monotonic() < deadline, "the trainer did not train"
        time.sleep(0.2)


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stanceterm", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_train_status_evaluate_and_blind_sample(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    _team_db(db)
    r = _cli(db, "suggest", "--train")
    assert r.returncode == 1 and "20 training labels" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "team.db.suggest-model").exists()
    r = _cli(db, "suggest", "--train", "--min-labels", "10")
    assert r.returncode == 0, r.stderr
    assert "trained on 20 labels" in r.stdout
    assert (tmp_path / "team.db.suggest-model").exists()
    r = _cli(db, "suggest", "--status", "--json")
    st = json.loads(r.stdout)["status"]
    assert st["training_labels"] == 20 and st["trained_on"] == 20 and st["model"]
    assert st["blind_units"] == 0 and st["trainer_running"] is False
    r = _cli(db, "suggest", "--evaluate", "--folds", "4", "--json")
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)["evaluate"]
    assert ev["labels"] == 20 and {c["claim"] for c in ev["claims"]} == set(CLAIMS)
    assert ev["curve"][-1]["labels"] == 15
    r = _cli(db, "suggest", "--blind-sample", "0.25", "--seed", "1")
    assert r.returncode == 0 and "5 units marked blind" in r.stdout
    r = _cli(db, "suggest", "--blind-sample", "2")
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_model_of_another_schema_is_ignored_and_deleted_by_the_trainer(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    _team_db(db)
    model = suggest_trainer.train(corpus(), CLAIMS, "some-other-schema", seed=0)
    suggest_trainer.save_model(model, suggest.model_path(db))
    r = _cli(db, "suggest", "--status")
    assert "model: a model of another label schema (ignored)" in r.stdout
    # one trainer pass (min-labels above the data: it only cleans up)
    r = _cli(db, "suggest", "--trainer", "--once", "--min-labels", "1000")
    assert r.returncode == 0, r.stderr
    assert not suggest.model_path(db).exists()


def test_one_background_trainer_per_db(tmp_path: Path) -> None:
    """Two trainers on one DB: the second exits at once (code 3); the first trains, with the
    lock file beside the DB."""
    db = tmp_path / "team.db"
    _team_db(db)
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "stanceterm", "--db", str(db), "suggest", "--trainer"]
    first = subprocess.Popen(
        [*cmd, "--min-labels", "10", "--every", "5"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not suggest.model_path(db).exists():
            assert time.monotonic() < deadline, "the trainer did not train"
            assert first.poll() is None
            time.sleep(0.2)
        assert suggest_trainer.trainer_running(db)
        second = _cli(db, "suggest", "--trainer", "--min-labels", "10")
        assert second.returncode == 3 and "another trainer" in second.stderr
    finally:
        first.terminate()
        first.wait(30)
    assert not suggest_trainer.trainer_running(db)
    model = suggest.load_model(suggest.model_path(db))
    assert model is not None and model.n_train == 20


def test_agreement_reports_assisted_units_and_unassisted_only(tmp_path: Path) -> None:
    from dataclasses import replace

    from stanceterm.store import Annotation, Store

    db = tmp_path / "team.db"
    ids = _team_db(db)
    prov = '{"accepted":true,"applied":true,"claims":["arms_deal"],"model":"m"}'
    with Store.open(db) as store:
        for i, sid in enumerate(ids[:8]):  # bob labels 8 sentences; 3 with a suggestion shown
            mine = store.labels.get(sid, "alice")
            assert mine is not None
            claims = mine.claims if i % 4 else ()
            ann = Annotation(sid, "bob", "done", claims)
            store.labels.save(replace(ann, suggested=prov) if i < 3 else ann)
    r = _cli(db, "agreement", "--json", "--bootstrap", "10")
    assert r.returncode == 0, r.stderr
    sug = json.loads(r.stdout)["suggestions"]
    assert sug == {"units": 8, "units_with_suggestions": 3, "unassisted_only": False}
    r = _cli(db, "agreement", "--json", "--bootstrap", "10", "--unassisted-only")
    out = json.loads(r.stdout)
    assert out["suggestions"] == {"units": 5, "units_with_suggestions": 0, "unassisted_only": True}
    claims_field = next(f for f in out["fields"] if f["field"] == "claims")
    assert claims_field["units"] == 5
    r = _cli(db, "agreement", "--bootstrap", "10")
    assert "3 of the 8 units had a label made with claim suggestions shown" in r.stderr


def test_numpy_prediction_equals_scikit_learn() -> None:
    """The saved model predicts without scikit-learn; it must give what the fitted pipeline
    gives (same n-grams, tf-idf, normalisation and logistic link), on French and English."""
    import numpy as np

    data = corpus()
    model = suggest_trainer.train(data, CLAIMS, "fp", seed=0)
    vectorizer, heads = suggest_trainer._fit(data, CLAIMS, 0)
    probe = [
        "Moscou  achèterait\tdes OBUS à Pyongyang.",
        "A",
        "",
        "Le Kremlin a démenti, selon l'AFP.",
        *(e.text for e in data),
    ]
    ours = model.features(probe)
    theirs = vectorizer.transform(probe).toarray()
    assert np.allclose(ours, theirs, atol=1e-6)
    preds = model.predict(probe)
    for j, claim in enumerate(CLAIMS):
        head = heads[j]
        expected = (
            [head] * len(probe)
            if isinstance(head, float)
            else list(head.predict_proba(vectorizer.transform(probe))[:, 1])
        )
        got = [p[claim] for p in preds]
        assert np.allclose(got, expected, atol=2e-4), claim


def test_evaluate_bias_compares_assisted_and_unassisted_labels(tmp_path: Path) -> None:
    from dataclasses import replace

    from stanceterm.store import Store

    db = tmp_path / "team.db"
    ids = _team_db(db)
    with Store.open(db) as store:
        # alice's first 5 labels were made with a suggestion shown, equal to her label for 4
        for i, sid in enumerate(ids[:5]):
            mine = store.labels.get(sid, "alice")
            assert mine is not None
            shown = list(mine.claims) if i < 4 else ["sanctions_efficacy"]
            prov = json.dumps(
                {"accepted": i < 4, "applied": i < 4, "claims": shown, "model": "m"},
                sort_keys=True,
                separators=(",", ":"),
            )
            store.labels.save(replace(mine, suggested=prov))
    # no blind or overlap unit: no control group, so no effect (ROUND-NOTES: the unassisted
    # set is the blind units and the overlap units, not every label made without a suggestion)
    r = _cli(db, "suggest", "--evaluate", "--bias", "--folds", "4", "--json")
    assert r.returncode == 0, r.stderr
    bias = json.loads(r.stdout)["bias"]
    assert bias["with_suggestions"] == 5 and bias["equal_with"] == 4 / 5
    assert bias["without_suggestions"] == 0 and bias["left_out"] == 15
    assert bias["equal_without"] is None and bias["effect"] is None
    r = _cli(db, "suggest", "--evaluate", "--bias", "--folds", "4")
    assert "no unassisted labels on blind or overlap units" in r.stdout, r.stdout
    with Store.open(db) as store:
        store.suggest.set_blind(ids[5:11], seed=0)
    r = _cli(db, "suggest", "--evaluate", "--bias", "--folds", "4", "--json")
    bias = json.loads(r.stdout)["bias"]
    assert bias["without_suggestions"] == 6 and bias["left_out"] == 9
    assert 0.0 <= bias["equal_without"] <= 1.0
    assert bias["effect"] == bias["equal_with"] - bias["equal_without"]
    r = _cli(db, "suggest", "--evaluate", "--bias", "--folds", "4")
    assert "6 unassisted ones on blind or overlap units" in r.stdout, r.stdout
    assert "9 labels made without a suggestion elsewhere are left out" in r.stdout
    r = _cli(db, "suggest", "--bias")
    assert r.returncode != 0 and "--bias goes with --evaluate" in r.stderr


def test_start_trainer_spawns_the_dbs_trainer_as_annotate_does(tmp_path: Path) -> None:
    """What `stanceterm annotate` runs at start: a detached trainer process that trains once
    the DB has enough labels; a second start while it runs exits at once (one per DB)."""
    import signal

    db = tmp_path / "team.db"
    _team_db(db)
    pid = suggest_trainer.start_trainer(db, None, every=5, min_labels=10)
    try:
        _wait_for_model(db)
        assert suggest_trainer.trainer_running(db)
        second = suggest_trainer.start_trainer(db, None, every=5, min_labels=10)
        deadline = time.monotonic() + 60
        while True:  # the second one finds the lock taken and exits (code 3)
            done, status = os.waitpid(second, os.WNOHANG)
            if done:
                assert os.waitstatus_to_exitcode(status) == 3
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    assert not suggest_trainer.trainer_running(db)


def test_annotate_refuses_a_bad_suggester_or_order_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    _team_db(db)
    for args, message in (
        (["--suggester", "nocolon"], "expected module:function"),
        (["--suggester", "no_such_module_xyz:f"], "cannot import no_such_module_xyz"),
        (["--no-suggest", "--order", "uncertain"], "--order uncertain needs suggestions"),
    ):
        r = _cli(db, "annotate", "--annotator", "alice", *args)
        assert r.returncode == 1, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr


def test_picker_boost_reorders_only_equal_ranks_and_counts_other_sentences() -> None:
    from stanceterm.store import Annotation, Stance
    from stanceterm.ui.dialogs.actor_picker import candidates

    aliases = {"la Russie": "ru", "Russie": "ru", "Rubio": "rb", "Ruth": "rt", "Rwanda": "rw"}
    names = {"ru": "la Russie", "rb": "Rubio", "rt": "Ruth", "rw": "Rwanda"}
    plain = [c.actor_id for c in candidates("ru", "Rien.", aliases, names)]
    assert plain[:3] == ["ru", "rb", "rt"]  # equal ranks: by name
    boosted = [c.actor_id for c in candidates("ru", "Rien.", aliases, names, boost={"rt": 5})]
    assert boosted[:3] == ["rt", "ru", "rb"]  # the team's actor first among equals
    # "russ" matches la Russie better than anything: no boost moves Ruth above it
    assert candidates("russ", "Rien.", aliases, names, boost={"rt": 99})[0].actor_id == "ru"
    # nothing typed: after the sentence's own actors, the team's first
    idle = [c.actor_id for c in candidates("", "Rien.", aliases, names, boost={"rw": 2})]
    assert idle[0] == "rw"
    # the counts: the sentence on screen's labels (any annotator) are taken away
    by_claim = {"denial": {"ru": 3, "rt": 1}, "arms_deal": {"ru": 1}}
    on_screen = [
        Annotation("s", "bob", "done", ("denial",), (Stance("denial", "rt", "support"),)),
        Annotation("s", "carol", "done", ("denial",), (Stance("denial", "ru", "oppose"),)),
        Annotation("s", "dan", "draft", ("denial",), (Stance("denial", "ru", "oppose"),)),
    ]
    assert suggest.boost_counts(by_claim, "denial", on_screen) == {"ru": 2}
    assert suggest.boost_counts(by_claim, "sanctions_efficacy", on_screen) == {}


def test_actor_counts_by_claim(store: Any) -> None:
    from stanceterm.store import Annotation, Stance
    from tests.conftest import add_article

    add_article(store, "a", ["one", "two"])
    store.labels.save(
        Annotation("a:0", "bob", "done", ("denial",), (Stance("denial", "ru", "support"),))
    )
    store.labels.save(
        Annotation("a:1", "bob", "draft", ("denial",), (Stance("denial", "kp", "support"),))
    )
    store.labels.save(
        Annotation("a:1", "eve", "flagged", ("denial",), (Stance("denial", "ru", "oppose"),))
    )
    assert store.suggest.actor_counts_by_claim() == {"denial": {"ru": 2}}


def test_prediction_memory_does_not_grow_with_the_vocabulary() -> None:
    """A model trained on 10k labels has up to 100k n-grams: predicting a batch (the
    ``--order uncertain`` walk predicts 2,000 at a time, the screen 30) must not build dense
    rows of the whole vocabulary (2,000 x 100k float32 = 800 MB)."""
    import tracemalloc

    import numpy as np

    small = suggest_trainer.train(corpus(), CLAIMS, "fp", seed=0)
    n_features = 100_000
    vocab = dict(small.vocab)
    for i in range(n_features - len(vocab)):  # padding n-grams no text contains
        vocab[f"\x00{i}"] = len(vocab)
    rng = np.random.default_rng(0)
    idf = np.concatenate([small.idf, rng.random(n_features - len(small.idf), dtype=np.float32)])
    coef = np.concatenate(
        [small.coef, np.zeros((len(CLAIMS), n_features - len(small.idf)), np.float32)], axis=1
    )
    big = suggest.ClaimModel(
        CLAIMS, "fp", 10_000, "now", 0, small.ngram, vocab, idf, coef, small.intercept
    )
    texts = [e.text for e in corpus()] * 20
    tracemalloc.start()
    try:
        got = big.predict(texts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20e6, f"predicting {len(texts)} sentences took {peak / 1e6:.0f} MB"
    assert got == small.predict(texts)  # same n-grams, same weights: same probabilities


def test_a_rare_claim_is_still_suggested() -> None:
    """A new team's claims are rare (4 sentences of 64 here, like the demo plus a few hundred
    more): the model must still suggest them on unseen sentences that carry them, not learn
    that "no claim" is always the safe answer (it did: no ◌ mark ever showed)."""
    from tests.conftest import ARMS, DENIAL, NONE

    data = [Example(f"a{i}", t, ("arms_deal",)) for i, t in enumerate(ARMS[:4])]
    data += [
        Example(f"n{i}-{k}", f"{t} ({k})" if k else t, ())
        for k in range(5)
        for i, t in enumerate(DENIAL + NONE)
    ]
    model = suggest_trainer.train(data, ["arms_deal"], "fp", seed=0)
    unseen = [*ARMS[6:], "Russia will buy artillery shells and rockets from North Korea."]
    assert [suggest.suggested(p) for p in model.predict(unseen)] == [("arms_deal",)] * 3
    assert all(suggest.suggested(p) == () for p in model.predict(NONE))


def test_two_threads_refreshing_both_see_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The screen's suggestions worker and its --order uncertain worker both call refresh()
    at start-up: the second must wait for the first's load, not see the file's stamp already
    taken and the model still None ("Uncertain order: no model yet" with a model on disk)."""
    import threading
    import time

    db = tmp_path / "team.db"
    model = suggest_trainer.train(corpus(), CLAIMS, "fp", seed=0)
    suggest_trainer.save_model(model, suggest.model_path(db))
    slow_load = suggest.load_model

    def load(path: Path, fingerprint: str | None = None) -> suggest.ClaimModel | None:
        time.sleep(0.5)  # a model of 10k labels takes a while to unpickle
        return slow_load(path, fingerprint)

    monkeypatch.setattr(suggest, "load_model", load)
    live = suggest.LiveSuggestions(str(db), "fp", CLAIMS)
    first = threading.Thread(target=live.refresh)
    first.start()
    time.sleep(0.1)
    live.refresh()
    seen = live.model
    first.join()
    assert seen is not None


def test_bias_scores_unassisted_labels_out_of_fold(tmp_path: Path) -> None:
    """The unassisted labels were scored by a model trained on them, so they "equalled the
    suggestion" 100% of the time (the trial's `--evaluate --bias` said effect 0.0 on 200
    imported labels): a model that learnt a label cannot say whether the annotator agreed with
    it. They are scored by the k-fold models that did not see them."""
    import random

    from stanceterm.schema import load_schema
    from stanceterm.store import Annotation, Store
    from tests.conftest import add_article

    rng = random.Random(7)
    words = ["Moscou", "Kim", "obus", "train", "sommet", "accord", "Kremlin", "satellite"]
    texts = [
        f"{rng.choice(words)} {rng.choice(words)} {rng.choice(words)} n°{i}" for i in range(60)
    ]
    db = tmp_path / "team.db"
    with Store.open(db) as store:
        store.set_label_schema(load_schema())
        add_article(store, "art", texts)
        for i in range(60):  # labels no text predicts: only memory can "agree" with them
            claims = ("arms_deal",) if rng.random() < 0.5 else ()
            store.labels.save(Annotation(f"art:{i}", "alice", "done", claims))
        store.suggest.set_blind([f"art:{i}" for i in range(60)], seed=0)  # the control group
    r = _cli(db, "suggest", "--evaluate", "--bias", "--folds", "5", "--json")
    assert r.returncode == 0, r.stderr
    bias = json.loads(r.stdout)["bias"]
    assert bias["without_suggestions"] == 60
    assert bias["equal_without"] < 0.7, bias  # in-sample: 0.8; out of fold: about a coin


def test_the_trainer_annotate_starts_exits_soon_after_the_last_screen(tmp_path: Path) -> None:
    """`annotate` starts a detached trainer; it used to idle for an hour after the screen
    closed (every test run and every short session left one polling the DB). Now it lives
    while a screen holds the DB's screens lock, and exits a few seconds after the last one."""
    db = tmp_path / "team.db"
    _team_db(db)
    screen = suggest_trainer.hold_screen_lock(db)  # what `annotate` takes before starting it
    pid = suggest_trainer.start_trainer(db, None, every=5, min_labels=10)
    try:
        _wait_for_model(db)
        time.sleep(suggest_trainer.SCREENS_GRACE + 1)
        done, _status = os.waitpid(pid, os.WNOHANG)
        assert not done, "the trainer exited while a screen was open"
        screen.close()  # the screen quits
        deadline = time.monotonic() + suggest_trainer.SCREENS_GRACE + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                assert os.waitstatus_to_exitcode(status) == 0
                break
            assert time.monotonic() < deadline, "the trainer outlived the last screen"
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, 15)
            os.waitpid(pid, 0)
