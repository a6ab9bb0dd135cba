"""The coded store: passages a researcher coded through the review loop (`coded/*.jsonl`, append-only), and
what a run reports about them (how much of its corpus a person coded, and the agreement reached)."""
from __future__ import annotations

import hashlib
import json
import re
import sys
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from .article_numbers import ARTICLE_NUMBER
from .classify import coded_store_paths, label_matrix
from .io import ConfigError
from .taxonomy import Taxonomy
from .text import first_few, shown

STORE_FILE = "coded.jsonl"
# a Chinese article's text opens with its number, which an article inserted or struck out before it changes
_OWN_NUMBER = re.compile(rf"^{ARTICLE_NUMBER}\s*")
# how much a passage the researcher coded from their own corpus weighs in training (see bench/review_sim.py)
CODED_WEIGHT = 6.0


def store_records(store: Path) -> list[dict]:
    recs = []
    for p in coded_store_paths(Path(store)):
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    r = json.loads(line)
                except ValueError as exc:
                    raise ConfigError(f"{p}: line {i} is not JSON ({exc})") from None
                if not (isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("labels"), list)
                        and isinstance(r.get("coder"), str)):
                    raise ConfigError(f"{p}: line {i} is not a coded passage (needs id, labels, coder)")
                recs.append(r)
    return recs


def _key(r: dict) -> str:
    return hashlib.sha256(json.dumps([r["id"], r["coder"], sorted(r["labels"]), r["text"]],
                                     ensure_ascii=False).encode()).hexdigest()


def append_to_store(records: list[dict], store: Path, source: str) -> tuple[int, int]:
    """Append new records (id, text, lang, labels, coder, time, source; title, heading, note and region where given) to
    the store; a coding that is already the coder's latest of that passage is not added again. Returns (added,
    already there)."""
    store.mkdir(parents=True, exist_ok=True)
    # against each coder's latest coding, not every coding ever stored: going back to an earlier coding after a
    # correction is a new latest coding (latest_codings), not one already there
    latest = {(r["id"], r["coder"]): _key(r) for r in store_records(store)}
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    new = []
    for r in records:
        k = _key(r)
        if latest.get((r["id"], r["coder"])) == k:
            continue
        latest[(r["id"], r["coder"])] = k
        new.append({"id": r["id"], "text": r["text"], "lang": r["lang"] or None, "labels": r["labels"],
                    "coder": r["coder"], "time": now, "source": source,
                    # the passage's context as the model sees it in a run (classify.context_of); its region as
                    # the run gave it, which CV=region holds out (a manifest's regions are not in the ids)
                    **{k: r[k] for k in ("title", "heading", "note", "region") if r.get(k)}})
    if new:
        path = store / STORE_FILE
        with path.open("a", encoding="utf-8") as f:
            for r in new:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
    return len(new), len(records) - len(new)


def passage_doc(passage_id: str) -> str:
    """The document of a passage id ("<doc_id>#<ordinal>", schemas.PASSAGES)."""
    return passage_id.rpartition("#")[0]


def _norm(t) -> str:
    """A text as codings and passages are compared: whitespace collapsed (a spreadsheet may rewrap a cell)."""
    return " ".join(str(t or "").split())


def _nearest(pids: list[str], pid: str) -> str:
    """Of the passages `pids`, the one nearest to `pid`'s place (by ordinal) in its document."""
    def ordinal(p: str) -> int:
        tail = p.rpartition("#")[2]
        return int(tail) if tail.isdigit() else 0

    return min(pids, key=lambda p: abs(ordinal(p) - ordinal(pid)))


def anchor_codings(store: list[dict], passages: pd.DataFrame) -> tuple[list[dict], list[dict], int]:
    """The store's records of these passages' documents, each under the id that holds its text now.

    A passage id is its document and ordinal, so an edited document (an article inserted, clauses renumbered)
    gives a coded passage's id to other text. A record whose id no longer holds its text is moved to the
    passage of its document that does (the nearest one to its old place if several do), or else to one that
    holds it under another article number (第三条 renumbered 第四条); if none does, it is stale: the coding no
    longer describes any passage, and counting it would put a person's labels on text they never read.
    `passages`: id, doc_id and text of every passage of the documents the records name (others' records are left
    out). Returns (records, stale records, how many were moved). Texts are compared with whitespace collapsed (a
    spreadsheet may rewrap them)."""
    def renumbered(t: str) -> str | None:
        """The text without its own article number, None for a text that does not open with one."""
        body = _OWN_NUMBER.sub("", t, count=1)
        return body if body != t and body else None

    named = {passage_doc(r["id"]) for r in store}
    passages = passages[passages["doc_id"].astype(str).isin(named)]
    ids, texts = passages["id"].astype(str).tolist(), [_norm(t) for t in passages["text"].tolist()]
    text_of = dict(zip(ids, texts))
    docs = set(passages["doc_id"].astype(str))
    holders: dict[tuple[str, str], list[str]] = {}
    bodies: dict[tuple[str, str], list[str]] = {}
    for pid, doc, text in zip(ids, passages["doc_id"].astype(str).tolist(), texts):
        holders.setdefault((doc, text), []).append(pid)
        if (body := renumbered(text)) is not None:
            bodies.setdefault((doc, body), []).append(pid)
    kept, stale, moved = [], [], 0
    for r in store:
        doc = passage_doc(r["id"])
        if doc not in docs:
            continue
        text = _norm(r.get("text"))
        if not text or text_of.get(r["id"]) == text:
            kept.append(r)
            continue
        now = holders.get((doc, text))
        if not now and (body := renumbered(text)) is not None:
            now = bodies.get((doc, body))
        if now:
            kept.append({**r, "id": _nearest(now, r["id"])})
            moved += 1
        else:
            stale.append(r)
    return kept, stale, moved


