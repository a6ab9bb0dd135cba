import json

import pandas as pd

from pipeline.aggregate import aggregate, mark_terms
from pipeline.taxonomy import load_taxonomy

from conftest import ROOT


def _tables():
    docs = pd.DataFrame({
        "doc_id": ["a.md", "b.md", "c.md"], "region": ["R1", "R1", "R2"], "region_name": ["One", "One", "Two"],
        "lang": ["zh"] * 3, "title": ["A", "B", "C"], "date": ["2010-01-01", "2015-05-05", ""],
    })
    passages = pd.DataFrame({
        "passage_id": ["a.md#1", "a.md#2", "b.md#1", "c.md#1"], "doc_id": ["a.md", "a.md", "b.md", "c.md"],
        "kind": ["article"] * 4, "label": ["第一条", "第二条", "第一条", "第一条"], "heading_path": [""] * 4,
        "start": [0, 10, 0, 0], "text": ["建设孵化器。", "设立中试基地。", "孵化器和中试基地。", "无关条文。"],
        "region": ["R1", "R1", "R1", "R2"],
    })
    ev = lambda t, s, e: json.dumps([{"term": t, "start": s, "end": e, "rule": "term"}], ensure_ascii=False)
    labels = pd.DataFrame({
        "passage_id": ["a.md#1", "a.md#2", "a.md#2", "b.md#1", "b.md#1"],
        "doc_id": ["a.md", "a.md", "a.md", "b.md", "b.md"], "region": ["R1"] * 5,
        "node": ["model.incubator", "measure.transformation.pilot_base", "measure.transformation",
                 "model.incubator", "measure.transformation.pilot_base"],
        "score": [1.0, 1.0, 1.0, 0.9, 1.0], "source": ["lexicon", "lexicon", "rollup", "lexicon", "lexicon"],
        "evidence": [ev("孵化器", 2, 5), ev("中试基地", 2, 6), "[]", ev("孵化器", 0, 3), ev("中试基地", 4, 8)],
        "content_hash": ["h"] * 5,
    })
    return docs, passages, labels


def test_coverage_tables_and_gaps():
    tax = load_taxonomy(ROOT / "taxonomy")
    t = aggregate(*_tables(), tax)
    wide = t["coverage_region"].set_index("region")
    assert list(wide.index) == ["R1", "R2"]
    assert set(n.id for n in tax.nodes) <= set(wide.columns)
    assert wide.loc["R1", "model.incubator"] == 2 and wide.loc["R2", "model.incubator"] == 0
    assert wide.loc["R1", "documents"] == 2 and wide.loc["R2", "documents"] == 1
    long = t["coverage_region_long"].set_index(["region", "node"])
    assert long.loc[("R1", "measure.transformation.pilot_base"), "passages"] == 2
    assert long.loc[("R1", "model.incubator"), "share"] == 1.0
    gaps = t["gaps"].set_index(["region", "node"])
    hit = gaps.loc[("R1", "measure.transformation.pilot_base")]
    assert hit["addressed"] and hit["evidence_article"] == "第二条" and "【中试基地】" in hit["evidence_passage"]
    miss = gaps.loc[("R2", "measure.transformation.pilot_base")]
    assert not miss["addressed"] and miss["recommendation"]
    assert gaps.loc[("R1", "measure.ip.legal"), "regions_lacking"] == 2
    doc = t["coverage_document"].set_index("doc_id")
    assert doc.loc["a.md", "model.incubator"] == 1 and doc.loc["c.md", "model.incubator"] == 0
    first = t["first_year"].set_index(["region", "node"])
    assert first.loc[("R1", "model.incubator"), "first_year"] == 2010
    by_year = t["coverage_by_year"]
    row = by_year[(by_year.region == "R1") & (by_year.year == 2012) & (by_year.node == "model.incubator")].iloc[0]
    assert (row.documents_in_force, row.documents_addressing) == (1, 1)
    assert t["region_ranking"].iloc[0]["region"] == "R1"


def test_mark_terms_merges_overlaps():
    ev = [{"start": 0, "end": 2}, {"start": 1, "end": 4}, {"start": 6, "end": 7}]
    assert mark_terms("abcdefgh", ev) == "【abcd】ef【g】h"


