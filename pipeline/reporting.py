"""The aggregate and report stages as commands on an output folder: what they read from the per-document tables
(through the part caches, so an incremental run opens only changed parts), the workbook written by a second
process, the evidence pages, and the fingerprint that lets a run keep reports whose inputs did not change.
The coverage tables and reports of a run are published as one set."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import aggregate as aggregate_mod
from . import nodes
from . import report as report_mod
from . import workbook as workbook_mod
from .catalog import CROSSTAB, REPORT_FILES, Catalog, coverage_tables
from .classify import coded_store_paths, model_said
from .io import (ChunkedTable, PartCache, active_publication, after_publication, part_files, publish_file, publishing,
                 read_parts, write_json, write_text)
from .coded import coder_cells, follow_codings, human_coding, passage_doc, store_records
from .compare import compare_cli, made_here
from .engine import Helper
from .runlog import record, stage_entry
from .schemas import DOCUMENT_META, DOCUMENTS, LABELS, PASSAGES, check
from .segment import CONTENT_KINDS
from .strength import load_strength
from .taxonomy import load_taxonomy


def reporting_inputs(out: Path, saves: list | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                                                     pd.Series]:
    """(documents, evidence passages, labels, content passages per region) for aggregation: no document text,
    and passages only where they are labelled, so memory does not grow with the corpus.

    What is read from each part is also kept in --out/cache, one file per table, so the next run reads only
    the parts that changed (a stage table has one part per chunk of documents: opening them all is most of the
    cost when few changed)."""
    catalog = Catalog(out)
    for t in (DOCUMENTS, PASSAGES, LABELS):
        catalog.require(t.name)
    docs, labels = documents_and_labels(out, saves)
    converted = docs.filter(pc.fill_null(docs["converted_t2s"], False))["doc_id"].to_pylist()
    evidence, counts = evidence_passages(out, labels, saves, frozenset(converted))
    return docs.to_pandas(), evidence, check(labels.to_pandas(), LABELS), counts


def documents_and_labels(out: Path, saves: list | None = None) -> tuple[pa.Table, pa.Table]:
    """The documents' metadata and the labels, through their read caches (see read_parts for `saves`)."""
    catalog = Catalog(out)
    docs, _ = read_parts(DOCUMENTS, part_files(catalog.path("documents")), list(DOCUMENT_META),
                         catalog.cache("documents"), saves)
    labels, _ = read_parts(LABELS, part_files(catalog.path("labels")), list(LABELS.columns), catalog.cache("labels"),
                           saves)
    return docs, labels


def evidence_passages(out: Path, labels: pa.Table, saves: list | None = None,
                      converted: frozenset = frozenset()) -> tuple[pd.DataFrame, pd.Series]:
    """The labelled passages (whole rows), with the headings of the `converted` (Traditional-Chinese) documents,
    which name their passages' chapters as written (aggregate.written_headings), and the number of content
    passages per region."""
    catalog = Catalog(out)
    parts = part_files(catalog.path("passages"))
    narrow, part_of = read_parts(PASSAGES, parts, ["passage_id", "kind", "region"], catalog.cache("passages"),
                                 saves)
    content = narrow.filter(pc.is_in(narrow["kind"], value_set=pa.array(sorted(CONTENT_KINDS), pa.string())))
    grouped = content.group_by("region").aggregate([([], "count_all")])
    counts = pd.Series(grouped["count_all"].to_numpy(), index=grouped["region"].to_pylist(), dtype="int64")

    wanted = pc.unique(labels["passage_id"])
    if converted:
        headings = narrow.filter(pc.equal(narrow["kind"], "heading"))["passage_id"].to_pylist()
        wanted = pa.concat_arrays([wanted, pa.array([p for p in headings if p.rpartition("#")[0] in converted],
                                                    pa.string())])
    hit = np.flatnonzero(pc.is_in(narrow["passage_id"], value_set=wanted).to_numpy(zero_copy_only=False))
    by_part: dict[int, list[str]] = {}
    for pid, i in zip(narrow["passage_id"].take(hit).to_pylist(), part_of[hit].tolist()):
        by_part.setdefault(i, []).append(pid)
    # a part's evidence depends on which of its passages are labelled, hence the tag
    store = PartCache(catalog.cache("evidence"), PASSAGES.arrow_schema)
    pieces = [store.rows(parts[i].name, lambda i=i, ids=ids: pq.read_table(parts[i], schema=PASSAGES.arrow_schema)
                         .filter(pc.is_in(pc.field("passage_id"), value_set=pa.array(ids, pa.string()))),
                         tag=hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16])
              for i, ids in sorted(by_part.items())]
    store.save() if saves is None else saves.append(store.save)
    evidence = pa.concat_tables(pieces) if pieces else PASSAGES.arrow_schema.empty_table()
    return check(evidence.to_pandas(), PASSAGES), counts


