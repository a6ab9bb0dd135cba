"""Stage 6: coverage tables in, the documents a researcher hands on out.

Writes `coverage.xlsx` (one sheet per table), `summary.md`, `report.md` and `report.html`: one self-contained
file (no network fetch; a Content-Security-Policy forbids any) with the region x recommendation and
region x cooperation-model heatmaps, the recommendations ranked by how many regions lack them, a temporal
view when documents are dated, the gap list, and the evidence passages of every coloured cell.

The HTML comes from Jinja2 templates (templates/*.html.j2) with autoescaping on: the code gathers plain values,
and every string that comes from the corpus (document text, titles, paths, articles, region names) is escaped as
the template writes it; the page's only script is hashed into the CSP, so even an unescaped string could not run
code.
"""
from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import math
import re
from importlib import resources

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .aggregate import (as_written, cite_as_written, counts_documents_out_of_force, fragments, merge_spans,
                        rank_regions)
from .catalog import EVIDENCE_PAGES
from .dates import REFUSED_MANIFEST_DATE
from .segment import CONTENT_KINDS
from .taxonomy import Taxonomy

# ------------------------------------------------------------------------------------------ shared

def _s(v) -> str:
    """A table value as text; missing values become ''."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def _e(v) -> str:
    """Escape any value for HTML text and attribute values."""
    return html.escape(_s(v), quote=True)


def _escape(v) -> Markup:
    """Autoescaping with the stdlib's entities (&quot;, &#x27;), as the pages have always been written, and
    missing table values as ''; markup (a rendered macro or page body) passes through. Called for every value a
    page prints (a long document's page prints hundreds of thousands), hence the plain string first."""
    if type(v) is str:
        return Markup(html.escape(v, quote=True))
    return v if hasattr(v, "__html__") else Markup(_e(v))


_TEMPLATES = PackageLoader(__package__, "templates")


def _static(name: str) -> str:
    """A stylesheet or script of the pages (templates/*.css, *.js): inlined into them, and hashed into their
    Content-Security-Policy as the only style and script they may use."""
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


# every value a template prints is escaped unless it is Markup; a name the template does not get is an error.
# This module writes no HTML itself: corpus text, matched terms included (the `marked` macro), reaches the pages
# as plain strings; Markup is only what a template rendered (a page's body inside the page shell) and the
# shell's CSS, CSP and script
HTML = Environment(loader=_TEMPLATES, autoescape=True, finalize=_escape, undefined=StrictUndefined,
                   keep_trailing_newline=True)
# Markdown is not HTML: corpus text goes through the `md` filter (inert Markdown), which the templates apply
MARKDOWN = Environment(loader=_TEMPLATES, autoescape=False, undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True, keep_trailing_newline=True)


def _name(node, lang: str = "en") -> str:
    return _s(node.name.get(lang)) or node.id


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _count_cols(fw: Taxonomy) -> list[str]:
    """region_ranking's count columns of a framework: audited leaves addressed, then each also-shown facet's."""
    return [f"{fw.audit.column}s_addressed"] + [f"{f.id}s_addressed" for f, _ in fw.also_facets()]


def _region_ranking(tables, fw: Taxonomy | None = None) -> pd.DataFrame:
    """region_ranking, ranked by what `fw` audits, with its `rank` (as stored when fw is the first or only
    framework): ranked by the function that ranked the table, so the report cannot order or number them apart."""
    rk = tables["region_ranking"]
    if fw is None:
        return rk
    return rank_regions(rk, [c for c in _count_cols(fw) if c in rk.columns])


def _regions(tables, fw: Taxonomy | None = None) -> list[tuple[str, str]]:
    """(region, region_name) ranked by the audited nodes they address (the order of region_ranking)."""
    rk = _region_ranking(tables, fw)
    return [(_s(r.region), _s(r.region_name)) for r in rk.itertuples(index=False)]


def unread_regions_line(tables) -> str:
    """The regions ingest found files for but could read no document of (an empty or broken file its only one):
    they have no row in the ranking or the gap audit, which says so rather than leave them out unsaid. Plain text:
    the templates escape it. Empty when there are none (or the ingest report is of a version without regions)."""
    rep = tables.get("ingest_report")
    if rep is None or "region" not in rep.columns:
        return ""
    audited = {code for code, _ in _regions(tables)}
    rep = rep[rep["region"].fillna("").astype(str).ne("") & ~rep["region"].isin(audited)]
    said = []
    for region, files in rep.groupby("region", sort=True):
        why = [f"{_s(r.path)}: {_s(r.reason)}" for r in files.head(3).itertuples(index=False)]
        more = f"; and {len(files) - 3} more file(s)" if len(files) > 3 else ""
        said.append(f"{region} ({'; '.join(why)}{more})")
    return ("Regions with no document read, left out of the ranking and the gap audit (see ingest_report.csv): "
            + ", ".join(said) + ".") if said else ""


def _guide(n) -> str:
    """What a framework says a region lacking the node should do: its recommendation, else its definition."""
    return n.recommendation or n.definition


def _sfx(fw: Taxonomy, taxonomy: Taxonomy) -> str:
    """Suffix of element ids of a framework's sections ("" for a single framework)."""
    return f"-{fw.id}" if len(taxonomy.parts) > 1 else ""


def _region_label(code: str, name: str) -> str:
    return f"{name} ({code})" if name and name != code else code


def _lacking(tables, fw: Taxonomy) -> tuple[list, dict[str, list[str]]]:
    """Audited leaves ranked by how many regions lack them (most lacking first, then taxonomy order), and
    node -> the regions lacking it, in region-ranking order."""
    leaves = fw.audit_leaves()
    regions = [r for r, _ in _regions(tables, fw)]
    long = tables["coverage_region_long"]
    docs = {(_s(r.region), _s(r.node)): int(r.documents) for r in long.itertuples(index=False)}
    lacking = {n.id: [r for r in regions if docs.get((r, n.id), 0) == 0] for n in leaves}
    order = {n.id: i for i, n in enumerate(leaves)}
    ranked = sorted(leaves, key=lambda n: (-len(lacking[n.id]), order[n.id]))
    return ranked, lacking


def _cells(tables) -> dict[tuple[str, str], tuple[int, int, float]]:
    long = tables["coverage_region_long"]
    return {(_s(r.region), _s(r.node)): (int(r.documents), int(r.passages), float(r.share))
            for r in long.itertuples(index=False)}


def _years(tables) -> tuple[pd.DataFrame, pd.DataFrame]:
    fy = tables.get("first_year")
    by = tables.get("coverage_by_year")
    fy = fy if fy is not None else pd.DataFrame(columns=["region", "node", "first_year", "first_doc", "first_date",
                                                         "date_source"])
    # a node only undated documents address has a row without a year: the views mark it "undated" themselves
    fy = fy[fy["first_year"].notna()]
    by = by if by is not None else pd.DataFrame(columns=["region", "year", "node", "documents_in_force",
                                                         "documents_addressing", "share"])
    return fy, by


def _no_year(dates: pd.Series) -> pd.Series:
    """Whether each date gives no year: its document is undated, left out of the view over time."""
    return pd.to_numeric(dates.astype("string").str[:4], errors="coerce").isna()


def _undated_docs(tables) -> pd.DataFrame:
    """The rows of coverage_document of the documents without a usable date."""
    cd = tables.get("coverage_document")
    if cd is None or "date" not in cd:
        return pd.DataFrame(columns=["doc_id", "region", "title"])
    return cd[_no_year(cd["date"])]


def _undated(tables) -> dict[str, int]:
    """region -> number of documents without a usable date (left out of the temporal view)."""
    return _undated_docs(tables).groupby("region").size().astype(int).to_dict()


def _why_no_time_view(tables, fw: Taxonomy) -> str:
    """Why a framework's view over time has no table, which the reports say in its place (a section left out
    reads as a view no one asked for): no document is dated, or no dated one addresses what it audits."""
    n_docs = int(tables["region_ranking"]["documents"].sum())
    no_date = n_docs and sum(_undated(tables).values()) >= n_docs
    return ("No document has a date, so there is no temporal view." if no_date
            else f"No dated document addresses any of the {fw.audit.items}.")


# ------------------------------------------------------------------------------------------ Markdown

# the reports' words for gaps.csv's no_longer_in_force, in "addressed only by …"
_GONE_BY = {"superseded": "superseded versions", "repealed": "repealed documents",
            "superseded, repealed": "superseded versions and repealed documents"}


def _gone_by(row) -> str:
    return _GONE_BY.get(_s(getattr(row, "no_longer_in_force", "")), "superseded versions")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|])")