def test_coded_passages_one_row_per_labelled_passage():
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _tables()
    coded = aggregate(docs, passages, labels, tax)["coded_passages"].set_index("passage_id")
    assert sorted(coded.index) == ["a.md#1", "a.md#2", "b.md#1"]  # c.md#1 carries no label
    b = coded.loc["b.md#1"]
    assert b["doc_id"] == "b.md" and b["title"] == "B" and b["region"] == "R1" and b["region_name"] == "One"
    assert b["date"] == "2015-05-05" and b["citation"] == "第一条" and b["text"] == "孵化器和中试基地。"
    nodes = b["labels"].split("; ")
    assert sorted(nodes) == ["measure.transformation.pilot_base", "model.incubator"]
    assert b["label_names_en"].split("; ") == [tax.by_id[n].name["en"] for n in nodes]
    assert b["label_names_zh"].split("; ") == [tax.by_id[n].name["zh"] for n in nodes]
    assert b["score"] == 1.0 and sorted(b["scores"].split("; ")) == ["0.90", "1.00"]
    assert sorted(b["matched_terms"].split("; ")) == ["中试基地", "孵化器"]
    assert coded.loc["a.md#2", "groups"] == "measure.transformation"  # the roll-up is not a row of its own
    assert coded.loc["a.md#1", "groups"] == ""


def test_overlapping_fragments_are_shown_once_longest_first():
    from pipeline.aggregate import fragments

    text = "合作各方因履行协议产生争议的，合作各方可以协商解决。"
    ev = [{"term": "合作各方", "start": 0, "end": 4, "rule": "term"},
          {"term": "合作各方因履行", "start": 0, "end": 7, "rule": "term"},
          {"term": "合作各方", "start": 15, "end": 19, "rule": "term"},
          {"term": "协商", "start": 21, "end": 23, "rule": "term"},
          {"term": "measure.benefit", "start": -1, "end": -1, "rule": "leaf"},
          {"term": "各方", "start": -1, "end": -1, "rule": "model"}]
    assert fragments(text, ev) == ["合作各方因履行", "合作各方", "协商"]


def test_long_tables_name_their_nodes_in_both_languages():
    tax = load_taxonomy(ROOT / "taxonomy")
    t = aggregate(*_tables(), tax)
    for name in ("coverage_region_long", "coverage_document_long", "gaps", "first_year", "coverage_by_year"):
        df = t[name]
        cols = list(df.columns)
        assert cols[cols.index("node") + 1: cols.index("node") + 3] == ["node_name", "node_name_zh"], name
        for r in df.head(20).itertuples(index=False):
            assert (r.node_name, r.node_name_zh) == (tax.by_id[r.node].name["en"], tax.by_id[r.node].name["zh"])


def test_gap_audit_shows_the_passages_a_person_coded_with_a_node_the_run_did_not_find():
    """R2 has no passage labelled pilot_base, but a coder gave it to c.md#1 (twice, by two coders: counted once);
    a coded passage of a document outside the corpus counts nowhere."""
    from pipeline.coded import coder_cells

    docs, passages, labels = _tables()
    store = [{"id": "c.md#1", "coder": "ann", "labels": ["model.incubator"], "text": "x"},
             {"id": "c.md#1", "coder": "ann", "labels": ["measure.transformation.pilot_base"], "text": "x"},  # latest
             {"id": "c.md#1", "coder": "bob", "labels": ["measure.transformation.pilot_base"], "text": "x"},
             {"id": "elsewhere.md#1", "coder": "ann", "labels": ["measure.transformation.pilot_base"], "text": "x"}]
    tax = load_taxonomy(ROOT / "taxonomy")
    assert coder_cells(store, docs).values.tolist() == [["R2", "measure.transformation.pilot_base", 1]]
    # with the taxonomy, the leaf's measure group counts the passage too
    cells = coder_cells(store, docs, tax)
    assert cells.values.tolist() == [["R2", "measure.transformation", 1], ["R2", "measure.transformation.pilot_base", 1]]
    gaps = aggregate(docs, passages, labels, tax, person_coded=cells)["gaps"].set_index(["region", "node"])
    row = gaps.loc[("R2", "measure.transformation.pilot_base")]
    assert not row["addressed"] and row["coder_passages"] == 1
    assert gaps.loc[("R2", "measure.transformation"), "coder_passages"] == 1
    assert gaps["coder_passages"].sum() == 2