def cmd_aggregate(args, inputs=None, on_tables=None, saves: list | None = None, fingerprint: str | None = None
                  ) -> tuple:
    """Coverage tables from the tables in --out (or from `inputs`, the same tables already read).
    `on_tables(batch)` gets them as they are computed, before they are written; updating the read caches is
    left to `saves` if given (see read_parts). `fingerprint`: the run's reporting_fingerprint, recorded as what
    the tables were made from (aggregate run alone records none, so the next run makes them again)."""
    out = Path(args.out)
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    inputs = inputs or reporting_inputs(out, saves)
    docs, passages, labels, counts = inputs
    store = current_codings(out, store_records(Path(args.coded)), docs)
    tables = aggregate_mod.aggregate(docs, passages, labels, tax, passage_counts=counts, on_tables=on_tables,
                                     person_coded=coder_cells(store, docs, tax))
    tables["human_coding"] = human_coding(store, docs, labels, tax)
    if on_tables is not None:
        on_tables({"human_coding": tables["human_coding"]})
    catalog = Catalog(out)
    # a comparison of the tables before these would contradict them
    stale = made_here(out)
    with publishing():
        for name, df in tables.items():
            catalog.save(name, df)
        for path in stale:
            path.unlink(missing_ok=True)
        if CROSSTAB not in tables:
            # the frameworks a run crossed before: their crosstab would stand beside tables of other frameworks
            for path in (catalog.path(CROSSTAB, "csv"), catalog.path(CROSSTAB, "parquet")):
                after_publication(lambda path=path: path.unlink(missing_ok=True))
        record(out, "aggregate", time.perf_counter() - t0, counts={k: int(len(v)) for k, v in tables.items()},
               **({"inputs_sha256": fingerprint} if fingerprint else {}))
    regions = len(tables["coverage_region"])
    print(f"aggregate: {regions} region{'s' if regions != 1 else ''} x {len(tax.nodes)} nodes -> "
          f"{catalog.path('coverage_region', 'csv')}", file=sys.stderr)
    if stale:
        print(f"aggregate: removed {len(stale)} comparison(s) made from the coverage tables before these "
              f"({', '.join(p.name for p in stale)}); make compare again for them", file=sys.stderr)
    return tables, inputs


def current_codings(out: Path, store: list[dict], docs: pd.DataFrame) -> list[dict]:
    """The coded store's records of this corpus's passages, each under the id that holds its text now
    (coded.follow_codings)."""
    named, corpus = {passage_doc(r["id"]) for r in store}, set(docs["doc_id"])
    # a document the store names that is not in this corpus may have been renamed or moved: its text would be in
    # a document the store does not name, so those are read too, only then
    read = sorted(named & corpus | (corpus - named if named - corpus else set()))
    if not read:
        return []
    passages = ChunkedTable(PASSAGES, out).arrow_rows_for(read, ["passage_id", "doc_id", "text"]).to_pandas()
    return follow_codings(store, passages.rename(columns={"passage_id": "id"}))


def read_ingest_report(out: Path) -> pd.DataFrame:
    return Catalog(out).load("ingest_report")