def _md(v, limit: int | None = None) -> str:
    """Corpus text made inert for Markdown: no raw HTML, links, images or table breaks, one line."""
    s = " ".join(_s(v).split())
    if limit and len(s) > limit:
        s = s[:limit].rstrip() + "…"
    # no raw HTML: '<' and '>' become entities, '&' only where it would start one
    s = re.sub(r"&(?=#?\w+;)", "&amp;", s).replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


MARKDOWN.filters["md"] = _md


def _counts_line(taxonomy: Taxonomy, counts: dict) -> str:
    audited = "; ".join(f"{len(fw.audit_leaves())} {_md(fw.audit.items)}" for fw in taxonomy.parts)
    return (f"Taxonomy {_md(taxonomy.version)}: {len(taxonomy.leaves)} leaf nodes ({audited}). "
            f"Files found: {counts.get('files', 0)}; ingested: {counts.get('ingested', 0)}; "
            f"duplicates: {counts.get('duplicate_of', 0)}; skipped: {counts.get('skipped', 0)}; "
            f"failed: {counts.get('failed', 0)} (see ingest_report.csv)."
            + (f" Labels by {_md(counts['model'])}." if counts.get("model") else ""))


def human_coding_line(tables) -> str:
    """How far to trust the tables: how many passages of this corpus a person coded, and the agreement reached."""
    hc = tables.get("human_coding")
    row = hc[hc["region"] == "all"] if hc is not None and len(hc) else None
    if row is None or not len(row) or not row["passages_coded"].iloc[0]:
        # the model's or, with MODEL=lexicon, the lexicon's: the line above says which
        return ("No passage of this corpus has been coded by a person: every label is machine-made (the model's "
                "accuracy on regions it was not trained on is in the README; code a sample with make review, then "
                "make review-import and make train).")
    r = row.iloc[0]
    regions = len(hc) - 1
    text = (f"{int(r.passages_coded)} passages of this corpus ({regions} region{'s' if regions != 1 else ''}) "
            f"were coded by {int(r.coders)} person{'s' if r.coders != 1 else ''}; ")
    if pd.isna(r.coder_model_f1):  # human_coding: no node on either side, nothing for F1 to count
        text += f"neither the coder{'s' if r.coders != 1 else ''} nor this run gives them any node"
    else:
        text += (f"on them this run's labels agree with the coders at micro-F1 {_num(r.coder_model_f1)} "
                 f"(Krippendorff's alpha {_num(r.coder_model_alpha)}; the model may have been trained on these "
                 "passages)")
    if r.double_coded:
        text += (f"; {int(r.double_coded)} passage pairs coded by two people agree at alpha "
                 f"{_num(r.coder_coder_alpha)}")
    return text + ". Per region: the human_coding sheet."


def _num(v) -> str:
    return "n/a" if pd.isna(v) else f"{v:.2f}"


def summary_md(tables: dict[str, pd.DataFrame], taxonomy: Taxonomy, counts: dict) -> str:
    several = len(taxonomy.parts) > 1
    text = MARKDOWN.get_template("summary.md.j2").render(
        counts_line=_counts_line(taxonomy, counts), unread_line=unread_regions_line(tables),
        human_line=human_coding_line(tables), several=several,
        parts=[_summary_part(tables, fw) for fw in taxonomy.parts])
    return text.rstrip("\n") + "\n"


def _summary_part(tables, fw: Taxonomy) -> dict:
    """What the summary says about one framework, as plain values: the template escapes them."""
    a = fw.audit
    ranked, lacking = _lacking(tables, fw)
    also = fw.also_facets()
    rows = [{"rank": r.rank, "region": r.region, "region_name": r.region_name, "documents": r.documents,
             "addressed": getattr(r, a.column + "s_addressed"), "coverage": f"{getattr(r, a.column + '_coverage'):.0%}",
             "also": [getattr(r, f.id + "s_addressed") for f, _ in also]}
            for r in _region_ranking(tables, fw).itertuples(index=False)]
    missing = []
    coder = _coder_counts(tables)
    for code, name in _regions(tables, fw):
        names = [_name(n) + (f" (but a coder gave it to {coder[(code, n.id)]} passage(s) of this region)"
                             if (code, n.id) in coder else "")
                 for n in ranked if code in lacking[n.id]]
        if names:
            missing.append({"region": _region_label(code, name), "names": names})
    # addressed as the ranking counts it, though not by any version in force: say so beside the gaps
    only_old = []
    for code, name, _, addressed in _audit_by_region(tables, fw, ranked):
        only_old.append({"region": _region_label(code, name),
                         "nodes": [(_name(n), _gone_by(r), _s(getattr(r, "superseded_only", "")))
                                   for n, r in addressed if _s(getattr(r, "superseded_only", ""))]})
    return {"name": fw.name["en"], "owner": a.owner, "plural": a.items, "plural_cap": _cap(a.items), "singular": a.item,
            "also": [f.items for f, _ in also], "n_leaves": len(fw.audit_leaves()), "rows": rows, "missing": missing,
            "superseded": [o for o in only_old if o["nodes"]], "all_documents": _all_documents_note(tables, fw)}


def report_md(tables: dict[str, pd.DataFrame], taxonomy: Taxonomy, counts: dict) -> str:
    """The summary, then for each framework its coverage table, what regions lack, the first years and the
    gap audit with evidence; with several frameworks, their crosstabs."""
    text = MARKDOWN.get_template("report.md.j2").render(
        summary=summary_md(tables, taxonomy, counts).rstrip("\n"), several=len(taxonomy.parts) > 1,
        all_documents=ALL_DOCUMENTS,
        parts=[_report_md_part(tables, fw, list_undated=k == len(taxonomy.parts) - 1)
               for k, fw in enumerate(taxonomy.parts)],
        crosstabs=_crosstabs(tables, taxonomy) if len(taxonomy.parts) > 1 else [])
    return text.rstrip("\n") + "\n"