def _versions():
    """Region R: a regulation in 2007 addressing two measures, its 2024 version (the title written with a
    space and a bracketed date) addressing one; a version of another regulation in 2010 superseded in 2010."""
    docs = pd.DataFrame({
        "doc_id": ["v1.md", "v2.md", "o1.md", "o2.md"], "region": "R", "region_name": "R", "lang": "zh",
        "title": ["上海市促进农业科技进步若干规定", "上海市促进农业科技进步 若干规定(2024-11-28)", "另一条例", "另一条例"],
        "date": ["2007-10-10", "2024-11-28", "2010-01-01", "2010-06-01"]})
    passages = pd.DataFrame({
        "passage_id": [f"{d}#1" for d in docs["doc_id"]], "doc_id": docs["doc_id"], "kind": "article",
        "label": "第一条", "heading_path": "", "start": 0, "text": "建设中试基地，保护知识产权。", "region": "R"})
    hits = [("v1.md", "measure.transformation.pilot_base"), ("v1.md", "measure.ip.legal"),
            ("v2.md", "measure.transformation.pilot_base"), ("o1.md", "measure.ip.legal")]
    labels = pd.DataFrame({"passage_id": [f"{d}#1" for d, _ in hits], "doc_id": [d for d, _ in hits], "region": "R",
                           "node": [n for _, n in hits], "score": 1.0, "source": "lexicon", "evidence": "[]",
                           "content_hash": "h"})
    return docs, passages, labels


def test_documents_in_force_count_the_latest_version_of_each_regulation():
    t = aggregate(*_versions(), load_taxonomy(ROOT / "taxonomy"))
    by = t["coverage_by_year"].set_index(["year", "node"])
    in_force = by["documents_in_force"].groupby("year").first()
    # 2007: v1; 2010: v1 and the other regulation's June version (its January one was superseded that year);
    # 2024: v2 replaces v1
    assert (in_force[2007], in_force[2009], in_force[2010], in_force[2023], in_force[2024]) == (1, 1, 2, 2, 2)
    assert by.loc[(2023, "measure.ip.legal"), "documents_addressing"] == 1  # v1; o1 never in force
    assert by.loc[(2024, "measure.ip.legal"), "documents_addressing"] == 0  # v2 dropped it
    assert by.loc[(2024, "measure.transformation.pilot_base"), "documents_addressing"] == 1
    first = t["first_year"].set_index("node")
    assert first.loc["measure.ip.legal", "first_year"] == 2007  # the first year stays the first version's


def test_a_region_is_named_by_the_name_any_of_its_documents_gives():
    """A manifest that names a region on one of its rows only (the others' cells left empty, so those documents
    carry the region code) names the region everywhere, whichever row comes first."""
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _tables()
    docs["region_name"] = ["R1", "One", "Two"]
    t = aggregate(docs, passages, labels, tax)
    for name in ("region_ranking", "coverage_region", "coded_passages"):
        got = t[name].drop_duplicates("region").set_index("region")["region_name"]
        assert got["R1"] == "One", name
    assert set(t["coded_passages"].query("region == 'R1'")["region_name"]) == {"One"}


def test_coded_passages_cite_a_traditional_document_as_written():
    """coded_passages.csv gave a Taiwan regulation's passage the citation it was coded with (第一条) beside its title
    as written (臺東縣…條例), while gaps.csv cited the same passage 第一條: the citation was nowhere in the document."""
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _tables()
    passages = passages.assign(text_original=["建設孵化器。", "", "孵化器和中試基地。", ""],
                               label=["第一条", "第二条", "第 2-1 条", "第一条"])
    passages.loc[0, "text"], passages.loc[2, "text"] = "第一条建设孵化器。", "第 2-1 条孵化器和中试基地。"
    passages.loc[0, "text_original"], passages.loc[2, "text_original"] = "第一條建設孵化器。", "第 2-1 條孵化器和中試基地。"
    t = aggregate(docs, passages, labels, tax)
    coded = t["coded_passages"].set_index("passage_id")
    assert coded.loc["a.md#1", "citation"] == "第一條" and coded.loc["b.md#1", "citation"] == "第 2-1 條"
    assert coded.loc["a.md#2", "citation"] == "第二条"  # a document coded as written is cited as coded
    long = t["coverage_document_long"].set_index(["doc_id", "node"])
    assert long.loc[("a.md", "model.incubator"), "evidence_article"] == coded.loc["a.md#1", "citation"]