class Workbook:
    """coverage.xlsx written by a forked process (openpyxl builds every cell: the slowest report file) on the
    other core, sheet by sheet as this process sends the tables. It writes a hidden file beside the workbook,
    which `wait` publishes with the other outputs."""

    def __init__(self, path: Path, names: dict | None = None, sheets: tuple[str, ...] = workbook_mod.SHEETS,
                 pages: "DocumentPages | None" = None):
        """`pages`: document pages (DocumentPages.for_writer) the writing process makes first, while this
        process computes the tables (the sheets that arrive meanwhile wait for it)."""
        self.path, self.sheets = Path(path), sheets
        self._written = self.path.parent / f".{self.path.name}.written.tmp"
        self._helper = Helper(workbook_mod.serve_xlsx, self._written, sheets, names,
                              pages.make_in_writer if pages is not None else None)
        self._sent: set[str] = set()
        self._done = False
        if pages is not None:
            pages.wait_for = self.wait

    def send(self, tables: dict[str, pd.DataFrame]) -> None:
        """Hand over the sheets among `tables` not sent yet, in one message: the writer takes it at once and
        this process goes on while the sheets are written."""
        batch = {name: tables[name] for name in self.sheets if name in tables and name not in self._sent}
        if not batch:
            return
        try:
            self._helper.send(batch)
        except OSError:  # the writer has stopped: say why
            self._finish()
            raise
        self._sent.update(batch)

    def wait(self) -> None:
        """Wait for the file (every sheet must have been sent); raise if it could not be written."""
        if self._done:  # already waited for (DocumentPages.finish waits for the pages it makes first)
            return
        missing = set(self.sheets) - self._sent
        if missing:
            self.cancel()
            raise ValueError(f"workbook sheets never sent: {', '.join(sorted(missing))}")
        self._finish()
        self._done = True

    def _finish(self) -> None:
        code = self._helper.finish()
        if code != 0:
            self._written.unlink(missing_ok=True)
            # a signal (kill -9, the out-of-memory killer) leaves no error of its own above
            why = (f"the writing process was killed (signal {-code})" if code < 0 else
                   f"the writing process exited with {code}; its error is above")
            raise OSError(0, f"could not be written ({why})", str(self.path))
        publish_file(self._written, self.path)

    def cancel(self) -> None:
        self._helper.finish(timeout=10)  # the writer sees the end of the pipe and exits without writing
        self._written.unlink(missing_ok=True)


def cmd_report(args, tables=None, inputs=None, workbook: Workbook | None = None,
               fingerprint: str | None = None, saves: list | None = None, pages: DocumentPages | None = None
               ) -> None:
    """The report files from the coverage tables in --out (or `tables` and `inputs` from cmd_aggregate, and
    the workbook already being written by `workbook`)."""
    out = Path(args.out)
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    catalog = Catalog(out)
    tables = dict(tables) if tables is not None else {name: catalog.load(name) for name in coverage_tables(tax)}
    rep = read_ingest_report(out)
    tables["ingest_report"] = rep
    workbook = workbook or Workbook(catalog.path("workbook"), workbook_mod.node_names(tax), workbook_mod.sheets_for(tax))
    with publishing():
        try:
            workbook.send(tables)
            counts = rep["status"].value_counts().to_dict()
            counts["files"] = len(rep)
            counts["model"] = labels_made_by(out, [fw.name["en"] for fw in tax.parts])
            write_text(report_mod.summary_md(tables, tax, counts), catalog.path("summary"))
            ranked = tables["evidence"] if "evidence" in tables else catalog.load("evidence")
            write_text(report_mod.report_md(tables, tax, counts), catalog.path("report_md"))
            docs, passages, labels, _ = inputs or reporting_inputs(out)
            evidence = report_mod.evidence_index(ranked)
            write_text(report_mod.report_html(tables, tax, evidence, counts), catalog.path("report_html"))
            for save in saves or ():  # while the workbook (and maybe the document pages) is being written
                save()
            write_companions(out, tax, docs, passages, labels, tables, ranked, pages)
        except BaseException:
            workbook.cancel()
            raise
        workbook.wait()
        record(out, "report", time.perf_counter() - t0, files=list(REPORT_FILES.values()),
                **({"inputs_sha256": fingerprint} if fingerprint else {}))
    print(f"report: {catalog.path('report_html')}, {catalog.path('workbook')}, {catalog.path('summary')}",
          file=sys.stderr)