def _report_md_part(tables, fw: Taxonomy, list_undated: bool) -> dict:
    """What the report says about one framework, as plain values: the template escapes them. The undated
    documents are named once, after the last framework's first years, as report.html names them."""
    a = fw.audit
    ab = (a.item[:1] or "N").upper()
    ranked, lacking = _lacking(tables, fw)
    # each item's code follows the framework's order (R1 is its first recommendation in every report), so that a
    # code quoted from one report means the same item in another; numbered by the ranking, R1 was whichever
    # item this corpus lacked most
    leaves = fw.audit_leaves()
    code_of = {n.id: f"{ab}{i}" for i, n in enumerate(leaves, 1)}
    regions = _regions(tables, fw)
    cells = _cells(tables)
    part = {"name": fw.name["en"], "item": a.item, "items_cap": _cap(a.items), "guidance": a.guidance,
            "n_regions": len(regions), "codes": [code_of[n.id] for n in leaves],
            "coverage": [{"region": code, "cells": [str(cells.get((code, n.id), (0,))[0] or "·") for n in leaves]}
                         for code, _ in regions],
            "ranked": [{"code": code_of[n.id], "name": _name(n), "id": n.id, "lacking": lacking[n.id],
                        "guide": _guide(n)} for n in ranked],
            "first_year": [], "no_time": "", "undated": [], "undated_docs": None,
            "all_documents": _all_documents_note(tables, fw)}

    fy, _ = _years(tables)
    fy = fy[fy["node"].isin({n.id for n in leaves})]
    undated = _undated(tables)
    if len(fy):
        first = {(_s(r.region), _s(r.node)): int(r.first_year) for r in fy.itertuples(index=False)}
        # what only undated documents address is addressed, as the ranking and the audit below say: not "·"
        undated_only = _addressed_only_undated(tables, [n.id for n in leaves])
        part["first_year"] = [{"region": code, "cells": [
            str(first.get((code, n.id), "undated" if (code, n.id) in undated_only else "·")) for n in leaves]}
            for code, _ in regions]
    elif regions:
        part["no_time"] = _why_no_time_view(tables, fw)
    part["undated"] = [{"region": r, "count": k} for r, k in undated.items()]
    part["undated_docs"] = _undated_list(tables) if list_undated else None

    coder = _coder_counts(tables)
    part["audit"] = [{
        "region": _region_label(code, name),
        "gaps": [{"name": _name(n), "guide": _guide(n), "coder": coder.get((code, n.id), 0)} for n in missing],
        "addressed": [{"name": _name(n), "documents": r.documents, "passages": r.passages,
                       "split": _s(getattr(r, "strength", "")), "committed": _committed(r),
                       "superseded": _s(getattr(r, "superseded_only", "")),
                       "gone_by": _gone_by(r), "title": r.evidence_title,
                       "article": r.evidence_article, "passage": r.evidence_passage}
                      for n, r in addressed]}
        for code, name, missing, addressed in _audit_by_region(tables, fw, ranked)]
    return part


def _committed(r) -> bool:
    v = getattr(r, "committed", True)
    return True if v is None or (isinstance(v, float) and v != v) else bool(v)


def _audit_by_region(tables, fw: Taxonomy, ranked: list) -> list[tuple[str, str, list, list]]:
    """The gap audit of `fw` per region, in ranking order: (region, its name, the nodes of `ranked` it does not
    address, (node, its gaps row) for those it addresses), both in the order of `ranked`."""
    gaps = tables["gaps"]
    rec = gaps[gaps["facet"].isin(fw.audit.facets) & ~gaps["is_group"].astype(bool)]
    by_key = {(_s(r.region), _s(r.node)): r for r in rec.itertuples(index=False)}
    out = []
    for code, name in _regions(tables, fw):
        rows = [(n, by_key.get((code, n.id))) for n in ranked]
        out.append((code, name, [n for n, r in rows if r is None or not bool(r.addressed)],
                    [(n, r) for n, r in rows if r is not None and bool(r.addressed)]))
    return out


def _crosstab_totals(tables, fa: str, fb: str) -> pd.DataFrame:
    """The crosstab of frameworks fa x fb summed over the regions (passages, documents, strength levels)."""
    ct = tables.get("crosstab")
    if ct is None or ct.empty:
        return pd.DataFrame()
    ct = ct[(ct["framework_a"] == fa) & (ct["framework_b"] == fb)]
    num = [c for c in ct.columns if c in ("passages", "documents") or c.startswith("passages_")]
    return ct.groupby(["node_a", "node_b"], sort=False)[num].sum().reset_index()


def _crosstabs(tables, taxonomy: Taxonomy) -> list[dict]:
    """Each pair of frameworks: passages coded under a node of each, summed over the regions (the rows: the
    first framework's nodes with any such passage)."""
    out = []
    for fa, fb in itertools.combinations(taxonomy.parts, 2):
        tot = _crosstab_totals(tables, fa.id, fb.id)
        if tot.empty:
            continue
        cell = {(r.node_a, r.node_b): int(r.passages) for r in tot.itertuples(index=False)}
        rows = [{"name": _name(n), "cells": [str(cell.get((n.id, m.id), 0) or "·") for m in fb.leaves]}
                for n in fa.leaves if any(cell.get((n.id, m.id)) for m in fb.leaves)]
        out.append({"a": fa.name["en"], "b": fb.name["en"], "columns": [_name(m) for m in fb.leaves],
                    "rows": rows})
    return out


# ------------------------------------------------------------------------------------------- HTML

# sequential blues (ColorBrewer); a cell's class says how many documents address it
DOC_BINS = ((1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, 49), (50, None))


def _doc_bin(docs: int) -> int:
    for i, (lo, hi) in enumerate(DOC_BINS, 1):
        if docs >= lo and (hi is None or docs <= hi):
            return i
    return 0


def _bin_label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}–{hi}")