def test_the_first_document_of_a_year_is_the_earliest_dated_one():
    """Two documents of one year address a node: first_year.csv named the one whose path sorts first (a notice of
    November) rather than the one dated first (a regulation of February), so "first addressed in 2021 by …"
    named the wrong document."""
    docs, passages, labels = _versions()
    docs["date"] = ["2021-11-20", "2021-02-01", "2008-01-01", "2009-01-01"]
    docs["title"] = ["甲通知", "乙条例", "另一条例", "另一条例"]
    first = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["first_year"].set_index("node")
    assert first.loc["measure.transformation.pilot_base", ["first_year", "first_doc"]].tolist() == [2021, "v2.md"]
    assert first.loc["measure.ip.legal", ["first_year", "first_doc"]].tolist() == [2008, "o1.md"]


def test_first_year_says_the_date_and_where_it_came_from():
    """"Region R first addressed the node in 2008" rests on one document's date, which may come from the manifest,
    the file name or a sentence of the text: first_year.csv gave the year and the document but neither the date
    nor its source, which are what a reader checks."""
    docs, passages, labels = _versions()
    docs["date_source"] = ["filename", "manifest", "text:通过", "text:施行"]
    first = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["first_year"].set_index("node")
    assert list(first.columns[:5]) == ["region", "node_name", "node_name_zh", "first_year", "first_doc"]
    assert first.loc["measure.ip.legal", ["first_year", "first_doc", "first_date", "date_source"]].tolist() == [
        2007, "v1.md", "2007-10-10", "filename"]
    # the report's first-year cell says it too
    from pipeline import report

    tables = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))
    page = report.report_html(tables, load_taxonomy(ROOT / "taxonomy"), report.evidence_index(tables["evidence"]),
                              {"files": 4, "ingested": 4})
    assert "first in 上海市促进农业科技进步若干规定 (2007-10-10, date from filename)" in page


def test_versions_titled_with_their_revision_are_one_regulation():
    """Law databases title a revised version "…条例(2015修正)" or "…条例（2021年修订）", and a text copied from them
    keeps it as its first line: each version was taken for a regulation of its own, so in 2021 the 2008 original,
    the 2015 and the 2021 versions were all "in force" and what only the original addressed counted to this day."""
    from pipeline.aggregate import regulation

    assert {regulation(t, "x") for t in ("浙江省技术市场条例", "浙江省技术市场条例(2015修正)", "浙江省技术市场条例（2021年修订）",
                                         "浙江省技术市场条例（2019修正本）", "浙江省技术市场条例 (2024-11-28)")} == {"浙江省技术市场条例"}
    assert regulation("关于修改《浙江省技术市场条例》的决定", "x") != regulation("浙江省技术市场条例", "x")
    docs, passages, labels = _versions()
    docs["title"] = ["某条例", "某条例(2024修正)", "另一条例（2010年修订）", "另一条例"]
    docs["date"] = ["2007-10-10", "2024-11-28", "2010-01-01", "2010-06-01"]
    by = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["coverage_by_year"]
    in_force = by.groupby("year")["documents_in_force"].first()
    assert (in_force[2009], in_force[2010], in_force[2024]) == (1, 2, 2)


