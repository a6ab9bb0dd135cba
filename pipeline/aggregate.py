"""Stage 5: labels in, coverage tables and the gap audit out.

Counts are over content passages and ingested documents. A measure group counts a passage when any of
its leaves does. Every "addressed" cell can be traced to its strongest evidence passage.
"""
from __future__ import annotations

import itertools
import json
import re
import unicodedata

import numpy as np
import pandas as pd

from .segment import CONTENT_KINDS
from .strength import StrengthCues, load_strength
from .taxonomy import Taxonomy
from .text import simplified


def node_order(taxonomy: Taxonomy) -> list[str]:
    """Leaves and groups in taxonomy order, each group right before its leaves."""
    return [n.id for n in taxonomy.nodes]


def _in_node_order(df: pd.DataFrame, keys: list[str], nodes: list[str]) -> pd.DataFrame:
    """`df` sorted by `keys`, its `node` key in the order of `nodes` (node_order), not alphabetically."""
    at = {n: i for i, n in enumerate(nodes)}
    return df.sort_values(keys, key=lambda s: s.map(at) if s.name == "node" else s, kind="stable")


def merge_spans(text: str, evidence: list[dict]) -> list[list[int]]:
    """The evidence's usable spans in `text`, overlapping ones merged, in text order; the report marks the same
    spans as the CSV's 【】, so both read them from here."""
    spans = sorted((int(x["start"]), int(x["end"])) for x in evidence
                   if isinstance(x, dict) and 0 <= int(x.get("start", -1)) < int(x.get("end", -1)) <= len(text))
    merged: list[list[int]] = []
    for s, t in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], t)
        else:
            merged.append([s, t])
    return merged


def mark_terms(text: str, evidence: list[dict], left: str = "【", right: str = "】") -> str:
    """The passage with evidence spans wrapped in markers (overlapping spans merged)."""
    out, pos = [], 0
    for s, e in merge_spans(text, evidence):
        out += [text[pos:s], left, text[s:e], right]
        pos = e
    out.append(text[pos:])
    return "".join(out)


def as_written(text: str, original: str) -> str:
    """The passage as a researcher quotes it: the Traditional original of a converted document (conversion is
    character for character, so the evidence offsets hold in it when the lengths agree), else the text coded."""
    return original if original and len(original) == len(text) else text


def cite_as_written(citation: str, text: str, shown: str) -> str:
    """A citation cut from the coded text (第一条) as the shown text writes it (第一條)."""
    i = text.find(citation) if citation and shown is not text else -1
    return shown[i:i + len(citation)] if i >= 0 else citation


def written_headings(passages: pd.DataFrame) -> dict[str, dict[str, str]]:
    """doc id -> {heading as coded (第一章 权益归属): as written (第一章 權益歸屬)}, from the heading passages of
    converted documents among `passages`: a heading path is made of the coded text's headings, and a chapter
    named in Simplified beside a Traditional passage is nowhere in the document."""
    if "text_original" not in passages.columns or "kind" not in passages.columns:
        return {}
    rows = passages[(passages["kind"] == "heading") & (passages["text_original"].fillna("") != "")]
    out: dict[str, dict[str, str]] = {}
    for doc, title, text, original in zip(rows["doc_id"], rows["label"], rows["text"], rows["text_original"]):
        if isinstance(title, str) and len(original) == len(text):
            out.setdefault(doc, {})[title] = _title_as_written(title, text, original)
    return out


def _title_as_written(title: str, text: str, original: str) -> str:
    """A heading's title (its line, or its number and the title on the next line joined by a space) as the
    original writes it: each of its words where the heading passage's coded text has it."""
    out, pos = [], 0
    for piece in re.split(r"(\s+)", title):
        if not piece or piece.isspace():
            out.append(piece)
            continue
        i = text.find(piece, pos)
        if i < 0:
            return title
        out.append(original[i:i + len(piece)])
        pos = i + len(piece)
    return "".join(out)


def _path_as_written(path: str, headings: dict[str, str] | None) -> str:
    """A heading path ("第一章 … > 第一节 …") with each heading as written (see written_headings)."""
    if not headings or not isinstance(path, str) or not path:
        return path
    return " > ".join(headings.get(h, h) for h in path.split(" > "))


def paths_as_written(doc_ids, paths, passages: pd.DataFrame) -> list:
    """The heading paths `paths` (of the documents `doc_ids`) with the headings of Traditional-Chinese documents
    as written, from the heading passages among `passages` (see written_headings); the others as they are."""
    written = written_headings(passages)
    if not written:
        return list(paths)
    return [_path_as_written(p, written.get(d)) for d, p in zip(doc_ids, paths)]


def _originals(passages: pd.DataFrame) -> dict[str, str]:
    """passage id -> Traditional original, for the passages of converted documents only (few or none)."""
    if "text_original" not in passages.columns:
        return {}
    conv = passages[passages["text_original"].fillna("") != ""]
    return dict(zip(conv["passage_id"], conv["text_original"]))


def _quoted(rows: pd.DataFrame, originals: dict[str, str]) -> tuple[list[str], list]:
    """(passage with its matched terms in 【】, citation) of each evidence row (passage_id, text, label,
    evidence) as its document writes them; a row without a passage keeps an empty passage and its citation."""
    passages, citations = [], []
    for pid, text, label, found in zip(rows["passage_id"], rows["text"], rows["label"], rows["evidence"]):
        if not isinstance(text, str):
            passages.append("")
            citations.append(label)
            continue
        shown = as_written(text, originals.get(pid, ""))
        passages.append(mark_terms(shown, found if isinstance(found, list) else _loads(found)))
        citations.append(cite_as_written(label, text, shown) if isinstance(label, str) else label)
    return passages, citations


def fragments(text: str, evidence: list[dict]) -> list[str]:
    """The matched fragments of a passage, each shown once: of overlapping matches (合作各方 inside
    合作各方因履行…) only the longest is kept, and the list runs longest first. Evidence without a usable span
    (model features, roll-ups) adds its term unless a kept fragment already contains it."""
    spans, loose = [], []
    for e in evidence:
        if not isinstance(e, dict) or e.get("rule") == "leaf":
            continue
        try:
            s, t = int(e.get("start", -1)), int(e.get("end", -1))
        except (TypeError, ValueError):
            s = t = -1
        if 0 <= s < t <= len(text):
            spans.append((s, t))
        elif str(e.get("term") or "").strip():
            loose.append(str(e["term"]))
    kept: list[tuple[int, int]] = []
    for s, t in sorted(set(spans), key=lambda x: (x[0] - x[1], x[0])):
        if all(t <= a or s >= b for a, b in kept):
            kept.append((s, t))
    out: list[str] = []
    for s, t in kept:  # already longest first, then in text order
        if text[s:t] not in out:
            out.append(text[s:t])
    for term in loose:
        if not any(term in f for f in out):
            out.append(term)
    return out


