#!/usr/bin/env python3
"""Provenance: how benchmarks/data/text/*.jsonl.xz were cut from public repositories.

Run once by a maintainer with the repositories mirrored as bare git dirs (the `fetch` tool puts
them under /work/.mirror/OWNER+NAME/repo). Nothing here is run by the benchmarks: they read the
committed .jsonl.xz files through benchmarks/realtext.py. The text is taken as published, with
no selection by content; only exact-duplicate sentences (after whitespace folding) are dropped,
across all sources, so the corpora never repeat a sentence.

One JSON object per line: {"id", "source", "lang", "title", "text"}; paragraphs in "text" are
separated by a blank line.
"""

from __future__ import annotations

import csv
import io
import json
import lzma
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

MIRROR = Path("/work/.mirror")
OUT = Path(__file__).resolve().parent

# source name -> (repo, commit, [paths], licence)
UD = {
    "ud_fr_gsd": (
        "UniversalDependencies/UD_French-GSD",
        ["fr_gsd-ud-dev.conllu", "fr_gsd-ud-test.conllu"],
        "CC BY-SA 4.0",
        "fr",
    ),
    "ud_fr_sequoia": (
        "UniversalDependencies/UD_French-Sequoia",
        [
            "not-to-release/Europar.550.conllu",
            "not-to-release/annodis.er.conllu",
            "not-to-release/emea-fr-dev.conllu",
            "not-to-release/emea-fr-test.conllu",
            "not-to-release/frwiki_50.1000.conllu",
        ],
        "LGPL-LR",
        "fr",
    ),
    "ud_fr_parisstories": (
        "UniversalDependencies/UD_French-ParisStories",
        [
            "fr_parisstories-ud-train.conllu",
            "fr_parisstories-ud-dev.conllu",
            "fr_parisstories-ud-test.conllu",
        ],
        "CC BY-SA 4.0",
        "fr",
    ),
    "ud_fr_rhapsodie": (
        "UniversalDependencies/UD_French-Rhapsodie",
        [
            "fr_rhapsodie-ud-train.conllu",
            "fr_rhapsodie-ud-dev.conllu",
            "fr_rhapsodie-ud-test.conllu",
        ],
        "CC BY-SA 4.0",
        "fr",
    ),
    "ud_en_ewt": (
        "UniversalDependencies/UD_English-EWT",
        ["en_ewt-ud-dev.conllu", "en_ewt-ud-test.conllu"],
        "CC BY-SA 4.0",
        "en",
    ),
    "ud_en_gum": (
        "UniversalDependencies/UD_English-GUM",
        ["not-to-release/sources/"],
        "CC BY-NC-SA 4.0 (text: per-document sources, see the repo README)",
        "en",
    ),
}


def git(repo: str, *args: str) -> bytes:
    d = MIRROR / repo.replace("/", "+") / "repo"
    if not (d / "HEAD").exists() and (d / ".git").exists():
        d = d / ".git"
    return subprocess.run(["git", "-C", str(d), *args], check=True, capture_output=True).stdout


def head(repo: str) -> str:
    return git(repo, "rev-parse", "HEAD").decode().strip()


def list_paths(repo: str, prefix: str) -> list[str]:
    out = git(repo, "ls-tree", "-r", "--name-only", "HEAD", prefix).decode().split("\n")
    return sorted(p for p in out if p.endswith((".conllu", ".txt")))


def conllu_docs(name: str, text: str, path: str) -> Iterator[tuple[str, list[list[str]]]]:
    """(doc id, paragraphs of sentences) from `# newdoc` / `# newpar`; docs of 20 sentences if none."""
    doc_id, paras, cur, n = None, [], [], 0
    chunk = 0

    def flush() -> Iterator[tuple[str, list[list[str]]]]:
        nonlocal paras, cur
        if cur:
            paras.append(cur)
        if paras:
            yield (doc_id or f"{path}#{chunk}", paras)
        paras, cur = [], []

    has_newdoc = "# newdoc" in text
    for line in text.splitlines():
        if line.startswith("# newdoc"):
            yield from flush()
            doc_id = line.split("=", 1)[1].strip() if "=" in line else f"{path}#{chunk}"
            chunk += 1
        elif line.startswith("# newpar") and cur:
            paras.append(cur)
            cur = []
        elif line.startswith("# text ="):
            cur.append(line.split("=", 1)[1].strip())
            n += 1
            if not has_newdoc and n % 20 == 0:
                yield from flush()
                chunk += 1
    yield from flush()


def ag_news() -> Iterator[dict[str, str]]:
    repo = "mhjabreel/CharCnn_Keras"
    raw = git(repo, "show", "HEAD:data/ag_news_csv/test.csv").decode("utf-8")
    for i, row in enumerate(csv.reader(io.StringIO(raw))):
        _cls, title, desc = row
        desc = desc.replace("\\", " ").replace(" #36;", " $").replace("#36;", "$")
        yield {
            "id": f"agnews-test-{i}",
            "source": "ag_news",
            "lang": "en",
            "title": title,
            "text": desc,
        }


def bbc() -> Iterator[dict[str, str]]:
    repo = "DokahlSoZoor/DieNeueKrone"
    for p in list_paths(repo, "data/bbc/"):
        raw = git(repo, "show", f"HEAD:{p}").decode("latin-1")
        lines = raw.strip().split("\n")
        title = lines[0].strip()
        body = "\n\n".join(par.strip() for par in "\n".join(lines[1:]).split("\n\n") if par.strip())
        yield {"id": f"bbc-{p[9:-4]}", "source": "bbc", "lang": "en", "title": title, "text": body}


def ud(name: str) -> Iterator[dict[str, str]]:
    repo, paths, _lic, lang = UD[name]
    files: list[str] = []
    for p in paths:
        files.extend(list_paths(repo, p) if p.endswith("/") else [p])
    for p in files:
        text = git(repo, "show", f"HEAD:{p}").decode("utf-8")
        for doc_id, paras in conllu_docs(name, text, p):
            body = "\n\n".join(" ".join(par) for par in paras)
            yield {
                "id": f"{name}-{doc_id}",
                "source": name,
                "lang": lang,
                "title": "",
                "text": body,
            }


def main() -> None:
    seen: set[str] = set()
    gens = {"bbc": bbc(), "ag_news": ag_news(), **{k: ud(k) for k in UD}}
    for name, gen in gens.items():
        kept = dropped = 0
        with lzma.open(OUT / f"{name}.jsonl.xz", "wt", encoding="utf-8", preset=9) as fh:
            for art in gen:
                # drop a paragraph's sentences already seen elsewhere (exact, whitespace-folded)
                paras = []
                for par in art["text"].split("\n\n"):
                    key = re.sub(r"\s+", " ", par).strip()
                    if not key or key in seen:
                        dropped += 1
                        continue
                    seen.add(key)
                    paras.append(par)
                if not paras:
                    continue
                art["text"] = "\n\n".join(paras)
                fh.write(json.dumps(art, ensure_ascii=False) + "\n")
                kept += 1
        print(f"{name}: {kept} articles, {dropped} duplicate paragraphs dropped", file=sys.stderr)


if __name__ == "__main__":
    main()