def test_first_year_keeps_what_only_undated_documents_address():
    """first_year.csv had no row for a node a region addresses only in undated documents, so a pivot of it read
    "never addressed" where the ranking, the gap audit and report.html's "undated" cell say addressed; and a row
    did not say that undated documents, which may be older, address the node too. Such a node now has a row
    without a year, naming an undated document, and every row counts the region's undated documents addressing
    it."""
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _versions()
    docs["date"] = ["2007-10-10", "", "2010-01-01", ""]  # v2 and o2 undated
    labels = pd.concat([labels, labels[labels["doc_id"] == "v1.md"].assign(
        doc_id="o2.md", passage_id="o2.md#1", node="model.incubator")], ignore_index=True)
    first = aggregate(docs, passages, labels, tax)["first_year"].set_index("node")
    assert first.loc["measure.transformation.pilot_base", ["first_year", "first_doc", "undated_documents"]].tolist() \
        == [2007, "v1.md", 1]
    assert first.loc["measure.ip.legal", "undated_documents"] == 0
    row = first.loc["model.incubator"]
    assert pd.isna(row["first_year"]) and row["first_doc"] == "o2.md" and row["first_date"] == ""
    assert row["undated_documents"] == 1
    # the report's first-year table still reads "undated" there
    from pipeline import report

    tables = aggregate(docs, passages, labels, tax)
    md = report.report_md(tables, tax, {"files": 4, "ingested": 4})
    assert "## First year each region addressed each recommendation" in md


def test_the_gap_audit_says_what_only_superseded_versions_address():
    """A recommendation only a regulation's 2007 version addressed read "addressed" in gaps.csv, with that version
    as evidence, though the version in force (2024) dropped it: a researcher auditing today's policy misread it.
    The addressed column keeps counting every version; beside it, whether the documents in force now (of each
    regulation its latest version; undated ones too) address the node, and which superseded versions alone do."""
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _versions()
    # an undated notice counts as in force
    docs = pd.concat([docs, docs.iloc[[0]].assign(doc_id="u.md", title="某通知", date="")], ignore_index=True)
    passages = pd.concat([passages, passages.iloc[[0]].assign(doc_id="u.md", passage_id="u.md#1")], ignore_index=True)
    labels = pd.concat([labels, labels[labels["doc_id"] == "v1.md"].iloc[[0]].assign(
        doc_id="u.md", passage_id="u.md#1", node="model.incubator")], ignore_index=True)
    t = aggregate(docs, passages, labels, tax)
    gaps = t["gaps"].set_index(["region", "node"])
    legal = gaps.loc[("R", "measure.ip.legal")]
    assert legal["addressed"] and legal["documents"] == 2  # as before: every version counts
    assert not legal["addressed_in_force"] and legal["documents_in_force_addressing"] == 0
    assert legal["superseded_only"] == "上海市促进农业科技进步若干规定, 2007; 另一条例, 2010"
    assert legal["no_longer_in_force"] == "superseded"
    pilot = gaps.loc[("R", "measure.transformation.pilot_base")]
    assert pilot["addressed_in_force"] and pilot["documents_in_force_addressing"] == 1 and pilot["superseded_only"] == pilot["no_longer_in_force"] == ""
    incubator = gaps.loc[("R", "model.incubator")]
    assert incubator["addressed_in_force"] and incubator["superseded_only"] == ""
    miss = gaps.loc[("R", "measure.ip.system")]
    assert not miss["addressed"] and not miss["addressed_in_force"] and miss["superseded_only"] == ""
    long = t["coverage_region_long"].set_index(["region", "node"])
    assert long.loc[("R", "measure.ip.legal"), "documents_in_force_addressing"] == 0
    assert long.loc[("R", "measure.transformation.pilot_base"), "documents_in_force_addressing"] == 1

    from pipeline import report

    md = report.report_md(t, tax, {"files": 4, "ingested": 4})
    said = "addressed only by superseded versions (上海市促进农业科技进步若干规定, 2007; 另一条例, 2010)"
    assert said in md and said in report.summary_md(t, tax, {"files": 4, "ingested": 4})
    assert md.count("addressed only by superseded versions") == 2  # the summary's line and the audit's
    page = report.report_html(t, tax, report.evidence_index(t["evidence"]), {"files": 4, "ingested": 4})
    assert said in page