def passage_strength(passages: pd.DataFrame, documents: pd.DataFrame, cues: StrengthCues) -> pd.DataFrame:
    """Per passage (of `passages`, the labelled ones): its strength of commitment and the cue it was read from,
    indexed by passage_id. The language is the passage's (else its document's)."""
    p = passages.drop_duplicates("passage_id")
    if "lang" in p.columns:
        langs = p["lang"].tolist()
    else:
        by_doc = dict(zip(documents["doc_id"], documents["lang"])) if "lang" in documents.columns else {}
        langs = [by_doc.get(d, "zh") for d in p["doc_id"]]
    read = [cues.read(_text(t), _text(l)) for t, l in zip(p["text"], langs)]
    return pd.DataFrame({"strength": [r[0] for r in read], "strength_cue": [r[1] for r in read]},
                        index=pd.Index(p["passage_id"].tolist(), name="passage_id"))


def coded_passages(documents: pd.DataFrame, passages: pd.DataFrame, labels: pd.DataFrame,
                   taxonomy: Taxonomy, strength: pd.DataFrame) -> pd.DataFrame:
    """Every labelled passage, one row each, as qualitative-analysis tools export "coded segments": where it
    is (document, region, date, citation, offsets), its text, its labels (leaves, with names in both
    languages; the measure groups they roll up to) with their scores, the terms matched in it, and its
    strength of commitment (`strength`: passage_strength). Several labels of a passage are joined with "; " in
    taxonomy order."""
    cols = ["doc_id", "title", "region", "region_name", "date", "date_source", "lang", "citation", "heading_path",
            "passage_id", "start", "end", "text", "text_original", "labels", "label_names_en", "label_names_zh",
            "groups", "score", "scores", "matched_terms", "strength", "strength_cue"]
    by_id = taxonomy.by_id
    order = {n.id: i for i, n in enumerate(taxonomy.nodes)}
    leaf = labels[labels["source"] != "rollup"]
    if leaf.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "score" else "int64" if c in ("start", "end")
                                          else "object") for c in cols})
    rollup = labels[labels["source"] == "rollup"]
    group_of: dict[str, list[str]] = {}
    for pid, node in zip(rollup["passage_id"].tolist(), rollup["node"].tolist()):
        group_of.setdefault(pid, []).append(node)
    leaf = leaf.assign(_o=leaf["node"].map(order)).sort_values(["passage_id", "_o"], kind="stable")
    rows = {}
    texts = passages.drop_duplicates("passage_id").set_index("passage_id")
    text_of = dict(zip(texts.index, texts["text"]))
    # plain lists: a pandas group per passage costs more than the work done with it
    label_rows = zip(leaf["passage_id"].tolist(), leaf["node"].tolist(), leaf["score"].tolist(),
                     leaf["evidence"].tolist())
    for pid, grp in itertools.groupby(label_rows, key=lambda r: r[0]):  # sorted: a passage's labels are adjacent
        _, nodes, scores, found = zip(*grp)
        evidence = [x for e in found for x in _loads(e)]
        rows[pid] = {
            "labels": "; ".join(nodes),
            "label_names_en": "; ".join(_node_name(by_id, n, "en") for n in nodes),
            "label_names_zh": "; ".join(_node_name(by_id, n, "zh") for n in nodes),
            "score": float(max(scores)),
            "scores": "; ".join(f"{float(x):.2f}" for x in scores),
            "matched_terms": "; ".join(fragments(_text(text_of.get(pid, "")), evidence)),
        }
    out = pd.DataFrame.from_dict(rows, orient="index").rename_axis("passage_id").reset_index()
    out["groups"] = ["; ".join(sorted(group_of.get(p, ()), key=order.get)) for p in out["passage_id"]]
    for col in ("strength", "strength_cue"):
        of = dict(zip(strength.index, strength[col]))
        out[col] = [of.get(p, "") for p in out["passage_id"]]
    keep = [c for c in ("passage_id", "doc_id", "label", "heading_path", "start", "end", "text", "text_original",
                        "ordinal") if c in passages.columns]
    out = out.merge(texts.reset_index()[keep].rename(columns={"label": "citation"}), on="passage_id", how="left")
    meta = [c for c in ("doc_id", "title", "region", "region_name", "date", "date_source", "lang")
            if c in documents.columns]
    out = out.merge(documents[meta], on="doc_id", how="left")
    for c in cols:
        if c not in out.columns:
            out[c] = 0 if c in ("start", "end") else ""
    out = out.fillna({c: "" for c in cols if c not in ("start", "end", "score")})
    # cited as the document writes it (第一條), as its title is and as the other tables cite it: a researcher looks
    # the citation up in the document, and the Simplified one (第一条) is not there
    out["citation"] = [cite_as_written(c, t, as_written(t, o)) if o else c
                       for c, t, o in zip(out["citation"], out["text"], out["text_original"])]
    out["heading_path"] = paths_as_written(out["doc_id"], out["heading_path"], passages)
    out = out.sort_values(["doc_id", "start"], kind="stable")
    return out[cols].astype({"start": "int64", "end": "int64"}).reset_index(drop=True)