def labels_made_by(out: Path, frameworks: list[str] | tuple[str, ...] = ()) -> str:
    """Which model made the labels of the run in `out` (run.json's classify entry), in words, each with the
    framework it labelled (`frameworks`: their names) when there are several; "" if not known."""
    model = stage_entry(out, "classify").get("model")
    return model_said(model, frameworks) if isinstance(model, str) else ""


def write_companions(out: Path, tax, docs: pd.DataFrame, passages: pd.DataFrame, labels: pd.DataFrame,
                     tables: dict, ranked: pd.DataFrame, pages: "DocumentPages | None" = None) -> None:
    """report_files/: every cell's evidence passages, and the text of every document with a coded passage.

    A page is made again only when what it shows changed (a cell's evidence; a document's text, metadata and
    labels; the taxonomy's names; this code): `index.json` keeps what each page was made from, so an
    incremental run makes the changed cells' pages and reads the texts of the changed documents alone. Pages
    no longer wanted are removed. `pages`: the document pages, maybe being made by the workbook's writer
    (DocumentPages)."""
    pages = pages or DocumentPages(out, tax, docs, labels)
    try:
        folder, index, code = pages.folder, pages.index, pages.code
        names = dict(zip(tables["region_ranking"]["region"], tables["region_ranking"]["region_name"]))
        for name, shows, make in report_mod.cell_pages(ranked, tax, names, tax.shown_ids()):
            h = code.copy()
            h.update(shows.encode("utf-8"))
            index[name] = h.hexdigest()
            if pages.previous.get(name) != index[name] or not (folder / name).exists():
                write_text(make(), folder / name)
        pages.finish()
    finally:
        pages.close()
    for f in folder.iterdir():
        if f.suffix == ".html" and f.name not in index:
            f.unlink()
    write_json(index, pages.index_path)