def test_evidence_of_a_node_the_documents_in_force_address_is_theirs():
    """A measure both versions of a regulation address was shown by the superseded version's article (its 第三条),
    under the regulation's title alone, where the version in force numbers it otherwise (第四条; its 第三条 is
    another measure): a researcher quoting the report cited the law in force wrongly. The evidence of a node the
    documents in force address comes from them; only a node superseded versions alone address is shown in theirs."""
    docs, passages, labels = _versions()
    passages.loc[passages["doc_id"] == "v2.md", "label"] = "第四条"
    labels.loc[labels["doc_id"] == "v2.md", "score"] = 0.6  # the old version's article scores higher
    gaps = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["gaps"].set_index(["region", "node"])
    pilot = gaps.loc[("R", "measure.transformation.pilot_base")]
    assert (pilot["evidence_doc"], pilot["evidence_article"]) == ("v2.md", "第四条")
    assert gaps.loc[("R", "measure.ip.legal"), "evidence_doc"] in ("v1.md", "o1.md")  # superseded alone: said so
    # report.html's gap list quotes the same article
    from pipeline import report

    passages.loc[passages["doc_id"] == "v2.md", "text"] = "第四条 建设中试熟化基地。"
    t = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))
    page = report.report_html(t, load_taxonomy(ROOT / "taxonomy"), report.evidence_index(t["evidence"]),
                              {"files": 4, "ingested": 4})
    gap_list = page[page.index('id="gaps"'):]
    assert "建设中试熟化基地" in gap_list[:gap_list.index("</table>")]


def test_versions_titled_in_traditional_and_simplified_are_one_regulation():
    """A law's 2021 version titled as Taiwan writes it (乙市產學合作條例) and its revision titled in Simplified
    (乙市产学合作条例, as a manifest typed on the mainland gives it) were two regulations: both stayed in force, so
    what the revision dropped read as addressed in force, and coverage_by_year counted one document too many.
    Titles are compared in Simplified, as the documents are coded; a revision label in Traditional (（2024年修訂）)
    is dropped as one in Simplified is."""
    from pipeline.aggregate import regulation

    assert regulation("乙市產學合作條例", "a") == regulation("乙市产学合作条例", "b") == regulation("乙市產學合作條例（2024年修訂）", "c")
    docs, passages, labels = _versions()
    docs["title"] = ["上海市促進農業科技進步若干規定", "上海市促进农业科技进步若干规定", "另一条例", "另一条例"]
    gaps = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["gaps"].set_index(["region", "node"])
    legal = gaps.loc[("R", "measure.ip.legal")]
    assert not legal["addressed_in_force"] and legal["superseded_only"].startswith("上海市促進農業科技進步若干規定, 2007")


def test_every_year_of_a_region_has_a_row_for_every_node():
    """A year in which a region's documents in force address a node had no row: a node's share plotted over the
    years had holes, or a line drawn across years where it was 0 (as for the measure the 2024 version dropped)."""
    tax = load_taxonomy(ROOT / "taxonomy")
    docs, passages, labels = _versions()
    docs = pd.concat([docs, pd.DataFrame({"doc_id": ["s1.md"], "region": "S", "region_name": "S", "lang": "zh",
                                          "title": ["某通知"], "date": ["2015-03-01"]})], ignore_index=True)
    t = aggregate(docs, passages, labels, tax)
    by = t["coverage_by_year"]
    nodes = [n.id for n in tax.nodes]
    # from the region's first dated document to the last year any document is dated; S's addresses nothing
    for region, years in (("R", range(2007, 2025)), ("S", range(2015, 2025))):
        got = by[by["region"] == region]
        assert sorted(set(zip(got["year"], got["node"]))) == sorted((y, n) for y in years for n in nodes), region
    r = by.set_index(["region", "year", "node"])
    assert tuple(r.loc[("R", 2024, "measure.ip.legal"), ["documents_in_force", "documents_addressing", "share"]]) \
        == (2, 0, 0)
    assert r.loc[("S", 2020, "model.incubator"), "documents_in_force"] == 1


def test_coverage_by_year_names_the_documents_addressing_a_node():
    """coverage_by_year.csv counted the documents in force addressing a node in a year without naming them: a
    reader could not check a cell against the documents."""
    t = aggregate(*_versions(), load_taxonomy(ROOT / "taxonomy"))
    by = t["coverage_by_year"].set_index(["year", "node"])["documents_addressing_ids"]
    assert by[(2023, "measure.ip.legal")] == "v1.md"  # o1, superseded within its year, was never in force
    assert by[(2024, "measure.ip.legal")] == ""  # v2 dropped it
    assert by[(2023, "measure.transformation.pilot_base")] == "v1.md"
    assert by[(2024, "measure.transformation.pilot_base")] == "v2.md"
    rows = t["coverage_by_year"]
    assert (rows["documents_addressing_ids"].map(lambda s: len(s.split("; ")) if s else 0)
            == rows["documents_addressing"]).all()