def anchoring_note(stale: list[dict], moved: int) -> str | None:
    """What a run says about coded passages whose documents changed since they were coded (None if none did)."""
    if not stale and not moved:
        return None
    parts = []
    if moved:
        # codings, not passages: a passage two people coded is two codings
        parts.append(f"{moved} coding(s) of passages found at a new place in their edited documents and counted there")
    if stale:
        parts.append(f"{len(stale)} coding(s) of passages whose text is no longer in their documents are not counted "
                     f"({first_few(sorted({r['id'] for r in stale}))}); code those passages again")
    return "coded store: " + "; ".join(parts)


def rehome_codings(store: list[dict], passages: pd.DataFrame
                   ) -> tuple[list[dict], dict[tuple[str, str], int], list[dict]]:
    """The store with the codings of a renamed or moved document under its new path.

    A document the store names that `passages` lack is gone from this corpus; its codings follow it only when
    every one of their texts (whitespace collapsed) is found in one and the same document of `passages` the store
    does not name, and in no other, and no other document gone is found there: else a coding could land on text
    its coder never read. Each lands on the passage holding its text nearest its old ordinal. Returns (records,
    codings followed by (old path, new path), codings of documents gone whose text is in `passages` but did not
    follow). A coding whose text is nowhere in `passages` (another corpus's) is left as it is."""
    docs = set(passages["doc_id"].astype(str))
    by_doc: dict[str, list[dict]] = {}
    for r in store:
        by_doc.setdefault(passage_doc(r["id"]), []).append(r)
    gone = {d: rs for d, rs in by_doc.items() if d not in docs}
    if not gone:
        return store, {}, []
    holders: dict[str, list[tuple[str, str]]] = {}
    for pid, doc, text in zip(passages["id"].astype(str), passages["doc_id"].astype(str), passages["text"]):
        holders.setdefault(_norm(text), []).append((doc, pid))
    targets: dict[str, str] = {}
    for old, rs in gone.items():
        found = [{doc for doc, _ in holders.get(_norm(r.get("text")), [])} for r in rs]
        if all(len(f) == 1 for f in found) and len(new := set.union(*found)) == 1 and not new & by_doc.keys():
            targets[old] = new.pop()
    claimed: dict[str, int] = {}
    for new in targets.values():
        claimed[new] = claimed.get(new, 0) + 1
    targets = {old: new for old, new in targets.items() if claimed[new] == 1}
    # a document of another corpus that shares a boilerplate article with this one (第三十条 本办法自公布之日起施行)
    # is no renamed document: only one most of whose coded texts are here is said to be
    here = {old for old, rs in gone.items()
            if 2 * sum(_norm(r.get("text")) in holders for r in rs) >= len(rs)}
    followed: dict[tuple[str, str], int] = {}
    unplaced, out = [], []
    for r in store:
        old = passage_doc(r["id"])
        if old in targets:
            pids = [pid for doc, pid in holders[_norm(r.get("text"))] if doc == targets[old]]
            out.append({**r, "id": _nearest(pids, r["id"])})
            followed[old, targets[old]] = followed.get((old, targets[old]), 0) + 1
            continue
        if old in here and _norm(r.get("text")) in holders:
            unplaced.append(r)
        out.append(r)
    return out, followed, unplaced


def follow_codings(store: list[dict], passages: pd.DataFrame) -> list[dict]:
    """anchor_codings' records, those of a renamed or moved document first put under its new path
    (rehome_codings), with what was followed, moved or set aside said on stderr (anchoring_note)."""
    store, followed, unplaced = rehome_codings(store, passages)
    for (old, new), n in sorted(followed.items()):
        print(shown(f"coded store: {n} coding(s) followed their document from {old} to {new}"), file=sys.stderr)
    if unplaced:
        print(shown(f"coded store: {len(unplaced)} coding(s) name documents not in this corpus whose texts are found "
                    f"in it (a renamed or moved document?) and are not counted "
                    f"({first_few(sorted({passage_doc(r['id']) for r in unplaced}))}); code those passages again"),
              file=sys.stderr)
    kept, stale, moved = anchor_codings(store, passages)
    if note := anchoring_note(stale, moved):
        print(shown(note), file=sys.stderr)
    return kept


HUMAN_CODING_COLUMNS = ["region", "passages_coded", "coders", "coder_model_f1", "coder_model_alpha",
                        "double_coded", "coder_coder_alpha"]