def _marked(text: str, ev: list[dict], limit: int = 1200) -> dict:
    """The passage with its matched terms, for the `marked` macro (templates/marks.html.j2) to write: plain text
    and a matched term in turn (`pairs`), then the rest (`tail`), all of it corpus text that the template
    escapes. A passage longer than `limit` is cut to a window around its first match (`cut_before`,
    `cut_after`: the page shows … there)."""
    spans = merge_spans(text, ev)
    lo, hi = 0, len(text)
    if len(text) > limit:
        lo = max(0, spans[0][0] - limit // 4) if spans else 0
        hi = min(len(text), lo + limit)
    pairs, pos = [], lo
    for s, t in spans:
        if s < pos or t > hi:
            continue
        pairs.append((text[pos:s], text[s:t]))
        pos = t
    return {"cut_before": lo > 0, "pairs": pairs, "tail": text[pos:hi], "cut_after": hi < len(text)}


def _starts_with(marked: dict, prefix: str) -> bool:
    """Whether a marked passage, as shown, begins with `prefix` in plain text (not inside a matched term)."""
    first = marked["pairs"][0][0] if marked["pairs"] else marked["tail"]
    return not marked["cut_before"] and first.startswith(prefix)


# report.html links into this folder next to it: every cell's full evidence, and each document's text
COMPANION = EVIDENCE_PAGES


def doc_page_name(doc_id: str) -> str:
    """The file, in COMPANION, of a document's text (named by a hash: document ids are paths)."""
    return "doc-" + hashlib.sha256(_s(doc_id).encode("utf-8")).hexdigest()[:16] + ".html"


def cell_page_name(region: str, node: str) -> str:
    """The file, in COMPANION, of every evidence passage of a region x node cell."""
    return "cell-" + hashlib.sha256(f"{region}|{node}".encode("utf-8")).hexdigest()[:16] + ".html"


def _shown_text(r) -> tuple[str, bool]:
    """The passage as a researcher quotes it (aggregate.as_written), and whether that is a Traditional original."""
    text, original = _s(r.text), _s(getattr(r, "text_original", ""))
    shown = as_written(text, original)
    return shown, shown is not text


def under_title(heading: str, title: str) -> str:
    """A passage's heading path without the document's title, which a Markdown file's `# Title` makes its first
    heading: the evidence names the title already ("title · title › 第二条")."""
    first, sep, rest = heading.partition(" > ")
    return rest if first.strip() == title.strip() else heading


def _item(r) -> dict:
    """One evidence passage for the templates: corpus strings as they are (the templates escape them); the
    passage itself (`html`, `snippet`) is our markup, escaped here with its matched terms in <mark>."""
    try:
        spans = json.loads(r.evidence) if isinstance(r.evidence, str) else []
    except ValueError:
        spans = []
    spans = spans if isinstance(spans, list) else []
    shown, original = _shown_text(r)
    ordinal = getattr(r, "ordinal", None)
    anchor = f"p{int(ordinal)}" if ordinal is not None and pd.notna(ordinal) and int(ordinal) > 0 else ""
    lang = "zh-Hant" if original else "zh-Hans" if _s(getattr(r, "lang", "zh")) in ("zh", "") else "en"
    return {
        "title": _s(r.title), "article": cite_as_written(_s(r.label), _s(r.text), shown),
        "heading": under_title(_s(getattr(r, "ev_heading", "")), _s(r.title)),
        "doc": _s(r.doc_id), "passage_id": _s(r.passage_id), "date": _s(r.date), "lang": lang, "original": original,
        "score": float(r.score) if pd.notna(r.score) else 0.0, "source": _s(r.source),
        "terms": [t[:80] for t in fragments(shown, spans)[:8]],
        "marked": _marked(shown, spans), "snippet": _marked(shown, spans, limit=320),
        "page": doc_page_name(r.doc_id), "anchor": anchor,
        "strength": _s(getattr(r, "strength", "")), "cue": _s(getattr(r, "strength_cue", ""))[:40],
    }


def evidence_index(evidence: pd.DataFrame, per_cell: int = 5) -> dict:
    """region|node -> {documents, passages, items, page}: up to `per_cell` strongest evidence passages (one per
    document first; see _item), the passage marked up as HTML; `page` is the file in
    COMPANION with all of the cell's passages. `evidence`: aggregate's evidence table (one row per leaf label)."""
    totals = evidence.groupby(["region", "node"]).agg(p=("passage_id", "nunique"), d=("doc_id", "nunique"))
    # the strongest passage of each document first, then further passages of the same documents
    ev = evidence.assign(again=evidence.duplicated(["region", "node", "doc_id"])).sort_values("again", kind="stable")
    ev = ev.groupby(["region", "node"], sort=False).head(per_cell)
    out: dict[str, dict] = {}
    for r in ev.itertuples(index=False):
        key = f"{r.region}|{r.node}"
        if key not in out:
            t = totals.loc[(r.region, r.node)]
            out[key] = {"documents": int(t["d"]), "passages": int(t["p"]), "items": [],
                        "page": cell_page_name(r.region, r.node)}
        out[key]["items"].append(_item(r))
    return out


def cell_pages(evidence: pd.DataFrame, taxonomy: Taxonomy, region_names: dict[str, str],
               nodes: set[str] | None = None):
    """(file name, what the page shows as a string, a function making the page) for every region x node cell
    (of `nodes`, if given): all of its evidence passages (aggregate's evidence table), strongest first, each
    linked to its place in its document's page. The page is made only when asked for, so a caller that kept
    the page made from the same content skips it (an incremental run changes few cells)."""
    ev = evidence if nodes is None else evidence[evidence["node"].isin(nodes)]
    # the page's other sort: document order within the cell
    at = ev.sort_values(["doc_id", "start"], kind="stable").index
    ev = ev.assign(doc_order=pd.Series(range(len(at)), index=at))
    ev = ev.assign(doc_order=ev.groupby(["region", "node"], sort=False)["doc_order"].rank(method="first")
                   .astype("int64") - 1)
    rows = ev.values.tolist()
    for (region, node), where in sorted(ev.groupby(["region", "node"]).indices.items()):
        shows = json.dumps([region, region_names.get(region, ""), [rows[i] for i in where]], ensure_ascii=False,
                           default=str)
        yield (cell_page_name(region, node), shows,
               lambda region=region, node=node, where=where: _cell_page(region, node, ev.iloc[where], taxonomy,
                                                                        region_names))


def _cell_page(region: str, node: str, grp: pd.DataFrame, taxonomy: Taxonomy, region_names: dict[str, str]) -> str:
    n = taxonomy.by_id.get(node)
    title = f"{_region_label(region, region_names.get(region, ''))} × {_name(n) if n else node}"
    recommendation = n.recommendation if n is not None else ""
    body = HTML.get_template("cell.html.j2").render(
        title=title, known=n is not None, zh=_name(n, "zh") if n is not None else "", node=node, region=region,
        n_documents=grp["doc_id"].nunique(), recommendation=recommendation,
        guidance=taxonomy.framework_of(n.id).audit.guidance if recommendation else "",
        passages=[{"item": _item(r), "order": int(r.doc_order)} for r in grp.itertuples(index=False)])
    return _page(title, body, script=PAGE_JS)


# a document page shows the whole document up to this many passages; a longer document (a compiled yearbook, an
# export of a whole database) shows its coded passages only, the first this many of them
PAGE_PASSAGES = 20_000


def document_page(meta: dict, text: str, original: str, passages: list[dict], labels: pd.DataFrame,
                  taxonomy: Taxonomy, omitted: int = 0) -> str:
    """A document's whole text, passage by passage (each content passage anchored as p<ordinal>), the coded ones
    marked with their labels and matched terms. A converted document is shown in its Traditional original when
    the two texts are of equal length (offsets hold in both), else in the converted text, saying so.

    `omitted`: how many of the document's passages `passages` leaves out (a document longer than
    PAGE_PASSAGES); the page then shows only the passages given, without the text between them, and says so."""
    by_id = taxonomy.by_id
    use_original = bool(original) and len(original) == len(text)
    shown = original if use_original else text
    lang = "zh-Hant" if use_original else "zh-Hans" if _s(meta.get("lang")) == "zh" else "en"
    coded: dict[str, list] = {}
    for r in labels.itertuples(index=False):
        coded.setdefault(r.passage_id, []).append(r)
    # the page, block by block: text between passages, a cut (…) where passages are left out, headings, passages
    blocks, pos = [], 0
    for p in sorted(passages, key=lambda p: int(p["start"])):
        s, t = int(p["start"]), int(p["end"])
        if not 0 <= s <= t <= len(shown) or s < pos:
            continue
        if omitted and pos and s > pos:
            blocks.append({"kind": "gap"})
        elif shown[pos:s].strip():  # blank lines between passages: the passages' blocks already part them
            blocks.append({"kind": "text", "text": shown[pos:s]})
        pos = t
        if p["kind"] not in CONTENT_KINDS:
            blocks.append({"kind": "heading", "text": shown[s:t]})
            continue
        rows = coded.get(p["passage_id"], [])
        spans: list[dict] = []
        codes = []
        for r in sorted(rows, key=lambda r: -float(r.score)):
            try:
                ev = json.loads(r.evidence) if isinstance(r.evidence, str) else []
            except ValueError:
                ev = []
            spans += ev if isinstance(ev, list) else []
            n = by_id.get(r.node)
            codes.append({"node": r.node, "name": _name(n) if n else r.node,
                          "zh": _name(n, "zh") if n is not None else None, "score": float(r.score)})
        ordinal = max(int(p.get("ordinal") or 0), 0)
        blocks.append({"kind": "passage", "ordinal": str(ordinal) if ordinal else "",
                       "cite": cite_as_written(_s(p.get("label")), text[s:t], shown[s:t]), "codes": codes,
                       # a coded passage with its matched terms marked; the others as plain text
                       "marked": _marked(shown[s:t], spans, limit=len(shown)) if rows else None,
                       "body": shown[s:t]})
    if shown[pos:].strip() and not omitted:
        blocks.append({"kind": "text", "text": shown[pos:]})
    note = ("Shown in the Traditional-Chinese original; it was converted to Simplified for coding, character for "
            "character, so passages and matched terms are in the same places." if use_original else
            "The Traditional-Chinese original could not be aligned with the converted text; shown as coded "
            "(Simplified)." if original else "")
    body = HTML.get_template("document.html.j2").render(
        lang=lang, title=meta.get("title"), region=_region_label(_s(meta.get("region")), _s(meta.get("region_name"))),
        date=_s(meta.get("date")), date_source=_s(meta.get("date_source")), doc_id=meta.get("doc_id"),
        n_coded=len(coded), note=note, omitted=omitted, n_passages_all=f"{len(passages) + omitted:,}",
        n_passages_shown=f"{len(passages):,}", first_only=len(coded) > len(passages),
        page_passages=f"{PAGE_PASSAGES:,}", blocks=blocks)
    return _page(_s(meta.get("title")) or _s(meta.get("doc_id")), body)


def _page(title: str, body: str, script: str = "") -> str:
    """A companion page: self-contained like report.html, under the same policy (its only script hashed)."""
    return _render_html(title, CSS + PAGE_CSS, body, script, "single")


def _render_html(title: str, css: str, body: str, script: str, layout: str) -> str:
    """The page shell around a body rendered from a template (report.html.j2, cell.html.j2, document.html.j2):
    everything but `title` is our own markup. Its Content-Security-Policy lets the page use its own stylesheet
    and script (`script` may be none) and nothing else: they are allowed by their hashes, and nothing is fetched."""
    scripts = _csp_hash(script) if script else "'none'"
    csp = (f"default-src 'none'; style-src {_csp_hash(css)}; script-src {scripts}; img-src 'none'; "
           "font-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'")
    return HTML.get_template("page.html.j2").render(
        title=title, css=Markup(css), csp=Markup(csp), body=Markup(body), script=Markup(script), layout=layout)


def _items(entry: dict | None) -> list[dict]:
    """A cell's entry of evidence_index -> the passages it shows (none where the cell has no entry)."""
    return entry["items"] if entry else []


CSS = _static("report.css")

# the companion pages (report_files/): one column, a document's passages one after another
PAGE_CSS = _static("page.css")

# the cell pages: filter the passages by their text, order them by strength or as they stand in the documents
PAGE_JS = _static("cell.js")

JS = _static("report.js")


def _csp_hash(s: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode() + "'"


def _cell_ids(evidence: dict) -> dict[str, str]:
    return {key: f"ev-{i}" for i, key in enumerate(evidence)}


def _heatmap(tables, fw: Taxonomy, nodes: list, title: str, caption: str, ids: dict, lacking: dict | None,
             facet: str, count_col: str, total: int, strength: dict[tuple[str, str], str]) -> dict:
    """Region x node heatmap of documents addressing each node; `count_col` of region_ranking (out of `total`)
    follows each region's name; `strength` ((region, node) -> '3 binding, 5 encouraging') goes into the cell's
    tooltip."""
    cells = _cells(tables)
    regions = _regions(tables, fw)
    n_regions = len(regions)
    rk = {(_s(r.region)): r for r in tables["region_ranking"].itertuples(index=False)}
    head = []
    for n in nodes:
        tip = f"{n.id}: {_name(n)} / {_name(n, 'zh')}"
        if lacking is not None:
            tip += f"; lacking in {len(lacking[n.id])} of {n_regions} regions"
        head.append({"tip": tip, "name": _name(n), "zh": _name(n, "zh"), "id": n.id})
    rows = []
    for code, name in regions:
        r = rk.get(code)
        row = {"code": code, "label": _region_label(code, name),
               "sub": f"{getattr(r, count_col)}/{total}" if r is not None else "", "cells": []}
        for n in nodes:
            docs, passages, share = cells.get((code, n.id), (0, 0, 0.0))
            if not docs:
                row["cells"].append({"docs": 0, "name": _name(n)})
                continue
            split = strength.get((code, n.id))
            tip = (f"{_region_label(code, name)} × {_name(n)}: {docs} document(s) ({share:.0%} of the region's), "
                   f"{passages} passage(s)" + (f": {split}" if split else ""))
            row["cells"].append({"docs": docs, "bin": _doc_bin(docs), "tip": tip, "id": ids.get(f"{code}|{n.id}")})
        rows.append(row)
    return {"facet": facet, "title": title, "caption": caption, "nodes": head, "rows": rows}


def _heatmaps(tables, fw: Taxonomy, ranked: list, lacking: dict, ids: dict,
              splits: dict[tuple[str, str], str]) -> list[dict]:
    """A framework's heatmaps: region x audited item, its columns in `ranked` order, then a heatmap of each facet
    it also shows, its columns in the framework's order."""
    a = fw.audit
    every = f" {ALL_DOCUMENTS}" if _all_documents_note(tables, fw) else ""
    heatmaps = [_heatmap(
        tables, fw, ranked, f"Region × {a.item}",
        f"Rows: regions ranked by {a.items} addressed (addressed / total after the name). Columns: "
        f"{a.owner} {a.items}, those lacking in most regions first.{every}", ids, lacking,
        "-".join(a.facets), f"{a.column}s_addressed", len(ranked), splits)]
    for f, leaves in fw.also_facets():
        heatmaps.append(_heatmap(tables, fw, leaves, f"Region × {f.item}",
                                 f"Columns: the {f.items} in {a.owner} order.{every}", ids, None, f.id,
                                 f"{f.id}s_addressed", len(leaves), splits))
    return heatmaps


def _strength_splits(tables) -> dict[tuple[str, str], str]:
    """(region, node) -> its passages by strength of commitment ('3 binding, 5 encouraging'), from the gap
    audit's `strength` column."""
    gaps = tables.get("gaps")
    if gaps is None or "strength" not in gaps.columns:
        return {}
    return {(_s(r.region), _s(r.node)): _s(r.strength) for r in gaps.itertuples(index=False) if _s(r.strength)}


def _evidence_sections(tables, taxonomy: Taxonomy, evidence: dict, ids: dict) -> list[dict]:
    """The evidence panel's section of each cell: its strongest passages, and the way to all of them."""
    by_id = taxonomy.by_id
    names = dict(_regions(tables))
    splits = _strength_splits(tables)
    secs = []
    for key, entry in evidence.items():
        region, _, node = key.rpartition("|")
        n = by_id.get(node)
        items = _items(entry)
        split = splits.get((region, node))
        total = (f"{entry['documents']} document(s), {entry['passages']} passage(s)"
                 + (f" ({split})" if split else "") + f"; showing the {len(items)} strongest")
        recommendation = n.recommendation if n is not None else ""
        # every passage of the cell, not only the strongest, is one click away (its page)
        secs.append({
            "id": ids[key], "region": _region_label(region, names.get(region, "")), "node": _name(n) if n else node,
            "total": total, "recommendation": recommendation,
            "guidance": taxonomy.framework_of(n.id).audit.guidance if recommendation else "",
            "passages": items, "docs_at": f"{COMPANION}/", "page": entry["page"],
            "n_passages": entry["passages"], "n_documents": entry["documents"]})
    return secs


def _ranking_table(tables, fw: Taxonomy) -> dict:
    a = fw.audit
    leaves = len(fw.audit_leaves())
    also = fw.also_facets()
    rows = []
    for r in _region_ranking(tables, fw).itertuples(index=False):
        cov = float(getattr(r, f"{a.column}_coverage"))
        rows.append({"rank": int(r.rank), "region": r.region, "region_name": r.region_name,
                     "documents": int(r.documents), "addressed": int(getattr(r, a.column + "s_addressed")),
                     "n_leaves": leaves, "coverage": f"{cov:.4f}", "coverage_pct": f"{cov:.0%}",
                     "also": [int(getattr(r, f.id + "s_addressed")) for f, _ in also]})
    return {"rows": rows, "also": [f.items for f, _ in also], "all_documents": _all_documents_note(tables, fw)}


# under a heatmap whose counts take in documents no longer in force (see _all_documents_note)
ALL_DOCUMENTS = ("Counts take in every document, superseded versions and repealed documents too; gaps.csv's "
                 "addressed_in_force says whether the documents in force now address a node.")


def _all_documents_note(tables, fw: Taxonomy) -> bool:
    """Whether to say under the ranking that it counts every document: where a document no longer in force (a
    superseded version, a repealed document) addresses one of the framework's nodes, the ranking read without it
    passes for what the policies in force address."""
    long = tables.get("coverage_region_long")
    return long is not None and counts_documents_out_of_force(long[long["node"].isin({n.id for n in fw.nodes})])


CROSSTAB_SHOWN = 8


def _crosstab_view(tables, taxonomy: Taxonomy) -> dict | None:
    """For each pair of frameworks: a heatmap of passages coded under both (all regions), each cell linked to its
    passages (`evidence`: the panel's sections), and the same counts per region."""
    ct = tables.get("crosstab")
    if ct is None or ct.empty:
        return None
    names = dict(_regions(tables))
    converted = _converted_passages(tables)
    view = {"pairs": [], "evidence": []}
    for fa, fb in itertools.combinations(taxonomy.parts, 2):
        sub = ct[(ct["framework_a"] == fa.id) & (ct["framework_b"] == fb.id)]
        by_region = [{"label": _region_label(region, names.get(region, "")),
                      "cells": [{"a": _name(taxonomy.by_id[r.node_a]), "b": _name(taxonomy.by_id[r.node_b]),
                                 "passages": int(r.passages), "documents": int(r.documents)}
                                for r in grp.itertuples(index=False)]}
                     for region, grp in sub[sub["passages"] > 0].groupby("region", sort=True)]
        view["pairs"].append({"a": fa.name["en"], "b": fb.name["en"], "a_id": fa.id, "b_id": fb.id,
                              "rows": _crosstab_heatmap(tables, fa, fb, sub, names, converted, view["evidence"]),
                              "columns": [{"id": m.id, "name": _name(m), "zh": _name(m, "zh")} for m in fb.leaves],
                              "by_region": by_region})
    return view


def _crosstab_heatmap(tables, fa, fb, sub: pd.DataFrame, names: dict, converted: dict, evidence: list) -> list[dict]:
    """The heatmap rows of frameworks fa x fb (the rows: fa's nodes with any passage coded under a node of fb),
    each cell with its counts summed over the regions; the evidence panel's section of each non-empty cell is
    appended to `evidence`, whose length numbers it. `sub`: the crosstab's rows of this pair."""
    level_cols = [c for c in sub.columns if c.startswith("passages_")]
    tot = _crosstab_totals(tables, fa.id, fb.id)
    cell = {(r.node_a, r.node_b): r for r in tot.itertuples(index=False)}
    rows = []
    for n in fa.leaves:
        if not any(int(cell[(n.id, m.id)].passages) for m in fb.leaves if (n.id, m.id) in cell):
            continue
        cells = []
        for m in fb.leaves:
            r = cell.get((n.id, m.id))
            p = int(r.passages) if r is not None else 0
            if not p:
                cells.append({"passages": 0})
                continue
            split = ", ".join(f"{int(getattr(r, c))} {c[len('passages_'):]}" for c in level_cols if int(getattr(r, c)))
            sid = f"xev-{len(evidence)}"
            cells.append({"passages": p, "bin": _doc_bin(p), "id": sid,
                          "tip": f"{_name(n)} × {_name(m)}: {p} passage(s) in {int(r.documents)} "
                                 f"document(s); {split}"})
            hits = sub[(sub["node_a"] == n.id) & (sub["node_b"] == m.id) & (sub["passages"] > 0)]
            evidence.append(_crosstab_cell(sid, n, m, hits, names, p, split, converted))
        rows.append({"id": n.id, "name": _name(n), "zh": _name(n, "zh"), "cells": cells})
    return rows


def _converted_passages(tables) -> dict[str, str]:
    """passage id -> Traditional original, of the passages of converted documents whose evidence the tables quote
    as written (aggregate.as_written)."""
    cp = tables.get("coded_passages")
    if cp is None or "text_original" not in cp.columns:
        return {}
    cp = cp[cp["text_original"].fillna("") != ""]
    return {_s(p): _s(o) for p, t, o in zip(cp["passage_id"], cp["text"], cp["text_original"])
            if as_written(_s(t), _s(o)) is not _s(t)}


def _crosstab_cell(sid: str, n, m, rows: pd.DataFrame, names: dict, passages: int, split: str,
                   converted: dict[str, str]) -> dict:
    """The evidence panel's section of a crosstab cell: per region, its strongest passage and the ids of all."""
    regions = []
    for r in rows.head(CROSSTAB_SHOWN).itertuples(index=False):
        ids = _s(r.evidence_passage_ids).split("; ")
        passage, article = _s(r.evidence_passage), _s(r.evidence_article)
        plain = passage.replace("【", "").replace("】", "")
        original = any(converted.get(pid) == plain for pid in ids)
        regions.append({"label": _region_label(r.region, names.get(r.region, "")), "doc": r.evidence_doc,
                        "article": article, "passage": passage[:1200], "lang": "zh-Hant" if original else "",
                        "passages": int(r.passages), "ids": "; ".join(ids[:10]),
                        "more": f" and {len(ids) - 10} more" if len(ids) > 10 else ""})
    return {"id": sid, "a": _name(n), "b": _name(m), "passages": passages, "split": split, "regions": regions,
            "more_regions": max(len(rows) - CROSSTAB_SHOWN, 0)}


def _lacking_table(tables, ranked: list, lacking: dict) -> dict:
    rows = [{"name": _name(n), "zh": _name(n, "zh"), "id": n.id, "lacking": lacking[n.id], "guide": _guide(n)}
            for n in ranked]
    return {"rows": rows, "n_regions": len(_regions(tables))}


def _year_bins(lo: int, hi: int, k: int = 6) -> list[tuple[int, int]]:
    span = hi - lo + 1
    k = max(1, min(k, span))
    edges = [lo + round(i * span / k) for i in range(k + 1)]
    return [(edges[i], edges[i + 1] - 1) for i in range(k)]


def _temporal(tables, ranked: list, fw: Taxonomy, list_undated: bool) -> dict:
    a = fw.audit
    fy, by = _years(tables)
    leaf_ids = [n.id for n in ranked]
    fy = fy[fy["node"].isin(leaf_ids)]
    undated = _undated(tables)
    regions = _regions(tables, fw)
    t = {"why": "", "undated_docs": _undated_list(tables) if list_undated else None}
    only_undated = _addressed_only_undated(tables, leaf_ids)
    if fy.empty:
        t["why"] = _why_no_time_view(tables, fw)
        return t
    titles = {}
    cd = tables.get("coverage_document")
    if cd is not None:
        titles = {_s(r.doc_id): (_s(r.title), _s(r.date)) for r in cd.itertuples(index=False)}
    first = {(_s(r.region), _s(r.node)): (int(r.first_year), _s(r.first_doc), _s(getattr(r, "date_source", "")))
             for r in fy.itertuples(index=False)}
    ymin, ymax = int(fy["first_year"].min()), int(fy["first_year"].max())
    bins = _year_bins(ymin, ymax)

    def ybin(y: int) -> int:
        return next(i for i, (a, b) in enumerate(bins, 1) if a <= y <= b)

    rows = []
    for code, name in regions:
        cells = []
        for n in ranked:
            if (code, n.id) not in first:
                docs = only_undated.get((code, n.id))
                if docs:  # addressed, as the ranking counts it, but by no dated document
                    tip = (f"{_region_label(code, name)} × {_name(n)}: addressed only in undated document(s): "
                           + "; ".join(titles.get(d, (d, ""))[0] or d for d in docs[:5]))
                    cells.append({"year": None, "tip": tip})
                else:
                    cells.append({"year": None, "tip": ""})
                continue
            y, doc, source = first[(code, n.id)]
            title, date = titles.get(doc, ("", ""))
            dated = f"{date or y}, date from {source}" if source else f"{date or y}"
            cells.append({"year": y, "bin": ybin(y),
                          "tip": f"{_region_label(code, name)} × {_name(n)}: first in {title or doc} ({dated})"})
        rows.append({"label": _region_label(code, name), "undated": undated.get(code), "cells": cells})
    n_undated = sum(undated.values())
    t.update(
        nodes=[{"id": n.id, "name": _name(n)} for n in ranked], rows=rows,
        legend=[str(a) if a == b else f"{a}–{b}" for a, b in bins], only_undated=bool(only_undated),
        undated_note=(f" {n_undated} undated document(s) cannot be placed in time: a {a.item} only they address "
                      "is marked \u201cundated\u201d (the ranking and the heatmaps count it as addressed); they are "
                      "listed below." if n_undated else ""),
        chart=_year_chart(by, leaf_ids, regions, len(ranked), _undated_nodes(tables, leaf_ids)))
    return t


def _addressed_only_undated(tables, leaf_ids: list[str]) -> dict[tuple[str, str], list[str]]:
    """(region, node) -> the undated documents addressing it, for cells no dated document addresses."""
    cdl = tables.get("coverage_document_long")
    if cdl is None or cdl.empty:
        return {}
    cdl = cdl[cdl["node"].isin(leaf_ids)]
    dated = ~_no_year(cdl["date"])
    with_date = set(zip(cdl.loc[dated, "region"], cdl.loc[dated, "node"]))
    out: dict[tuple[str, str], list[str]] = {}
    for r in cdl[~dated].itertuples(index=False):
        if (r.region, r.node) not in with_date:
            out.setdefault((_s(r.region), _s(r.node)), []).append(_s(r.doc_id))
    return out


def _undated_nodes(tables, leaf_ids: list[str]) -> dict[str, set[str]]:
    """region -> audited nodes its undated documents address (which the ranking counts and the chart cannot)."""
    cdl = tables.get("coverage_document_long")
    if cdl is None or cdl.empty:
        return {}
    cdl = cdl[cdl["node"].isin(leaf_ids)]
    undated = _no_year(cdl["date"])
    return {_s(r): set(g["node"]) for r, g in cdl[undated].groupby("region")}


UNDATED_SHOWN = 200


def _undated_list(tables) -> dict | None:
    """The undated documents by name: they count everywhere but in the view over time."""
    und = _undated_docs(tables)
    if und.empty:
        return None
    cdl = tables.get("coverage_document_long")
    paged = set(cdl["doc_id"]) if cdl is not None else set()
    und = und.sort_values(["region", "doc_id"], kind="stable")
    refused = _refused_dates(tables)
    docs = [{"name": _s(r.title) or _s(r.doc_id), "region": r.region, "doc_id": r.doc_id,
             "page": doc_page_name(r.doc_id) if _s(r.doc_id) in paged else "", "refused": refused.get(_s(r.doc_id))}
            for r in und.head(UNDATED_SHOWN).itertuples(index=False)]
    return {"total": len(und), "docs": docs, "docs_at": f"{COMPANION}/"}


def _refused_dates(tables) -> dict[str, dict]:
    """doc_id -> the manifest date ingest could not read ({value, why}), from ingest_report's reasons."""
    rep = tables.get("ingest_report")
    if rep is None or rep.empty or "reason" not in rep:
        return {}
    ids = rep["doc_id"] if "doc_id" in rep else rep["path"]
    out = {}
    for doc, reason in zip(ids, rep["reason"]):
        m = REFUSED_MANIFEST_DATE.search(_s(reason))
        if m and _s(doc):
            out[_s(doc)] = {"value": m.group("value"), "why": m.group("why")}
    return out


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def _year_chart(by: pd.DataFrame, leaf_ids: list[str], regions: list[tuple[str, str]], n_leaves: int,
                undated: dict[str, set[str]]) -> dict | None:
    """The geometry of the chart of audited nodes addressed by the documents in force, per region and year."""
    # the table has a row for every node every year: those with no document in force addressing it count none
    # (the chart runs to the table's last year: after a repeal, that may be a year in which they address none)
    last = by["year"].max()
    by = by[by["node"].isin(leaf_ids) & (by["documents_addressing"] > 0)]
    if by.empty:
        return None
    counts = by.groupby(["region", "year"])["node"].nunique()
    y0, y1 = int(by["year"].min()), int(last)
    W, H, L, R, T, B = 900, 300, 40, 240, 12, 28
    pw, ph = W - L - R, H - T - B

    def x(y: float) -> float:
        return L + (pw * (y - y0) / max(y1 - y0, 1))

    def yv(v: float) -> float:
        return T + ph * (1 - v / max(n_leaves, 1))

    chart = {"width": W, "height": H, "left": L, "right": L + pw, "n_leaves": n_leaves, "series": [],
             "grid": [{"y": f"{yv(v):.1f}", "text_y": f"{yv(v) + 4:.1f}", "value": v}
                      for v in range(0, n_leaves + 1, max(1, n_leaves // 5))],
             "ticks": [{"x": f"{x(yr):.1f}", "year": yr} for yr in range(y0, y1 + 1, max(1, round((y1 - y0) / 10)))]}
    label_y = []
    for i, (code, name) in enumerate(regions):
        if code not in counts.index.get_level_values(0):
            continue
        c = counts.loc[code]
        dy = (i % 5 - 2) * 1.6  # lines at the same level stay distinguishable
        pts, dots, last = [], [], None
        for yr in range(int(c.index.min()), y1 + 1):
            v = int(c.get(yr, 0))  # a year without a row: its documents in force address none
            if last is not None and v != last:
                pts.append(f"{x(yr):.1f},{yv(last) + dy:.1f}")  # step: level until the year it changes
            if last is None or v != last:
                dots.append({"x": f"{x(yr):.1f}", "y": f"{yv(v) + dy:.1f}", "year": yr, "value": v})
            pts.append(f"{x(yr):.1f},{yv(v) + dy:.1f}")
            last = v
        ly = yv(last) + 4
        while any(abs(ly - o) < 13 for o in label_y):
            ly += 13
        label_y.append(ly)
        # the ranking also counts undated documents: say how many more they add, or the two seem to disagree
        now = set(by.loc[(by["region"] == code) & (by["year"] == y1), "node"])
        chart["series"].append({"colour": PALETTE[i % len(PALETTE)], "label": _region_label(code, name),
                                "points": " ".join(pts), "dots": dots, "label_y": f"{ly:.1f}", "last": last,
                                "more": len(undated.get(code, set()) - now)})
    return chart


def _framework(fw: Taxonomy, sfx: str) -> dict:
    """How a framework's sections name what it audits (an item, the plural, their owner, what it says of them);
    `plural`, not `items`: a template would read a dict's items method."""
    a = fw.audit
    return {"sfx": sfx, "item": a.item, "plural": a.items, "plural_cap": _cap(a.items), "owner": a.owner,
            "guidance": a.guidance}


def _coder_counts(tables) -> dict[tuple[str, str], int]:
    """(region, node) -> passages of the region a person coded with the node, where any: shown beside a gap,
    they say the run missed them (or the coder erred)."""
    gaps = tables["gaps"]
    if "coder_passages" not in gaps.columns:
        return {}
    return {(_s(r.region), _s(r.node)): int(r.coder_passages) for r in gaps.itertuples(index=False)
            if r.coder_passages}


def _gap_list(tables, fw: Taxonomy, ranked: list, evidence: dict, ids: dict) -> list[dict]:
    coder = _coder_counts(tables)
    regions = []
    for code, name, missing, addressed in _audit_by_region(tables, fw, ranked):
        present = []
        for n, r in addressed:
            key = f"{code}|{n.id}"
            items = _items(evidence.get(key))
            # gaps.csv's passage (a document in force's where one addresses the node), marked, and a link to all
            # of the cell's evidence; the strongest passage where gaps.csv names none
            chosen = _s(r.evidence_passage_id)
            it = next((i for i in items if i.get("passage_id") == chosen), None if chosen else next(iter(items), None))
            if it is not None:
                snippet = it["snippet"]
                # the article is left out where the passage begins with it (compared as both are written)
                leads = _starts_with(snippet, it["article"])
                ev = {"title": it["title"], "article": None if leads else it["article"],
                      "lang": it["lang"], "snippet": snippet, "id": ids[key]}
            else:
                ev = {"title": r.evidence_title, "article": r.evidence_article,
                      "passage": _s(r.evidence_passage)[:300], "snippet": None}
            present.append({"name": _name(n), "committed": _committed(r), "split": _s(getattr(r, "strength", "")),
                            "superseded": _s(getattr(r, "superseded_only", "")),
                            "gone_by": _gone_by(r),
                            "documents": int(r.documents), "passages": int(r.passages), "evidence": ev})
        regions.append({"label": _region_label(code, name), "present": present,
                        "missing": [{"name": _name(n), "guide": _guide(n), "coder": coder.get((code, n.id), 0)}
                                    for n in missing]})
    return regions


def _glance(tables, fw: Taxonomy, ranked: list, lacking: dict) -> dict:
    count = f"{fw.audit.column}s_addressed"
    rk = _region_ranking(tables, fw)
    g = {"top": None, "bottom": None, "n_leaves": len(ranked), "n_regions": len(_regions(tables, fw)),
         "most": [{"name": _name(n), "lacking": len(lacking[n.id])} for n in ranked if lacking[n.id]][:3],
         "everywhere": [_name(n) for n in ranked if not lacking[n.id]]}
    # regions tied at either end are named together: naming the first by code would pick one of equals
    ends = [rk[rk["rank"] == rk["rank"].min()]] if not rk.empty else []
    if not rk.empty and rk["rank"].max() > rk["rank"].min():
        ends.append(rk[rk["rank"] == rk["rank"].max()])
    for end, rows in zip(("top", "bottom"), ends):
        g[end] = {"label": ", ".join(_region_label(_s(r.region), _s(r.region_name)) for r in rows.itertuples()),
                  "addressed": int(rows[count].iloc[0])}
    return g


def report_html(tables, taxonomy: Taxonomy, evidence: dict, counts: dict) -> str:
    shown = taxonomy.shown_ids()
    evidence = {k: v for k, v in evidence.items() if k.rpartition("|")[2] in shown and _items(v)}
    ids = _cell_ids(evidence)
    n_regions = len(_regions(tables))
    several = len(taxonomy.parts) > 1
    coded = []
    for fw in taxonomy.parts:
        also = " and ".join(f"{len(leaves)} {f.items}" for f, leaves in fw.also_facets())
        coded.append(f"{len(fw.audit_leaves())} {fw.audit.items}" + (f" and {also}" if also else "")
                     + (f" of {fw.cite}" if fw.cite else "") + ("" if not several else f" ({fw.name['en']})"))
    splits = _strength_splits(tables)
    frameworks = []
    for k, fw in enumerate(taxonomy.parts):
        ranked, lacking = _lacking(tables, fw)
        frameworks.append({
            **_framework(fw, _sfx(fw, taxonomy)), "name": fw.name["en"], "name_zh": fw.name["zh"],
            "glance": _glance(tables, fw, ranked, lacking), "ranking": _ranking_table(tables, fw),
            "heatmaps": _heatmaps(tables, fw, ranked, lacking, ids, splits),
            "lacking": _lacking_table(tables, ranked, lacking),
            # the undated documents are listed once, after the last framework's view over time
            "temporal": _temporal(tables, ranked, fw, list_undated=k == len(taxonomy.parts) - 1),
            "gaps": _gap_list(tables, fw, ranked, evidence, ids)})
    body = HTML.get_template("report.html.j2").render(
        # the template ends the sentence: a citation ending on its own period (Liu et al.) keeps just that one
        title=taxonomy.title, n_regions=n_regions, version=taxonomy.version, coded="; ".join(coded).removesuffix("."),
        counts={"ingested": counts.get("ingested", 0), "files": counts.get("files", 0),
                "failed": counts.get("failed", 0), "skipped": counts.get("skipped", 0),
                "duplicates": counts.get("duplicate_of", 0)},
        unread=unread_regions_line(tables),
        human_coding=human_coding_line(tables), model=counts.get("model", ""), several=several, frameworks=frameworks,
        heat_legend=[_bin_label(lo, hi) for lo, hi in DOC_BINS],
        crosstab=_crosstab_view(tables, taxonomy) if several else None,
        evidence=_evidence_sections(tables, taxonomy, evidence, ids))
    return _render_html("Policy coverage and gap audit", CSS, body, JS, "page")