def _repealed():
    """_versions's region R, with a measure only 某转化办法 (2012) addresses, repealed on 2019-06-30; an undated notice
    addressing another measure alone, repealed in 2020; and 另一条例's June 2010 version repealed in 2025, after the
    last year any document is dated."""
    docs, passages, labels = _versions()
    docs["repealed"] = ["", "", "", "2025"]
    docs = pd.concat([docs, pd.DataFrame({"doc_id": ["r.md", "u.md"], "region": "R", "region_name": "R", "lang": "zh",
                                          "title": ["某转化办法", "某通知"], "date": ["2012-03-01", ""],
                                          "repealed": ["2019-06-30", "2020"]})], ignore_index=True)
    passages = pd.concat([passages, passages.iloc[[0, 0]].assign(doc_id=["r.md", "u.md"],
                                                                 passage_id=["r.md#1", "u.md#1"])], ignore_index=True)
    labels = pd.concat([labels, labels.iloc[[0, 0]].assign(
        doc_id=["r.md", "u.md"], passage_id=["r.md#1", "u.md#1"],
        node=["measure.benefit.contribution", "model.incubator"])], ignore_index=True)
    return docs, passages, labels


def test_a_repealed_document_is_not_in_force_from_its_repeal_year_on():
    """A regulation repealed in 2019 (废止) was counted in force today and in every year after 2019: what only it
    addressed read as addressed in force in gaps.csv, and coverage_by_year counted it. The manifest's `repealed`
    ends its years in force as a next version does: from its repeal year on it is not counted, and the table
    runs on to the last repeal year, so that a repeal after the last dated document shows too."""
    t = aggregate(*_repealed(), load_taxonomy(ROOT / "taxonomy"))
    by = t["coverage_by_year"].set_index(["year", "node"])
    node = "measure.benefit.contribution"
    assert tuple(by.loc[(2018, node), ["documents_in_force", "documents_addressing", "share",
                                       "documents_addressing_ids"]]) == (3, 1, 0.3333, "r.md")
    assert tuple(by.loc[(2019, node), ["documents_in_force", "documents_addressing", "share",
                                       "documents_addressing_ids"]]) == (2, 0, 0.0, "")
    assert by.loc[(2024, node), "documents_in_force"] == 2  # v2 and 另一条例
    assert by.loc[(2025, node), "documents_in_force"] == 1  # 另一条例 repealed
    assert by.index.get_level_values("year").max() == 2025
    gaps = t["gaps"].set_index(["region", "node"])
    row = gaps.loc[("R", node)]
    assert row["addressed"] and row["documents"] == 1  # every document counts, as the ranking does
    assert not row["addressed_in_force"] and row["documents_in_force_addressing"] == 0
    assert row["superseded_only"] == "某转化办法, 2012, repealed 2019" and row["no_longer_in_force"] == "repealed"
    incubator = gaps.loc[("R", "model.incubator")]  # the undated notice: in force until repealed
    assert not incubator["addressed_in_force"] and incubator["superseded_only"] == "某通知, repealed 2020"
    assert gaps.loc[("R", "measure.transformation.pilot_base"), "addressed_in_force"]
    long = t["coverage_region_long"].set_index(["region", "node"])
    assert long.loc[("R", node), "documents_in_force_addressing"] == 0
    assert t["region_ranking"].set_index("region").loc["R", "documents"] == 6