def with_names(df: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """`df` with the node's English and Chinese names right after its `node` column: a table of IDs alone is
    unreadable without the taxonomy at hand."""
    by_id = taxonomy.by_id
    df = df.drop(columns=[c for c in ("node_name", "node_name_zh") if c in df.columns])
    at = list(df.columns).index("node") + 1
    nodes = df["node"].tolist()
    df.insert(at, "node_name", [_node_name(by_id, n, "en") for n in nodes])
    df.insert(at + 1, "node_name_zh", [_node_name(by_id, n, "zh") for n in nodes])
    return df


def _node_name(by_id: dict, node: str, lang: str) -> str:
    n = by_id.get(node)
    return (n.name.get(lang) or n.id) if n is not None else node


def _text(v) -> str:
    """A text cell of a table, "" where it is missing (None, NaN): report.py's `_s` also prints numbers."""
    return v if isinstance(v, str) else ""


def best_evidence(labels: pd.DataFrame, passages: pd.DataFrame, documents: pd.DataFrame) -> pd.DataFrame:
    """Per label row, the fields that describe its passage as evidence, ranked strongest first."""
    # only labelled passages can be evidence; joining on those alone is much cheaper than on every passage
    passages = passages[passages["passage_id"].isin(labels["passage_id"])]
    lab = labels.merge(passages[["passage_id", "label", "heading_path", "text", "start"]], on="passage_id", how="left")
    lab = lab.merge(documents[["doc_id", "title", "date"]], on="doc_id", how="left")
    lab["n_terms"] = lab["evidence"].map(lambda s: len(_loads(s)))
    # strongest: highest score, then most matched terms, then earliest in the document
    return lab.sort_values(["score", "n_terms", "doc_id", "start"], ascending=[False, False, True, True], kind="stable")


def evidence_table(labels: pd.DataFrame, passages: pd.DataFrame, documents: pd.DataFrame,
                   cues: StrengthCues, pstrength: pd.DataFrame, ranked: pd.DataFrame) -> pd.DataFrame:
    """Every leaf label with its passage and document, strongest first (the report's evidence; schemas.EVIDENCE),
    and each passage's strength of commitment (`pstrength`: passage_strength, read with `cues`). `ranked`:
    best_evidence of these labels (the sort is stable, so its leaf rows are in the order best_evidence gives the
    leaf labels alone)."""
    labels = labels[labels["source"] != "rollup"]
    ev = ranked[ranked["source"] != "rollup"]
    cols = [c for c in ("lang", "heading_path", "text_original", "ordinal") if c in passages.columns]
    extra = passages.loc[passages["passage_id"].isin(labels["passage_id"]), ["passage_id", *cols]
                         ].drop_duplicates("passage_id").rename(columns={"heading_path": "ev_heading"})
    ev = ev.merge(extra, on="passage_id", how="left", sort=False)
    if "ev_heading" in ev.columns:
        ev["ev_heading"] = paths_as_written(ev["doc_id"], ev["ev_heading"], passages)
    names = {l.id: l.name["en"] for l in cues.levels}
    ev["strength"] = ev["passage_id"].map(pstrength["strength"]).map(names).fillna("").astype(str)
    ev["strength_cue"] = ev["passage_id"].map(pstrength["strength_cue"]).fillna("").astype(str)
    return ev


def region_names(documents: pd.DataFrame) -> dict[str, str]:
    """region -> its name: the first a document of it gives. Ingest names a document whose manifest cell is
    empty by its region code, so a name written on one row of a region only would otherwise be lost whenever
    that row's document is not the region's first."""
    given = documents["region_name"].where(documents["region_name"].fillna("") != documents["region"])
    named = given.groupby(documents["region"], sort=False).first()
    return {r: (n if isinstance(n, str) and n else r) for r, n in named.items()}


def with_region_names(documents: pd.DataFrame) -> pd.DataFrame:
    if "region_name" not in documents.columns or documents.empty:
        return documents
    return documents.assign(region_name=documents["region"].map(region_names(documents)))


def aggregate(documents: pd.DataFrame, passages: pd.DataFrame, labels: pd.DataFrame, taxonomy: Taxonomy,
              passage_counts: pd.Series | None = None, on_tables=None,
              strength: StrengthCues | None = None, person_coded: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The coverage tables. `passages` is every passage, or only the labelled ones (the evidence) when
    `passage_counts` gives the number of content passages per region. `on_tables(batch)` gets the tables as
    they are done, the largest first (for a writer that can start on them meanwhile). `strength`: the cues
    that read each passage's strength of commitment (default: those of the taxonomy, see strength.py).

    Which facets the gap audit is about, what its count columns are called and which facets are counted beside
    it come from the taxonomy (`audit`); with several frameworks, each is audited on its own and `crosstab`
    crosses them. `person_coded` (region, node, coder_passages; see coded.coder_cells): the passages a person coded
    with each node, which the gap audit shows beside what the run labelled."""
    documents = with_region_names(documents)
    nodes = node_order(taxonomy)
    emit = on_tables or (lambda batch: None)
    cues = strength or load_strength(taxonomy=taxonomy)
    ev = best_evidence(labels, passages, documents)
    pstrength = passage_strength(passages[passages["passage_id"].isin(labels["passage_id"])], documents, cues)
    strengths = labels.assign(strength=labels["passage_id"].map(pstrength["strength"]).fillna(cues.default.id))
    originals = _originals(passages)

    doc_wide, doc_long = document_coverage(documents, labels, ev, originals, taxonomy, strengths, cues)
    emit({"coverage_document": doc_wide, "coverage_document_long": doc_long})
    coded = coded_passages(documents, passages, labels, taxonomy, pstrength)
    emit({"coded_passages": coded})
    # the dated documents as versions of their regulations: the view over time and the gap audit's versions in
    # force both read them
    dated = versions(documents)
    first_year, by_year = temporal(documents, labels, nodes, dated)
    first_year, by_year = with_names(first_year, taxonomy), with_names(by_year, taxonomy)
    emit({"first_year": first_year, "coverage_by_year": by_year})

    regions = region_totals(documents, passages, passage_counts)
    # every version counts in `documents`; an audit of today's policy asks what the versions in force address
    repealed = ended_by_repeal(documents, dated)
    gone = no_longer_in_force(dated, repealed)
    wide, long = region_coverage(regions, labels, gone, taxonomy, strengths, cues)
    gaps, audited = gap_audit(long, ev, labels, documents, gone, repealed, originals, taxonomy, cues, person_coded)
    ranking = region_ranking(regions, gaps, audited)
    gaps = _in_ranking_order(gaps, ranking, taxonomy)

    tables = {
        "coverage_region": wide, "coverage_region_long": long.drop(columns=["region_documents"]).reset_index(drop=True),
        "coverage_document": doc_wide, "coverage_document_long": doc_long,
        "gaps": gaps.reset_index(drop=True), "region_ranking": ranking.reset_index(drop=True),
        "first_year": first_year, "coverage_by_year": by_year, "coded_passages": coded,
        "evidence": evidence_table(labels, passages, documents, cues, pstrength, ranked=ev),
    }
    batch = ["coverage_region", "coverage_region_long", "gaps", "region_ranking"]
    if len(taxonomy.parts) > 1:
        tables["crosstab"] = crosstab(documents, passages, labels, taxonomy, pstrength, cues)
        batch.append("crosstab")
    emit({k: tables[k] for k in batch})
    return tables


def _strength_columns(cues: StrengthCues) -> list[str]:
    return [f"passages_{l}" for l in cues.ids]


def with_strength_counts(df: pd.DataFrame, keys: list[str], strengths: pd.DataFrame, cues: StrengthCues
                         ) -> pd.DataFrame:
    """`df` with the passages of each of its `keys` groups per strength level, one column per level.
    `strengths`: the label rows, each with its passage's `strength`."""
    level_cols = _strength_columns(cues)
    got = strengths.groupby(keys + ["strength"])["passage_id"].nunique().unstack("strength")
    got = got.reindex(columns=cues.ids).fillna(0).astype("int64")
    got.columns = level_cols
    out = df.merge(got.reset_index(), on=keys, how="left")
    return out.fillna({c: 0 for c in level_cols}).astype({c: "int64" for c in level_cols})


def document_coverage(documents: pd.DataFrame, labels: pd.DataFrame, ev: pd.DataFrame, originals: dict[str, str],
                      taxonomy: Taxonomy, strengths: pd.DataFrame, cues: StrengthCues
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(document x node passage counts, one row per document; the same long, one row per addressed document x
    node, with its strongest evidence passage (`ev`: best_evidence) quoted as written)."""
    nodes = node_order(taxonomy)
    doc_long = (labels.groupby(["doc_id", "node"]).agg(passages=("passage_id", "nunique")).reset_index())
    doc_top = ev.drop_duplicates(["doc_id", "node"])[["doc_id", "node", "passage_id", "label", "text", "evidence"]]
    doc_long = doc_long.merge(doc_top, on=["doc_id", "node"], how="left")
    doc_long["evidence_passage"], doc_long["label"] = _quoted(doc_long, originals)
    doc_long = doc_long.drop(columns=["text", "evidence"]).rename(
        columns={"passage_id": "evidence_passage_id", "label": "evidence_article"})
    doc_long = doc_long.merge(documents[["doc_id", "region", "title", "date"]], on="doc_id", how="left")
    doc_long = _in_node_order(doc_long, ["doc_id", "node"], nodes)[[
        "doc_id", "region", "title", "date", "node", "passages", "evidence_article", "evidence_passage_id",
        "evidence_passage"]]
    doc_wide = doc_long.pivot(index="doc_id", columns="node", values="passages").reindex(columns=nodes)
    doc_long = with_strength_counts(with_names(doc_long, taxonomy), ["doc_id", "node"], strengths, cues)
    if len(taxonomy.parts) > 1:
        doc_long.insert(list(doc_long.columns).index("node"), "framework",
                        doc_long["node"].map(lambda n: taxonomy.by_id[n].framework))
    doc_meta = [c for c in ("doc_id", "region", "title", "date", "date_source", "repealed") if c in documents.columns]
    doc_wide = documents[doc_meta].merge(
        doc_wide.fillna(0).astype("int64").reset_index(), on="doc_id", how="left").fillna({n: 0 for n in nodes})
    doc_wide = doc_wide.astype({n: "int64" for n in nodes})
    doc_wide.columns.name = None
    return doc_wide, doc_long.reset_index(drop=True)


def region_totals(documents: pd.DataFrame, passages: pd.DataFrame, passage_counts: pd.Series | None
                  ) -> pd.DataFrame:
    """Per region: its name, documents and content passages (`passage_counts`, or counted in `passages`)."""
    if passage_counts is None:
        passage_counts = passages[passages["kind"].isin(CONTENT_KINDS)].groupby("region").size()
    regions = (documents.groupby("region", sort=True)
               .agg(region_name=("region_name", "first"), documents=("doc_id", "nunique")).reset_index())
    regions["passages"] = passage_counts.reindex(regions["region"].tolist()).fillna(0).to_numpy(dtype="int64")
    return regions


def region_coverage(regions: pd.DataFrame, labels: pd.DataFrame, gone: set[str], taxonomy: Taxonomy,
                    strengths: pd.DataFrame, cues: StrengthCues) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(region x node documents addressing, one row per region; the same long, one row per region x node, with
    passages, share of the region's documents (`region_documents`), the documents in force addressing it (`gone`:
    no_longer_in_force), facet and strength counts)."""
    nodes = node_order(taxonomy)
    by_id = taxonomy.by_id
    long = (labels.groupby(["region", "node"])
            .agg(passages=("passage_id", "nunique"), documents=("doc_id", "nunique")).reset_index())
    grid = pd.MultiIndex.from_product([regions["region"], nodes], names=["region", "node"]).to_frame(index=False)
    long = grid.merge(long, on=["region", "node"], how="left").fillna({"passages": 0, "documents": 0})
    long = long.astype({"passages": "int64", "documents": "int64"}).merge(
        regions[["region", "documents"]].rename(columns={"documents": "region_documents"}), on="region")
    long["share"] = (long["documents"] / long["region_documents"]).round(4)
    live = labels[~labels["doc_id"].isin(gone)].groupby(["region", "node"])["doc_id"].nunique()
    long["documents_in_force_addressing"] = [int(live.get((r, n), 0)) for r, n in zip(long["region"], long["node"])]
    long["facet"] = long["node"].map(lambda n: by_id[n].facet)
    if len(taxonomy.parts) > 1:
        long["framework"] = long["node"].map(lambda n: by_id[n].framework)
    long = with_strength_counts(with_names(long, taxonomy), ["region", "node"], strengths, cues)
    long = _in_node_order(long, ["region", "node"], nodes)

    wide = long.pivot(index="region", columns="node", values="documents").reindex(columns=nodes).reset_index()
    wide = regions.merge(wide, on="region")
    wide.columns.name = None
    return wide, long


def gap_audit(long: pd.DataFrame, ev: pd.DataFrame, labels: pd.DataFrame, documents: pd.DataFrame, gone: set[str],
              repealed: pd.Series, originals: dict[str, str], taxonomy: Taxonomy, cues: StrengthCues,
              person_coded: pd.DataFrame | None) -> tuple[pd.DataFrame, list]:
    """The gap audit: per region and node of the facets a framework audits or counts beside them (`long`:
    region_coverage), whether its documents address it, in force or not (`gone`, `repealed`), its strongest
    evidence, the passages a person coded with it and the region's coverage of each framework's audited
    leaves. Returns the rows (not yet in the ranking's order) and, per framework, (its taxonomy, its audit's
    column stem, its audited leaves' rows) for region_ranking."""
    by_id = taxonomy.by_id
    several = len(taxonomy.parts) > 1
    level_cols = _strength_columns(cues)
    shown_facets = {f for t in taxonomy.parts for f in (*t.audit.facets, *t.audit.also)}
    # a node the documents in force address is shown in their words: a superseded version, under the same
    # title, may number the article otherwise than the law in force does
    top = (ev.assign(_gone=ev["doc_id"].isin(gone)).sort_values("_gone", kind="stable")
           .drop_duplicates(["region", "node"]))
    gaps = long.merge(top[["region", "node", "passage_id", "doc_id", "title", "label", "text", "evidence", "score"]],
                      on=["region", "node"], how="left")
    gaps = gaps[gaps["facet"].isin(shown_facets)].copy()
    gaps["addressed"] = gaps["passages"] > 0
    gaps["addressed_in_force"] = gaps["documents_in_force_addressing"] > 0
    gaps["superseded_only"], gaps["no_longer_in_force"] = _superseded_only(gaps, labels, documents, gone, repealed)
    gaps["coder_passages"] = (gaps[["region", "node"]].merge(person_coded, on=["region", "node"], how="left")
                              ["coder_passages"].fillna(0).astype("int64").to_numpy()
                              if person_coded is not None and len(person_coded) else 0)
    gaps["evidence_passage"], gaps["label"] = _quoted(gaps, originals)
    gaps["recommendation"] = gaps["node"].map(lambda n: by_id[n].recommendation or by_id[n].definition)
    gaps["is_group"] = gaps["node"].map(lambda n: by_id[n].group).astype(bool)
    committing = [f"passages_{l.id}" for l in cues.levels if l.commits]
    gaps["committed"] = gaps[committing].sum(axis=1) > 0 if committing else False
    gaps["strength"] = [cues.split(dict(zip(cues.ids, row))) for row in gaps[level_cols].itertuples(index=False)]
    region_cols, audited = [], []
    for t in taxonomy.parts:
        stem = t.audit.column
        leaves = gaps[gaps["facet"].isin(t.audit.facets) & ~gaps["is_group"]]
        audited.append((t, stem, leaves))
        cover = leaves.groupby("region")["addressed"].sum()
        n_leaves = leaves["node"].nunique()
        gaps[f"region_{stem}s_addressed"] = gaps["region"].map(cover).fillna(0).astype("int64")
        gaps[f"region_{stem}_coverage"] = (gaps[f"region_{stem}s_addressed"] / max(n_leaves, 1)).round(4)
        region_cols += [f"region_{stem}s_addressed", f"region_{stem}_coverage"]
    lacking = gaps[~gaps["addressed"]].groupby("node")["region"].nunique()
    gaps["regions_lacking"] = gaps["node"].map(lacking).fillna(0).astype("int64")
    gaps = gaps.rename(columns={"passage_id": "evidence_passage_id", "doc_id": "evidence_doc", "title": "evidence_title",
                                "label": "evidence_article", "score": "evidence_score"})
    gap_cols = (["region"] + (["framework"] if several else []) +
                ["node", "node_name", "node_name_zh", "facet", "is_group", "addressed", "passages",
                 "documents", "share", "addressed_in_force", "documents_in_force_addressing", "superseded_only",
                 "no_longer_in_force", "coder_passages", "evidence_title", "evidence_article", "evidence_doc",
                 "evidence_passage_id", "evidence_score", "evidence_passage", "recommendation"] + region_cols +
                ["regions_lacking"] + level_cols + ["strength", "committed"])
    # with no evidence anywhere (a corpus no passage of which is labelled) the merged text columns are all-NaN floats
    evidence_text = ["evidence_title", "evidence_article", "evidence_doc", "evidence_passage_id"]
    gaps = (gaps[gap_cols].astype(dict.fromkeys(evidence_text, object))
            .fillna({**dict.fromkeys(evidence_text, ""), "evidence_score": 0.0}))
    return gaps, audited


def _in_ranking_order(gaps: pd.DataFrame, ranking: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """The gap list through the regions in the ranking's order (ties included), each region's rows by framework,
    facet, gaps first, the nodes most regions lack first."""
    position = {r: i for i, r in enumerate(ranking["region"])}
    fw_order = {t.id: i for i, t in enumerate(taxonomy.parts)}
    keys = gaps.assign(_pos=gaps["region"].map(position),
                       _fw=gaps["framework"].map(fw_order) if len(taxonomy.parts) > 1 else 0)
    keys = keys.sort_values(["_pos", "_fw", "facet", "addressed", "regions_lacking", "node"],
                            ascending=[True, True, False, True, False, True], kind="stable")
    return gaps.loc[keys.index]


def region_ranking(regions: pd.DataFrame, gaps: pd.DataFrame, audited: list) -> pd.DataFrame:
    """`regions` (region, region_name, documents, passages) ranked by the leaves each framework audits that they
    address, then by each facet it counts beside them (rank_regions), with each framework's coverage of its
    audited leaves. `audited`: per framework, (its taxonomy, its audit's column stem, its audited leaves' rows of
    `gaps`)."""
    counts, coverage, ranked_by = [], [], []
    ranking = regions
    for t, stem, leaves in audited:
        parts = [leaves.groupby("region")["addressed"].sum().rename(f"{stem}s_addressed")]
        for facet, _ in t.also_facets():
            rows = gaps[(gaps["facet"] == facet.id) & ~gaps["is_group"]]
            parts.append(rows.groupby("region")["addressed"].sum().rename(f"{facet.id}s_addressed"))
        got = parts[0].reset_index()
        for part in parts[1:]:
            got = got.merge(part.reset_index(), on="region", how="outer")
        ranking = ranking.merge(got, on="region", how="left")
        counts += [p.name for p in parts]
        ranked_by.append((stem, [p.name for p in parts]))
        coverage.append((f"{stem}_coverage", f"{stem}s_addressed", leaves["node"].nunique()))
    ranking = ranking.fillna({c: 0 for c in counts})
    for col, num, n_leaves in coverage:
        ranking[col] = (ranking[num] / max(n_leaves, 1)).round(4)
    ranking = ranking.astype({c: "int64" for c in counts})
    # rows and `rank` follow the first framework, as the report's first ranking does; a later one's rank is its
    # own column, the order of its ranking in the report
    for stem, cols in ranked_by[1:]:
        ranking[f"{stem}_rank"] = ranking["region"].map(rank_regions(ranking, cols).set_index("region")["rank"])
    return rank_regions(ranking, ranked_by[0][1])


def _superseded_only(gaps: pd.DataFrame, labels: pd.DataFrame, documents: pd.DataFrame, gone: set[str],
                     repealed: pd.Series) -> tuple[list[str], list[str]]:
    """Per gaps row addressed by documents no longer in force alone, those documents ("title, year; …", oldest
    first; one a repeal took out of force, `repealed` (year by doc_id), "title, year, repealed 2019"), and why they
    are no longer in force ("superseded", "repealed" or "superseded, repealed"); else empty: evidence from a version
    superseded or a regulation repealed does not show that the region addresses the node today."""
    only = gaps["addressed"] & ~gaps["addressed_in_force"]
    if not only.any():
        return [""] * len(gaps), [""] * len(gaps)
    meta = documents.set_index("doc_id")
    hit = labels.loc[labels["doc_id"].isin(gone), ["region", "node", "doc_id"]].drop_duplicates()
    hit = hit.assign(date=hit["doc_id"].map(meta["date"])).sort_values(["date", "doc_id"], kind="stable")

    def named_doc(d: str) -> str:
        year = _text(meta["date"].get(d))[:4]
        return ", ".join([_text(meta["title"].get(d)) or d] + ([year] if year else []) +
                         ([f"repealed {int(repealed[d])}"] if d in repealed.index else []))

    named, why = {}, {}
    for key, g in hit.groupby(["region", "node"], sort=False):
        named[key] = "; ".join(named_doc(d) for d in g["doc_id"])
        ended = g["doc_id"].isin(repealed.index)
        why[key] = ", ".join(w for w, any_ in (("superseded", not ended.all()), ("repealed", ended.any())) if any_)
    keys = [(r, n) if o else None for r, n, o in zip(gaps["region"], gaps["node"], only)]
    return [named.get(k, "") for k in keys], [why.get(k, "") for k in keys]


def counts_documents_out_of_force(long: pd.DataFrame) -> bool:
    """Whether rows of coverage_region_long count a document no longer in force (a superseded version, a repealed
    document) among those addressing a node, as its `documents` do and `documents_in_force_addressing` does not (a
    table of an earlier version, without that column, says nothing of it)."""
    return ("documents_in_force_addressing" in long.columns
            and bool((long["documents"] > long["documents_in_force_addressing"]).any()))


def rank_regions(ranking: pd.DataFrame, counts: list[str]) -> pd.DataFrame:
    """`ranking` ordered by `counts` (most first, the first column deciding first), with a `rank` column in
    front. Regions equal in every count share a rank and the next rank skips as many (1, 1, 3); within a tie
    the rows run in region code order, so every table and report lists them alike."""
    df = ranking.drop(columns=["rank"], errors="ignore").sort_values(
        counts + ["region"], ascending=[False] * len(counts) + [True], kind="stable").reset_index(drop=True)
    keys = list(df[counts].itertuples(index=False, name=None))
    ranks: list[int] = []
    for i, key in enumerate(keys):
        ranks.append(ranks[-1] if i and key == keys[i - 1] else i + 1)
    df.insert(0, "rank", pd.Series(ranks, dtype="int64"))
    return df


def crosstab(documents: pd.DataFrame, passages: pd.DataFrame, labels: pd.DataFrame, taxonomy: Taxonomy,
             pstrength: pd.DataFrame, cues: StrengthCues) -> pd.DataFrame:
    """Framework A leaf x framework B leaf, per region, for every pair of frameworks (in the order given): the
    passages coded under both (and their documents), split by strength, with every such passage named
    (`evidence_passage_ids`) and the strongest one marked up. Every region x pair of leaves has a row, zero cells
    too; `node_a_passages` / `node_b_passages` are the region's passages coded with each (as in
    coverage_region_long), which a cell never exceeds."""
    leaf = labels[labels["source"] != "rollup"]
    by_id = taxonomy.by_id
    regions = sorted(documents["region"].dropna().unique().tolist())
    level_cols = _strength_columns(cues)
    texts = passages.drop_duplicates("passage_id").set_index("passage_id")
    originals = _originals(passages)
    totals = leaf.groupby(["region", "node"])["passage_id"].nunique()
    frames = []
    for fa, fb in itertools.combinations(taxonomy.parts, 2):
        la = [n.id for n in fa.leaves]
        lb = [n.id for n in fb.leaves]
        label_cols = ["passage_id", "doc_id", "region", "node", "score", "evidence"]
        a = leaf.loc[leaf["node"].isin(la), label_cols]
        b = leaf.loc[leaf["node"].isin(lb), label_cols]
        pairs = a.merge(b, on=["passage_id", "doc_id", "region"], suffixes=("_a", "_b"))
        grid = pd.MultiIndex.from_product([regions, la, lb], names=["region", "node_a", "node_b"]).to_frame(
            index=False)
        if len(pairs):
            grid = grid.merge(_crossed_cells(pairs, texts, originals, pstrength, cues),
                              on=["region", "node_a", "node_b"], how="left")
        for c in ["passages", "documents"] + level_cols:
            grid[c] = grid[c].fillna(0).astype("int64") if c in grid.columns else 0
        for c in ("evidence_passage_ids", "evidence_doc", "evidence_article", "evidence_passage"):
            grid[c] = grid[c].fillna("") if c in grid.columns else ""
        grid["node_a_passages"] = [int(totals.get((r, n), 0)) for r, n in zip(grid["region"], grid["node_a"])]
        grid["node_b_passages"] = [int(totals.get((r, n), 0)) for r, n in zip(grid["region"], grid["node_b"])]
        grid["framework_a"], grid["framework_b"] = fa.id, fb.id
        grid["node_a_name"] = [_node_name(by_id, n, "en") for n in grid["node_a"]]
        grid["node_a_name_zh"] = [_node_name(by_id, n, "zh") for n in grid["node_a"]]
        grid["node_b_name"] = [_node_name(by_id, n, "en") for n in grid["node_b"]]
        grid["node_b_name_zh"] = [_node_name(by_id, n, "zh") for n in grid["node_b"]]
        frames.append(grid)
    cols = ["region", "framework_a", "node_a", "node_a_name", "node_a_name_zh", "framework_b", "node_b",
            "node_b_name", "node_b_name_zh", "passages", "documents", *level_cols, "node_a_passages",
            "node_b_passages", "evidence_passage_ids", "evidence_doc", "evidence_article", "evidence_passage"]
    if not frames:
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)[cols]


def _crossed_cells(pairs: pd.DataFrame, texts: pd.DataFrame, originals: dict[str, str], pstrength: pd.DataFrame,
                   cues: StrengthCues) -> pd.DataFrame:
    """The non-empty cells of one pair of frameworks: per region x node_a x node_b, the passages coded under
    both and their documents, every such passage's id, the strongest one quoted as written, and the passages per
    strength level (with_strength_counts). `pairs`: one row per passage and pair of its leaves (label columns
    suffixed _a and _b); `texts`: the passages by id."""
    starts = texts["start"] if "start" in texts.columns else pd.Series(dtype="int64")
    pairs = pairs.assign(strength=pairs["passage_id"].map(pstrength["strength"]).fillna(cues.default.id),
                         _rank=pairs[["score_a", "score_b"]].min(axis=1),
                         _start=pairs["passage_id"].map(starts).fillna(0))
    pairs = pairs.sort_values(["_rank", "doc_id", "_start"], ascending=[False, True, True], kind="stable")
    cell = ["region", "node_a", "node_b"]
    cells = pairs.groupby(cell, sort=False).agg(passages=("passage_id", "nunique"),
                                                documents=("doc_id", "nunique")).reset_index()
    ids = pairs.sort_values(["doc_id", "_start"], kind="stable").groupby(cell)["passage_id"].agg(
        lambda s: "; ".join(dict.fromkeys(s)))
    cells = cells.merge(ids.rename("evidence_passage_ids").reset_index(), on=cell)
    best = pairs.drop_duplicates(cell)
    quoted, cited = _quoted(pd.DataFrame({
        "passage_id": best["passage_id"].to_numpy(),
        "text": [_text(texts["text"].get(p, "")) for p in best["passage_id"]],
        "label": (best["passage_id"].map(texts["label"]).fillna("").to_numpy() if "label" in texts.columns
                  else [""] * len(best)),
        "evidence": [_loads(ea) + _loads(eb) for ea, eb in zip(best["evidence_a"], best["evidence_b"])]}),
        originals)
    best = best.assign(evidence_doc=best["doc_id"], evidence_article=cited, evidence_passage=quoted)
    cells = cells.merge(best[[*cell, "evidence_doc", "evidence_article", "evidence_passage"]], on=cell)
    return with_strength_counts(cells, cell, pairs, cues)


def _loads(e) -> list:
    try:
        got = json.loads(e) if isinstance(e, str) else []
    except ValueError:
        return []
    return got if isinstance(got, list) else []


# a date in brackets closing a title: file names date the versions of a regulation so (条例(2020-05-14).md), and a
# title read from a file name keeps it; law databases title a version by its revision's year (条例(2015修正),
# 条例（2021年修订）), which a text copied from them keeps as its first line
_HAN = re.compile(r"[\u4e00-\u9fff]")
_TITLE_DATE = re.compile(r"[(（]\s*\d{4}(?:[-./]\d{1,2}){0,2}\s*(?:年?\s*(?:修正|修订|修改)本?)?\s*[)）]$")


def regulation(title: str, doc_id: str) -> str:
    """What makes documents of a region versions of one regulation: the same title, compared after NFKC, case
    folding and dropping whitespace and a closing bracketed date. A document without a title is its own."""
    t = "".join(unicodedata.normalize("NFKC", _text(title)).casefold().split())
    # a title as Taiwan writes it and its Simplified writing name one law, as the documents are coded in Simplified
    if _HAN.search(t):
        t = simplified(t)
    t = _TITLE_DATE.sub("", t)
    return t or f"\0{doc_id}"


def versions(documents: pd.DataFrame) -> pd.DataFrame:
    """The dated documents with their `year` and `until`, the year they stop being in force (empty while they
    are): the year the next version of their regulation (see `regulation`) supersedes them or the year the
    manifest says they were repealed, whichever comes first, and `repealed_in`, that repeal's year where it is the
    first (or comes in the next version's year); in date order. Undated documents are left out: they cannot be
    placed among the versions."""
    docs = documents.assign(year=pd.to_numeric(documents["date"].str[:4], errors="coerce"))
    docs = docs.dropna(subset=["year"]).astype({"year": "int64"})
    docs = docs.assign(_reg=[regulation(t, d) for t, d in zip(docs["title"], docs["doc_id"])]
                       if "title" in docs.columns else docs["doc_id"]).sort_values(["date", "doc_id"], kind="stable")
    next_version = docs.groupby(["region", "_reg"])["year"].shift(-1)
    repealed = repeal_years(docs)
    # whichever ends it first; NaN where neither does (fmin skips a NaN)
    docs["until"] = np.fmin(next_version, repealed)
    # the repeal's year where the repeal is why it is out of force, not a next version that came before it
    docs["repealed_in"] = repealed.where(~(next_version < repealed))
    return docs


def repeal_years(documents: pd.DataFrame) -> pd.Series:
    """The year the manifest says each document was repealed (NaN where it says none; ingest has checked it is not
    before the document's own date)."""
    repealed = documents["repealed"] if "repealed" in documents.columns else pd.Series("", index=documents.index)
    return pd.to_numeric(repealed.fillna("").str[:4], errors="coerce")


def ended_by_repeal(documents: pd.DataFrame, dated: pd.DataFrame) -> pd.Series:
    """The year of the repeal that took each document out of force, by doc_id: of the dated documents' `versions`
    those their repeal ended (not a next version before it), and the undated documents the manifest says were
    repealed."""
    undated = documents[~documents["doc_id"].isin(dated["doc_id"])]
    return pd.concat([dated.set_index("doc_id")["repealed_in"],
                      repeal_years(undated).set_axis(undated["doc_id"])]).dropna()


def no_longer_in_force(dated: pd.DataFrame, repealed: pd.Series) -> set[str]:
    """The documents no longer in force now: of the dated documents' `versions`, those a later version of their
    regulation supersedes or a repeal ended, and the documents a repeal took out of force (`repealed`:
    ended_by_repeal), undated ones among them. The others, undated ones included (nothing says they were
    replaced), are in force now."""
    return set(dated.loc[dated["until"].notna(), "doc_id"]) | set(repealed.index)


def temporal(documents: pd.DataFrame, labels: pd.DataFrame, nodes: list[str],
             dated: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First year each region addressed each node, and coverage over documents in force each year (see
    `_dated_temporal`; `dated`: the documents' `versions`). A node a region addresses only in undated documents
    has a first-year row too, without a year and naming the first of them by path, and every row counts the
    region's undated documents addressing the node (`undated_documents`): a pivot of the table must not read "never
    addressed" where the ranking and the gap audit say addressed, nor a first year without the undated documents
    that may come before it."""
    first, by_year = _dated_temporal(dated, labels, nodes)
    undated = documents.loc[~documents["doc_id"].isin(dated["doc_id"]), ["doc_id", "region"]]
    und = labels[["doc_id", "node"]].drop_duplicates().merge(undated, on="doc_id").sort_values("doc_id")
    counts = und.groupby(["region", "node"]).size()
    only = und.drop_duplicates(["region", "node"])
    only = only[~pd.MultiIndex.from_frame(only[["region", "node"]]).isin(
        pd.MultiIndex.from_frame(first[["region", "node"]]))]
    rows = only.rename(columns={"doc_id": "first_doc"}).assign(first_date="", date_source="")
    first = pd.concat([first.astype({"first_year": "Int64"}), rows.assign(first_year=pd.NA)], ignore_index=True)
    first["first_year"] = first["first_year"].astype("Int64")
    first["undated_documents"] = [int(counts.get((r, n), 0)) for r, n in zip(first["region"], first["node"])]
    first = _in_node_order(first, ["region", "node"], nodes)
    return first.astype({"undated_documents": "int64"}).reset_index(drop=True), by_year


_FIRST_YEAR_COLUMNS = ["region", "node", "first_year", "first_doc", "first_date", "date_source"]
_BY_YEAR_COLUMNS = ["region", "year", "node", "documents_in_force", "documents_addressing", "share",
                    "documents_addressing_ids"]


def _dated_temporal(docs: pd.DataFrame, labels: pd.DataFrame,
                    nodes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First year each region addressed each node, and coverage over documents in force each year.

    In force in a year is, of each regulation (documents of a region with the same title, see `regulation`), its
    latest version dated that year or earlier: a version supersedes the earlier ones from its year on, and one
    superseded within its own year is never counted; a document the manifest says was repealed is not counted
    from its repeal year on. Undated documents are left out of the temporal view. `docs`: the dated documents'
    `versions`.
    """
    if docs.empty:
        return pd.DataFrame(columns=_FIRST_YEAR_COLUMNS), pd.DataFrame(columns=_BY_YEAR_COLUMNS)
    # a first year is checked against its document's date and where that date came from (manifest, file name, text)
    if "date_source" not in docs.columns:
        docs = docs.assign(date_source="")
    hit = labels[["doc_id", "node"]].drop_duplicates().merge(
        docs[["doc_id", "region", "year", "date", "date_source", "until"]], on="doc_id")
    # the first document is the earliest dated of its year, not the one whose path sorts first
    first = (hit.sort_values(["year", "date", "doc_id"]).drop_duplicates(["region", "node"])
             .rename(columns={"year": "first_year", "doc_id": "first_doc", "date": "first_date"})
             )[_FIRST_YEAR_COLUMNS]
    # a repeal after the last dated document is a change in what is in force: the years run on to show it
    last = int(docs[["year", "until"]].max().max())
    by_year = _in_force_by_year(docs, hit, nodes, last)
    by_year = by_year.merge(_addressing_ids(hit, last), left_on=["region", "year", "node"], right_index=True,
                            how="left")
    by_year["documents_addressing_ids"] = by_year["documents_addressing_ids"].fillna("")
    by_year["share"] = [round(n / d, 4) if d else 0.0
                        for n, d in zip(by_year["documents_addressing"], by_year["documents_in_force"])]
    by_year = by_year.astype({"year": "int64", "documents_in_force": "int64",
                              "documents_addressing": "int64"})[_BY_YEAR_COLUMNS]
    by_year = _in_node_order(by_year, ["region", "year", "node"], nodes)
    return first.reset_index(drop=True), by_year.reset_index(drop=True)


def _in_force_by_year(docs: pd.DataFrame, hit: pd.DataFrame, nodes: list[str], last: int) -> pd.DataFrame:
    """Per region, year and node: the documents in force (`documents_in_force`) and those of them addressing the
    node (`documents_addressing`), from the region's first dated year to `last`. `hit`: (document, node) pairs."""
    parts = []
    for region, rdocs in docs.groupby("region"):
        rhit = hit[hit["region"] == region]
        years = range(int(rdocs["year"].min()), last + 1)
        in_force = _running_count(rdocs, years, []).iloc[:, 0]
        # every node every year, 0 where no document in force addresses it: a node's share plotted over the years
        # has no holes, nor a line drawn across the years it was 0
        addressing = (_running_count(rhit, years, ["node"]) if not rhit.empty
                      else pd.DataFrame(index=pd.Index(years, name="year")))
        addressing = addressing.reindex(columns=list(nodes) + [n for n in addressing.columns if n not in nodes],
                                        fill_value=0).rename_axis(columns="node").stack()
        part = addressing.rename("documents_addressing").rename_axis(["year", "node"]).reset_index()
        part["documents_in_force"] = in_force.loc[part["year"]].to_numpy()
        part["region"] = region
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_BY_YEAR_COLUMNS)


def _running_count(frame: pd.DataFrame, years: range, by: list[str]) -> pd.DataFrame:
    """Documents of `frame` in force in each of `years` (per `by`): those that came into force up to that year less
    those superseded or repealed up to that year (`until`)."""
    start = frame.groupby(["year"] + by).size()
    end = frame.dropna(subset=["until"]).astype({"until": "int64"}).groupby(["until"] + by).size()
    end.index = end.index.set_names(["year"] + by)
    net = start.sub(end, fill_value=0)
    net = net.unstack(by, fill_value=0) if by else net.to_frame()
    return net.reindex(years, fill_value=0).cumsum().astype("int64")


def _addressing_ids(hit: pd.DataFrame, last: int) -> pd.Series:
    """The documents a count counts, so that a reader can check a cell: each addressing document in the years it is
    in force, from its year until the next version's or its repeal's, whichever comes first (a version superseded
    or repealed within its own year never is); `; `-joined per (region, year, node)."""
    spans = [(r, y, n, d) for d, n, r, start, until in zip(hit["doc_id"], hit["node"], hit["region"], hit["year"],
                                                         hit["until"])
             for y in range(int(start), last + 1 if pd.isna(until) else int(until))]
    return (pd.DataFrame(spans, columns=["region", "year", "node", "doc_id"]).sort_values("doc_id")
            .groupby(["region", "year", "node"])["doc_id"].agg("; ".join).rename("documents_addressing_ids"))