class DocumentPages:
    """The document pages of report_files/ that are out of date, being made, and what write_companions needs for
    the cells' pages: the index of what every page was made from (the one kept, `previous`, and the new one,
    `index`) and the code's part of each key.

    Given the documents and labels, this process makes the pages (`finish`). Without them (`for_writer`, in a
    run that changed much), the workbook's writing process makes them first (reading the labels and documents
    itself) while this one computes the coverage tables, and `finish` takes them on, published with this
    process's outputs."""

    def __init__(self, out: Path, tax, docs: pd.DataFrame | None = None, labels: pd.DataFrame | None = None):
        catalog = Catalog(out)
        self.out, self.tax = out, tax
        self.folder, self.index_path = catalog.path("evidence_pages"), catalog.path("evidence_index")
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            previous = json.loads(self.index_path.read_text(encoding="utf-8"))
            self.previous = previous if isinstance(previous, dict) else {}
        except (OSError, ValueError):
            self.previous = {}
        self.code = hashlib.sha256(
            nodes.fingerprint("report", tax.sha256, upstream=(nodes.fingerprint("segment"),)).encode())
        # where the writing process leaves the pages' keys and files (for_writer), and how to wait for it
        self.answer: Path | None = None
        self.wait_for = None
        if docs is None:
            self.index: dict[str, str] = {}  # page -> what it was made from
            self._todo = None
        else:
            self.index, self._todo = self._out_of_date(docs, labels)

    @classmethod
    def for_writer(cls, out: Path, tax) -> "DocumentPages":
        """Pages the workbook's writing process makes (give it to Workbook)."""
        pages = cls(out, tax)
        pages.answer = pages.folder / f".pages.{os.getpid()}.json.tmp"
        return pages

    def _out_of_date(self, docs: pd.DataFrame, labels: pd.DataFrame) -> tuple[dict, tuple]:
        """The keys of the document pages, and what the out-of-date ones are made from: (the documents'
        metadata, [(doc_id, page, its labels)])."""
        index = {}
        leaf = labels[labels["source"] != "rollup"]
        meta_cols = [c for c in ("doc_id", "title", "region", "region_name", "date", "date_source", "lang",
                                 "content_hash") if c in docs.columns]
        meta = aggregate_mod.with_region_names(docs).set_index("doc_id", drop=False)[meta_cols]
        meta_rows = dict(zip(meta.index, meta.values.tolist()))
        shown_rows = leaf[["passage_id", "node", "score", "evidence"]].values.tolist()
        todo: list[tuple[str, str, pd.DataFrame]] = []
        for doc_id, at in sorted(leaf.groupby("doc_id").indices.items()):
            if doc_id not in meta_rows:
                continue
            h = self.code.copy()
            rows = sorted((shown_rows[i] for i in at), key=lambda r: (r[0], r[1]))
            h.update(json.dumps([meta_rows[doc_id], rows], ensure_ascii=False, default=str).encode("utf-8"))
            page, key = report_mod.doc_page_name(doc_id), h.hexdigest()
            index[page] = key
            if self.previous.get(page) != key or not (self.folder / page).exists():
                todo.append((doc_id, page, leaf.iloc[at]))
        return index, (meta, todo)

    def make(self) -> None:
        """Make the out-of-date pages in this process."""
        meta, todo = self._todo
        _write_document_pages(self.out, self.tax, meta, todo, self.folder)
        self._todo = (meta, [])

    def make_in_writer(self) -> None:
        """The writing process's side: read the documents and labels (its own copy: the read caches are the main
        process's to update), make the out-of-date pages as hidden files, and leave their keys and the
        (new file, target) pairs in `answer`, or the error that stopped it."""
        try:
            docs, labels = documents_and_labels(self.out, saves=[])  # the caches are the main process's to save
            index, self._todo = self._out_of_date(docs.to_pandas(), labels.to_pandas())
            with publishing() as pub:
                self.make()
                pairs = pub.hand_over()
            answer = {"index": index, "pairs": [[str(new), str(target)] for new, target in pairs]}
        except Exception:
            answer = {"error": traceback.format_exc()}
        write_json(answer, self.answer, publish=False)

    def finish(self) -> None:
        """Make the pages, or take on those the writing process made, and their keys."""
        if self.answer is None:
            self.make()
            return
        self.wait_for()
        try:
            answer = json.loads(self.answer.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            answer = {"error": "no answer"}
        self.answer.unlink(missing_ok=True)
        if "error" in answer:
            print(answer["error"], file=sys.stderr)
            raise OSError(0, "the document pages could not be made (the error is above)", str(self.folder))
        pub = active_publication()
        for new, target in answer["pairs"]:
            if pub is not None:
                pub.add(Path(new), Path(target))
            else:
                os.replace(new, target)
        self.index.update(answer["index"])
        self.answer = None

    def close(self) -> None:
        """After a failure: remove what the writing process made and left unpublished."""
        if self.answer is None:
            return
        try:
            answer = json.loads(self.answer.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            answer = {}
        for new, _ in answer.get("pairs", ()):
            Path(new).unlink(missing_ok=True)
        self.answer.unlink(missing_ok=True)


def _write_document_pages(out: Path, tax, meta: pd.DataFrame, todo: list, folder: Path) -> None:
    """The pages of the documents in `todo` ((doc_id, page, its labels)): each document's text with its coded
    passages marked."""
    if not todo:
        return
    texts, parts = located(DOCUMENTS, out), located(PASSAGES, out)
    for i in range(0, len(todo), 50):  # a batch of documents at a time: texts are not all held at once
        batch = todo[i:i + 50]
        ids = [d for d, _, _ in batch]
        coded = {d: set(rows["passage_id"]) for d, _, rows in batch}
        text, psg, omitted = _texts_and_passages(texts, parts, ids, coded)
        if set(ids) - set(text) or set(ids) - set(psg):  # recorded positions out of date: look everywhere
            texts, parts = ChunkedTable(DOCUMENTS, out), ChunkedTable(PASSAGES, out)
            text, psg, omitted = _texts_and_passages(texts, parts, ids, coded)
        for doc_id, page, rows in batch:
            t = text.get(doc_id)
            if t is None:
                continue
            write_text(report_mod.document_page(meta.loc[doc_id].to_dict(), t["text"], t["text_original"] or "",
                                                psg.get(doc_id, []), rows, tax, omitted.get(doc_id, 0)),
                       folder / page)
            text.pop(doc_id), psg.pop(doc_id, None)  # the next pages need none of this


def _texts_and_passages(texts: ChunkedTable, parts: ChunkedTable, ids: list[str], coded: dict[str, set]
                        ) -> tuple[dict, dict, dict]:
    """The documents' texts (doc_id -> row), their passages' positions (doc_id -> rows), for their pages, and
    how many passages are left out (doc_id -> count) of a document with more than report.PAGE_PASSAGES: only its
    coded ones (`coded`: doc_id -> passage ids), the first PAGE_PASSAGES of them, are kept."""
    text = {r["doc_id"]: r for r in texts.arrow_rows_for(ids, columns=["doc_id", "text", "text_original"]).to_pylist()}
    t = parts.arrow_rows_for(ids, columns=["passage_id", "doc_id", "ordinal", "kind", "label", "start", "end"])
    counts = dict(zip(*(c.to_pylist() for c in t.column("doc_id").value_counts().flatten())))
    omitted: dict[str, int] = {}
    big = [d for d, n in counts.items() if n > report_mod.PAGE_PASSAGES]
    if big:
        keep = sorted({p for d in big for p in coded.get(d, ())})
        small = pc.invert(pc.is_in(t.column("doc_id"), value_set=pa.array(big, pa.string())))
        t = t.filter(pc.or_(small, pc.is_in(t.column("passage_id"), value_set=pa.array(keep, pa.string()))))
    psg: dict[str, list] = {}
    for r in t.to_pylist():
        psg.setdefault(r["doc_id"], []).append(r)
    for d in big:
        rows = sorted(psg.get(d, []), key=lambda r: int(r["start"]))[:report_mod.PAGE_PASSAGES]
        psg[d] = rows
        omitted[d] = counts[d] - len(rows)
    return text, psg, omitted


def reporting_fingerprint(args) -> str:
    """What aggregate and report read: the tables' parts (their names carry their content keys), the ingest
    report, the taxonomy, and the code that turns them into coverage tables and reports."""
    catalog = Catalog(args.out)
    tax = load_taxonomy(args.taxonomy)
    h = hashlib.sha256(tax.sha256.encode() + load_strength(taxonomy=tax).sha256.encode())
    for t in (DOCUMENTS, PASSAGES, LABELS):
        h.update(("\n".join(p.name for p in part_files(catalog.path(t.name))) + "\n").encode())
    h.update(hashlib.sha256(catalog.path("ingest_report").read_bytes()).digest())
    # the report names the model's folder: the same files under another name make the same labels
    h.update(labels_made_by(Path(args.out), [fw.name["en"] for fw in tax.parts]).encode())
    for f in coded_store_paths(Path(args.coded)):  # the report says how much a person coded
        h.update(f.name.encode() + hashlib.sha256(f.read_bytes()).digest())
    h.update((nodes.fingerprint("aggregate") + nodes.fingerprint("report")).encode())
    h.update(nodes.code_digest("reporting").encode())  # this module writes them
    return h.hexdigest()


def cmd_compare(args) -> None:
    compare_cli(args)


def located(table, out: Path):
    """The table with each document's part taken from chunks.meta.json (the passages' parts, which follow the
    same chunks as the documents'), so that finding a few documents does not read every part's ids."""
    t = ChunkedTable(table, out)
    try:
        parts = json.loads(Catalog(out).path("chunks_meta").read_text()).get("parts", {}).get("segment")
    except (OSError, ValueError):
        parts = None
    if isinstance(parts, list) and len(parts) == len(t.parts) and all(isinstance(ids, list) for ids in parts):
        t.locate_parts(parts)
    return t