def human_coding(store: list[dict], documents: pd.DataFrame, labels: pd.DataFrame, taxonomy: Taxonomy
                 ) -> pd.DataFrame:
    """How much of this corpus a person coded (the coded store's passages of this corpus's documents), by
    region and in all: passages, coders, how the labels of this run agree with the coders (micro-F1 and
    Krippendorff's alpha over passage x leaf node), and coder vs coder alpha on passages two people coded.

    The model may have been trained on these very passages, so coder-model agreement here says how faithfully
    the coverage tables carry the coding, not how accurate the model is elsewhere (that is `evaluate`)."""
    doc_region = dict(zip(documents["doc_id"], documents["region"]))
    region_of = {r["id"]: doc_region[passage_doc(r["id"])] for r in store if passage_doc(r["id"]) in doc_region}
    mine = [r for r in store if r["id"] in region_of]
    leaves = list(taxonomy.leaf_ids)
    leaf = labels[(labels["source"] != "rollup") & labels["passage_id"].isin({r["id"] for r in mine})]
    predicted = leaf.groupby("passage_id")["node"].agg(list).to_dict()
    rows = []
    if mine:
        # the agreement figures need scikit-learn, which nothing else in a run loads in this process
        from sklearn.metrics import f1_score

        from .evaluate import alpha
    for region in ["all", *sorted({region_of[r["id"]] for r in mine})]:
        recs = [r for r in mine if region == "all" or region_of[r["id"]] == region]
        by_passage = codings_by_passage(recs)
        pairs = coder_pairs(by_passage)
        row = {"region": region, "passages_coded": len(by_passage), "coders": len({r["coder"] for r in recs}),
               "coder_model_f1": np.nan, "coder_model_alpha": np.nan, "double_coded": len(pairs),
               "coder_coder_alpha": np.nan}
        coded = [(labels_, predicted.get(pid, [])) for pid, v in by_passage.items() for labels_ in v.values()]
        if coded:
            Yc = label_matrix([c for c, _ in coded], leaves)
            Ym = label_matrix([m for _, m in coded], leaves)
            # no node given by a coder or the run: they agree, and F1, which counts given nodes, has nothing to
            # say (scikit-learn's 0 read as total disagreement)
            if Yc.any() or Ym.any():
                row["coder_model_f1"] = round(float(f1_score(Yc, Ym, average="micro", zero_division=0)), 4)
            row["coder_model_alpha"] = round(alpha(Yc, Ym), 4)
        if pairs:
            row["coder_coder_alpha"] = round(alpha(label_matrix([a for a, _ in pairs], leaves),
                                                   label_matrix([b for _, b in pairs], leaves)), 4)
        rows.append(row)
    return pd.DataFrame(rows, columns=HUMAN_CODING_COLUMNS)


CODER_CELLS_COLUMNS = ["region", "node", "coder_passages"]


def latest_codings(store: list[dict]) -> dict[tuple[str, str], list[str]]:
    """(passage id, coder) -> the labels of that coder's latest coding of the passage (the store is append-only:
    a recoding supersedes, it does not add)."""
    return {(r["id"], r["coder"]): r["labels"] for r in store}


def coder_cells(store: list[dict], documents: pd.DataFrame, taxonomy=None) -> pd.DataFrame:
    """Region x node: how many of this corpus's passages (of the region's documents) a person coded with the
    node, each passage counted once whichever coders gave it (a coder's latest coding of a passage counts);
    with `taxonomy`, a passage coded with a leaf counts for the leaf's measure group too (once). Where the run
    shows a gap, such a passage contradicts it. Passages are matched by id (document path and ordinal), as
    human_coding matches them: give both the records anchor_codings kept."""
    doc_region = dict(zip(documents["doc_id"], documents["region"]))
    group_of = ({leaf: g.id for g in taxonomy.groups for leaf in taxonomy.child_ids(g.id)}
                if taxonomy is not None else {})
    given: dict[tuple[str, str], set[str]] = {}
    for (pid, _), labels in latest_codings(store).items():
        region = doc_region.get(passage_doc(pid))
        for node in labels if region is not None else ():
            for counted in (node, group_of.get(node)):
                if counted is not None:
                    given.setdefault((region, counted), set()).add(pid)
    return pd.DataFrame([(region, node, len(ids)) for (region, node), ids in sorted(given.items())],
                        columns=CODER_CELLS_COLUMNS)


def codings_by_passage(store: list[dict]) -> dict[str, dict[str, list[str]]]:
    """passage id -> coder -> the labels of that coder's latest coding of the passage."""
    by_passage: dict[str, dict[str, list[str]]] = {}
    for (pid, coder), labels in latest_codings(store).items():
        by_passage.setdefault(pid, {})[coder] = labels
    return by_passage


def coder_pairs(by_passage: dict[str, dict[str, list[str]]]) -> list[tuple[list[str], list[str]]]:
    """The two codings of every two people who coded a passage (codings_by_passage), coders in name order: what
    coder vs coder agreement compares."""
    return [(codings[a], codings[b]) for codings in by_passage.values() for a, b in combinations(sorted(codings), 2)]