def test_a_repeal_and_a_next_version_end_a_version_at_the_earlier_of_the_two():
    """A version repealed before its regulation's next version is out of force from its repeal; one repealed after
    it, from the next version, as before."""
    docs, passages, labels = _versions()
    docs["repealed"] = ["2015", "", "", ""]  # v1 (2007), superseded by v2 in 2024
    by = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["coverage_by_year"]
    by = by.set_index(["year", "node"])["documents_addressing_ids"]
    assert by[(2014, "measure.ip.legal")] == "v1.md" and by[(2015, "measure.ip.legal")] == ""
    assert by[(2023, "measure.transformation.pilot_base")] == "" and by[(2024, "measure.transformation.pilot_base")] == "v2.md"
    docs["repealed"] = ["2025", "", "", ""]
    t = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))
    by = t["coverage_by_year"].set_index(["year", "node"])["documents_addressing_ids"]
    assert by[(2023, "measure.ip.legal")] == "v1.md" and by[(2024, "measure.ip.legal")] == ""


def test_a_version_superseded_before_its_repeal_is_named_superseded():
    """A regulation whose every version the manifest marks repealed in 2025: its 2007 version, which the 2024
    version superseded first, was named "repealed 2025" beside what only it addressed, though the repeal is not
    why it is out of force. It is named as superseded; a version its repeal ended (in the year of the next one
    or before) as repealed."""
    docs, passages, labels = _versions()
    docs["repealed"] = ["2025", "2025", "", ""]
    gaps = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["gaps"].set_index(["region", "node"])
    assert gaps.loc[("R", "measure.ip.legal"), "superseded_only"] == "上海市促进农业科技进步若干规定, 2007; 另一条例, 2010"
    pilot = gaps.loc[("R", "measure.transformation.pilot_base")]
    assert not pilot["addressed_in_force"] and pilot["superseded_only"] == (
        "上海市促进农业科技进步若干规定, 2007; 上海市促进农业科技进步 若干规定(2024-11-28), 2024, repealed 2025")
    docs["repealed"] = ["2024", "", "", ""]  # repealed in the year the next version came: named as repealed
    gaps = aggregate(docs, passages, labels, load_taxonomy(ROOT / "taxonomy"))["gaps"].set_index(["region", "node"])
    assert gaps.loc[("R", "measure.ip.legal"), "superseded_only"] == (
        "上海市促进农业科技进步若干规定, 2007, repealed 2024; 另一条例, 2010")


def test_the_reports_say_what_only_repealed_documents_address():
    """summary.md, report.md and report.html said "addressed only by superseded versions (…)" beside a node only
    documents no longer in force address: they name a repealed document as repealed, and a superseded version
    as superseded."""
    from pipeline import report

    tax = load_taxonomy(ROOT / "taxonomy")
    t = aggregate(*_repealed(), tax)
    counts = {"files": 6, "ingested": 6}
    md, summary = report.report_md(t, tax, counts), report.summary_md(t, tax, counts)
    page = report.report_html(t, tax, report.evidence_index(t["evidence"]), counts)
    repealed = "addressed only by repealed documents (某转化办法, 2012, repealed 2019)"
    superseded = "addressed only by superseded versions (上海市促进农业科技进步若干规定, 2007; 另一条例, 2010)"
    for text in (md, summary, page):
        assert repealed in text and superseded in text
    assert "superseded versions (某转化办法" not in md + summary + page
    docs, passages, labels = _repealed()
    docs.loc[docs["doc_id"] == "v1.md", "repealed"] = "2015"  # ip.legal: v1 repealed, o1 superseded
    t = aggregate(docs, passages, labels, tax)
    both = ("addressed only by superseded versions and repealed documents "
            "(上海市促进农业科技进步若干规定, 2007, repealed 2015; 另一条例, 2010)")
    assert both in report.summary_md(t, tax, counts) and both in report.report_md(t, tax, counts)


def test_coverage_document_says_which_documents_were_repealed():
    """coverage_document.csv lists every document with its date and where the date came from, but not the repeal
    the manifest gave: a researcher could not check which documents the run took as repealed (a refused value is
    not one) without opening documents.parquet."""
    doc = aggregate(*_repealed(), load_taxonomy(ROOT / "taxonomy"))["coverage_document"].set_index("doc_id")
    assert list(doc.columns[:4]) == ["region", "title", "date", "repealed"]
    assert doc["repealed"].to_dict() == {"v1.md": "", "v2.md": "", "o1.md": "", "o2.md": "2025", "r.md": "2019-06-30",
                                         "u.md": "2020"}
