"""Runs the per-document stages (segment, tokenize, classify) over the corpus in document chunks.

Tables are written one Parquet part per chunk of documents, so memory stays flat however large the corpus
is, and a stage can read the rows of one chunk from any earlier table. For each chunk:
- when every stage's part key (the chunk's documents and the stage's settings) is that of a part of the
  previous tables, those parts are kept as they are;
- otherwise documents whose content hash is unchanged since the previous run (and whose stage settings, i.e.
  term dictionary, taxonomy and model, are unchanged) take their rows from the previous tables, and the others
  go to the engine's workers (local processes or Dask), which run the requested stages;
- the rows are merged in document order and written as the chunk's new part.

`python -m pipeline run` feeds chunks straight from ingest, so reading files overlaps with the workers'
tokenizing and classifying; the single-stage commands (`segment`, `tokenize`, `classify`) use the same code
with one stage, reading their input from the tables in --out. Either way the tables come out identical.
"""
from __future__ import annotations

import gc
import hashlib
import json
import time
import traceback
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from .classify import classifier_key, labels_frame, load_estimator, make_classifier
from .engine import Helper, imap_ordered
from .io import ChunkedTable, TableWriter, write_json
from .nodes import fingerprint
from .lexicon import MATCH_GROUP
from .schemas import DOCUMENTS, LABELS, PASSAGES, TOKENS, Table, empty, to_arrow
from .segment import passage_lang, passage_rows, segment_document, segment_spans
from .taxonomy import load_taxonomy
from .tokenize import terms_key, tokenize_frame_passages, zh_segmenter

# small enough that the last chunks leave no worker idle for long, large enough to amortise a task
CHUNK_CHARS = 600_000
CHUNK_DOCS = 100
SOFT_BOUNDARY = 16
# a document with more content passages than this, or more characters than WINDOW_CHARS, is segmented by the
# main process and tokenized and classified in windows of at most this many passages (rounded up to a multiple of
# the lexicon's match group) and about WINDOW_CHARS characters, each window a part of its own, so memory depends
# on the window and not on the document (`--window-passages`). A worker's memory follows the characters of a task
# (n-gram counts, tokens) more than its passages: a 1 MB chapter of 7,000 paragraphs in one task raised a worker's
# peak by 150 MB, so a window holds no more text than a chunk.
WINDOW_PASSAGES = 20_000
WINDOW_CHARS = CHUNK_CHARS
STAGES = ("segment", "tokenize", "classify")
# which rows this module reuses and how it merges them decides what a part holds, as much as the stages' code does:
# a part an older version stored wrongly (a document reused after its language changed) must not outlive the fix
REUSE_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
OUTPUT = {"segment": PASSAGES, "tokenize": TOKENS, "classify": LABELS}
META = "chunks.meta.json"


def chunk_documents(records: Iterable[dict]) -> Iterator[list[dict]]:
    """Group document records into chunks by size (the same input always gives the same chunks).

    Besides the size limits, a chunk also ends after a document whose id hashes to a boundary, once the chunk
    is a quarter full: so when a document is added, removed or grows, the chunks after the next such boundary
    are the same as before and their stored parts are kept.
    """
    chunk, size = [], 0
    for r in records:
        chunk.append(r)
        size += _chars(r)
        boundary = size >= CHUNK_CHARS // 4 and zlib.crc32(r["doc_id"].encode("utf-8")) % SOFT_BOUNDARY == 0
        if size >= CHUNK_CHARS or len(chunk) >= CHUNK_DOCS or boundary:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def window_size(passages: int) -> int:
    """The window actually used for a setting of `passages`: a multiple of the lexicon's match group, so that
    the passages of a window are matched in the same batches as in the whole document."""
    return max(1, -(-max(1, passages) // MATCH_GROUP)) * MATCH_GROUP


def passage_windows(numbers, size: int, ends=None, max_chars: int | None = None) -> list[tuple[int, int]]:
    """(start, end) positions of windows of at most `size` content passages, given each passage's number
    (segment.Spans.n: the ordinal of a content passage, <= 0 for the others); a window ends before the content
    passage that would make one more (headings go with the passages before them). With `ends` (each passage's
    end offset in the document) and `max_chars`, a window also ends before the content passage that would take
    it past `max_chars` characters (a window holds at least one content passage, whatever its length)."""
    cuts, held, start = [], 0, 0
    for i, n in enumerate(numbers):
        if n <= 0:
            continue
        if held and (held >= size or (max_chars is not None and ends[i] - start > max_chars)):
            cuts.append(i)
            held, start = 0, (ends[i - 1] if ends is not None else 0)
        held += 1
    bounds = [0] + cuts + [len(numbers)]
    return list(zip(bounds[:-1], bounds[1:]))


def _chars(doc: dict) -> int:
    """A document's length in characters, as ingest recorded it or from its text."""
    chars = doc.get("chars")
    return chars if chars is not None else len(doc.get("text") or "")


def passages_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(PASSAGES.columns)).astype({"ordinal": "int64", "start": "int64",
                                                                      "end": "int64"})


def made_from(doc: dict) -> str:
    """What a document's rows in a stage were made from, as chunks.meta.json records it: its text (by hash) and
    its language, which a manifest may correct alone and which decides how the text is segmented (a Chinese
    outline), tokenized and matched."""
    return f"{doc['content_hash']} {doc['lang']}"


def small_change(files: int, nbytes: int) -> bool:
    """Whether this many changed files and bytes fit in one chunk (a character takes at least one byte)."""
    return 0 < files <= CHUNK_DOCS and nbytes <= CHUNK_CHARS


def chunk_key(setting: str, docs: list[dict], fields: tuple[str, ...] = ("doc_id", "content_hash", "region", "lang")
              ) -> str:
    """What a stage's part for these documents depends on: the stage's settings and the documents."""
    rows = json.dumps([setting, [[d[f] for f in fields] for d in docs]], ensure_ascii=False)
    return hashlib.sha256(rows.encode("utf-8")).hexdigest()[:16]


@dataclass
class Settings:
    """What the stage outputs depend on besides the documents; part of the reuse key of each stage."""
    taxonomy_path: str
    model_path: str
    zh_terms: tuple[str, ...]
    keys: dict

    @classmethod
    def make(cls, taxonomy=None, model_path: str | None = None) -> "Settings":
        """Settings for the stages that need them: segment needs none, tokenize the taxonomy's terms,
        classify also the model."""
        keys = {"segment": fingerprint("segment", REUSE_CODE)}
        if taxonomy is None:
            return cls("", "", (), keys)
        zh_terms = tuple(sorted(taxonomy.all_terms("zh")))
        keys["tokenize"] = fingerprint("tokenize", terms_key(list(zh_terms)), upstream=(keys["segment"],))
        if model_path is not None:
            keys["classify"] = fingerprint("classify", classifier_key(taxonomy, model_path),
                                           upstream=(keys["tokenize"],))
        return cls(taxonomy.path, model_path or "", zh_terms, keys)


# ------------------------------------------------------------------------------------------ worker side

_CLASSIFIERS: dict = {}


def _classifier(settings: Settings):
    key = (settings.taxonomy_path, settings.model_path)
    if key not in _CLASSIFIERS:
        _CLASSIFIERS.clear()
        tax = load_taxonomy(settings.taxonomy_path)
        _CLASSIFIERS[key] = make_classifier(tax, settings.model_path)
    return _CLASSIFIERS[key]


def warm_worker(settings: Settings, stages: tuple[str, ...]) -> None:
    """Load what the stages need (jieba's dictionary with the taxonomy terms, the classifier) up front.

    spaCy and its English pipeline are loaded when a chunk first holds English text."""
    # what this process inherited from the parent is never garbage here: frozen, the collector does not walk
    # (and so copy) those pages
    gc.freeze()
    with gc_paused():
        if "tokenize" in stages:
            zh_segmenter(settings.zh_terms)
        if "classify" in stages:
            _classifier(settings)


@contextmanager
def gc_paused():
    """No garbage collection while loading libraries and models: they allocate hundreds of thousands of
    objects, none of them garbage, and each collection would walk the whole heap again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def preload_classifier() -> Helper:
    """A classifier process started before the run knows whether it needs one (`ChunkRunner.run` sends it the
    settings, or lets it go). After a small change the run's time is mostly this process importing
    scikit-learn; started first, that overlaps with reading the corpus and the taxonomy."""
    return Helper(serve_classifier, None)


def release_classifier(classifier: Helper, used: bool = True) -> None:
    """End a classifier process. It is told so rather than left to see the pipe close: processes forked after
    it (the workbook writer, workers) hold copies of this end of the pipe. One never used is stopped at once
    (it may still be importing its libraries)."""
    try:
        classifier.send(None)
    except OSError:  # it is gone already
        pass
    classifier.finish(timeout=10 if used else 0)


def process_chunk(task: dict) -> dict:
    """Run the requested stages on one chunk's documents (worker side; pure: same input, same output)."""
    stages, s = task["stages"], task["settings"]
    if not task["docs"]:  # every document of the chunk was reused
        return {"_seconds": {}}
    out, secs = {}, {}
    passages = task.get("passages")
    t = time.perf_counter()
    if "segment" in stages:
        rows = []
        for doc in task["docs"]:
            rows.extend(segment_document(doc))
        passages = passages_frame(rows)
        out["segment"] = passages
        secs["segment"], t = time.perf_counter() - t, time.perf_counter()
    tokens = task.get("tokens")
    if "tokenize" in stages:
        tokens = tokenize_frame_passages(passages, s.zh_terms)
        out["tokenize"] = tokens
        secs["tokenize"], t = time.perf_counter() - t, time.perf_counter()
    if "classify" in stages:
        out["classify"] = labels_frame(_classifier(s), passages, tokens)
        secs["classify"] = time.perf_counter() - t
    out["_seconds"] = secs
    return out


def classify_result(task: dict, result: dict, classifier: Helper, settings: Settings) -> dict:
    """Add the classify stage to a chunk result from a worker that ran the stages before it, by the classifier
    process `classifier` (see serve_classifier)."""
    if not task["docs"]:
        return result
    passages = result["segment"] if "segment" in result else task["passages"]
    tokens = result["tokenize"] if "tokenize" in result else task["tokens"]
    classifier.send((passages, tokens))
    answer = classifier.recv()
    if answer[0] == "ok":
        result["classify"], result["_seconds"]["classify"] = answer[1], answer[2]
    else:
        # it failed there (a broken model file, say): failing here too raises the error as it is, for the CLI
        # to report
        t = time.perf_counter()
        result["classify"] = labels_frame(_classifier(settings), passages, tokens)
        result["_seconds"]["classify"] = time.perf_counter() - t
    return result


def serve_classifier(conn, settings: Settings | None) -> None:
    """The classifier process: loads the classifier at once, then labels the (passages, tokens) it is sent.
    Started without settings (see preload_classifier), it imports the model's libraries first and then waits
    for them; it ends quietly if none come."""
    if settings is None:
        load_estimator()  # scikit-learn, the slow part of loading the classifier

        try:
            settings = conn.recv()
        except EOFError:
            return
        if settings is None:  # the run had no use for it
            return
    try:
        with gc_paused():
            _classifier(settings)
    except Exception:  # reported with the first request
        pass
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the run is over
            return
        if request is None:  # so is it
            return
        passages, tokens = request
        t = time.perf_counter()
        try:
            labels = labels_frame(_classifier(settings), passages, tokens)
        except Exception:
            conn.send(("error", traceback.format_exc()))
            continue
        conn.send(("ok", labels, time.perf_counter() - t))


# ------------------------------------------------------------------------------------------ main side

class ChunkRunner:
    """Drives the chunked stages for one output folder."""

    def __init__(self, out: Path, stages: tuple[str, ...], settings: Settings, *, engine: str = "local",
                 jobs: int = 2, window: int = WINDOW_PASSAGES):
        self.out = Path(out)
        self.window = window_size(window)
        self.stages = stages
        self.settings = settings
        self.engine, self.jobs = engine, jobs
        meta_path = self.out / META
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        self.meta = meta
        # previous tables are read before anything is replaced (writers use temporary files until the end)
        self.previous = {}
        self.done: dict[str, dict[str, str]] = {}
        for st in stages:
            same = meta.get("keys", {}).get(st) == settings.keys[st]
            previous = self.previous[st] = ChunkedTable.open(OUTPUT[st], self.out) if same else None
            self.done[st] = meta.get("done", {}).get(st, {}) if previous is not None else {}
            parts = meta.get("parts", {}).get(st)
            if (previous is not None and isinstance(parts, list) and len(parts) == len(previous.parts)
                    and all(isinstance(ids, list) for ids in parts)):
                previous.locate_parts(parts)
        first = STAGES.index(stages[0])
        self.inputs = {st: ChunkedTable.open(OUTPUT[st], self.out) for st in STAGES[:first]}
        self.new_done: dict[str, dict[str, str]] = {st: {} for st in stages}
        # the documents of each part, in part order: where each document's rows are, for the next run
        self.part_docs: dict[str, list[list[str]]] = {st: [] for st in stages}
        self.counts = {"documents": 0, "reused_documents": 0, "computed_documents": 0}
        self.worker_seconds = {st: 0.0 for st in stages}

    def _task(self, docs: list[dict], worker_stages: tuple[str, ...]
              ) -> tuple[dict, dict, list[dict], dict[str, str]]:
        """Split a chunk into rows reused from the previous run and a task for the documents to compute.

        A chunk whose part keys all exist keeps its parts as they are (`reused` is None). Otherwise a document
        is reused when every requested stage processed the same text, in the same language, with the same
        settings last time (recorded per stage in chunks.meta.json: many documents have no rows in a stage,
        e.g. no labels).
        """
        keys = {st: chunk_key(self.settings.keys[st], docs) for st in self.stages}
        self._record(docs)
        if all(self.writers[st].has(keys[st]) for st in self.stages):
            self.counts["reused_documents"] += len(docs)
            return {"stages": worker_stages, "settings": self.settings, "docs": []}, None, docs, keys
        ok = {d["doc_id"] for d in docs
              if all(self.done[st].get(d["doc_id"]) == made_from(d) for st in self.stages)}
        reused = {st: self.previous[st].arrow_rows_for(sorted(ok)) for st in self.stages} if ok else {}
        todo = [d for d in docs if d["doc_id"] not in ok]
        if self.load_texts is not None:
            self.load_texts(todo)
        self.counts["reused_documents"] += len(ok)
        self.counts["computed_documents"] += len(todo)
        ids = [d["doc_id"] for d in todo]
        task = {"stages": worker_stages, "settings": self.settings,
                "docs": [{**{k: d[k] for k in ("doc_id", "text", "lang", "region", "content_hash")},
                          "text_original": d.get("text_original") or ""} for d in todo]}
        if "segment" not in self.stages:
            task["passages"] = self.inputs["segment"].rows_for(ids) if ids else empty(PASSAGES)
        if "tokenize" not in self.stages and "classify" in self.stages:
            task["tokens"] = self.inputs["tokenize"].rows_for(ids) if ids else empty(TOKENS)
        return task, reused, docs, keys

    def _tasks(self, doc_chunks: Iterable[list[dict]], worker_stages: tuple[str, ...]) -> Iterator[tuple]:
        """The tasks of each chunk (see `_task`): one per chunk, unless a document of it goes in windows (more
        passages or characters than a window holds); then the documents before it, its windows, and the
        documents after it are tasks (and parts) of their own."""
        for docs in doc_chunks:
            run: list[dict] = []
            for d in docs:
                windows = (self._windowed(d, worker_stages) if "segment" in self.stages
                           else self._input_windows(d, worker_stages))
                if windows is None:
                    run.append(d)
                    continue
                if run:
                    yield self._task(run, worker_stages)
                    run = []
                yield from windows
            if run or not docs:
                yield self._task(run, worker_stages)

    def _window_keys(self, doc: dict, i: int) -> dict[str, str]:
        return {st: chunk_key(f"{self.settings.keys[st]}|window {self.window} {WINDOW_CHARS} {i}", [doc])
                for st in self.stages}

    def _fits_one_task(self, chars: int) -> bool:
        """A document this long has no more passages than a window holds (a passage holds at least one
        character), nor more text."""
        return chars <= min(self.window, WINDOW_CHARS)

    def _windowed(self, doc: dict, worker_stages: tuple[str, ...]) -> "Iterator[tuple] | None":
        """The tasks of a document processed in windows of passages, or None for a document that fits one.

        Windows kept from the last run (the same document and settings make the same windows) are kept as
        they are; otherwise this process segments the document (into compact spans) and each window's passages
        become a task for the stages after segment, and the window's part of every table."""
        size = self.window
        if self._fits_one_task(_chars(doc)):
            return None
        kept = 0
        while all(self.writers[st].has(k) for st, k in self._window_keys(doc, kept).items()):
            kept += 1
        if kept:
            return self._kept_windows(doc, kept)
        if doc.get("text") is None and self.load_texts is not None:
            self.load_texts([doc])
        text = doc["text"]
        # passages are at most the lines plus the pieces of passages cut for length (>= 1000 characters each)
        if len(text) <= WINDOW_CHARS and text.count("\n") + 1 + len(text) // 1000 <= size:
            return None
        spans = segment_spans(doc)
        windows = passage_windows(spans.n, size, spans.end, WINDOW_CHARS)
        if len(windows) < 2:
            return None
        window_stages = tuple(st for st in worker_stages if st != "segment")

        def window_inputs(i: int) -> dict:
            a, b = windows[i]
            # the text stays here: a worker gets the window's passages, which is all the later stages read
            passages = passages_frame(passage_rows(doc, spans[a:b]))
            return {"passages": passages, "segmented": passages}

        return self._window_tasks(doc, len(windows), window_stages, window_inputs)

    def _input_windows(self, doc: dict, worker_stages: tuple[str, ...]) -> "Iterator[tuple] | None":
        """For tokenize or classify run alone: the windows of a document whose input rows are in several parts
        (segment made it in windows), one task per part, in the same windows and with the same part keys as a
        whole run; None for a document in one part."""
        if self._fits_one_task(_chars(doc)):
            return None
        tables = {frame: self.inputs[st] for frame, st in (("passages", "segment"), ("tokens", "tokenize"))
                  if st in self.inputs}
        if any(t is None for t in tables.values()):
            return None
        parts = {frame: t.parts_of(doc["doc_id"]) for frame, t in tables.items()}
        n = len(parts["passages"])
        if n < 2 or any(len(p) != n for p in parts.values()):
            return None
        if all(all(self.writers[st].has(k) for st, k in self._window_keys(doc, i).items()) for i in range(n)):
            return self._kept_windows(doc, n)
        return self._window_tasks(doc, n, worker_stages, lambda i: {
            frame: t.rows_for_part(parts[frame][i], doc["doc_id"]) for frame, t in tables.items()})

    def _record(self, docs: list[dict], parts: int = 1) -> None:
        """Note for chunks.meta.json what these documents' rows are made from and the part(s) they take (a
        document in windows takes one part per window), and count them."""
        for st in self.stages:
            self.new_done[st].update({d["doc_id"]: made_from(d) for d in docs})
            self.part_docs[st].extend([d["doc_id"] for d in docs] for _ in range(parts))
        self.counts["documents"] += len(docs)

    def _kept_windows(self, doc: dict, n: int) -> Iterator[tuple]:
        self._record([doc], n)
        self.counts["reused_documents"] += 1
        for i in range(n):
            yield ({"stages": (), "settings": self.settings, "docs": [], "window": (i, n)}, None, [doc],
                   self._window_keys(doc, i))

    def _window_tasks(self, doc: dict, n: int, stages: tuple[str, ...],
                      window_inputs: Callable[[int], dict]) -> Iterator[tuple]:
        """One task per window of a document; `window_inputs(i)` gives window i's input frames, made only
        when the task is taken, so one window's rows are in memory at a time."""
        self._record([doc], n)
        self.counts["computed_documents"] += 1
        meta = _window_meta(doc)
        for i in range(n):
            task = {"stages": stages, "settings": self.settings, "docs": [meta] if stages else [],
                    "window": (i, n), **window_inputs(i)}
            yield task, {}, [doc], self._window_keys(doc, i)

    def _workers(self, changed: tuple[int, int] | None) -> tuple[int, bool]:
        """(worker processes, start them now) given what ingest saw change: (files, bytes) or None (unknown).

        Workers load jieba's dictionary, spaCy and the model before their first chunk; starting them while
        ingest still scans the corpus hides that cost. A few changed files fill one chunk, so they get one
        worker; when nothing changed and the settings are those of the last run, none are started at all.
        """
        if changed is None:
            return self.jobs, False
        every_document = any(self.previous[st] is None for st in self.stages)
        if every_document:
            return self.jobs, True
        files, nbytes = changed
        if not files:
            return self.jobs, False
        return (1 if small_change(files, nbytes) else self.jobs), True

    def run(self, doc_chunks: Iterable[list[dict]], progress=None, changed: tuple[int, int] | None = None,
            load_texts=None, classifier: Helper | None = None) -> dict:
        """Run the stages over the chunks; `load_texts(records)` fills in texts that records come without.
        `classifier`: a process from preload_classifier, used if the run classifies in a process of its own,
        else let go."""
        self.writers = writers = {st: TableWriter(OUTPUT[st], self.out) for st in self.stages}
        self.load_texts = load_texts
        workers, prestart = self._workers(changed)
        # A change that fits one chunk is a few documents: the time goes into loading jieba, spaCy and the
        # model rather than into using them. The worker then loads only the tokenizer, and a second process
        # (forked first, while this one has no thread) loads the classifier meanwhile and classifies the
        # worker's tokens; this process is left to read the corpus.
        split = (workers == 1 and prestart and self.engine == "local" and self.jobs > 1
                 and "classify" in self.stages and len(self.stages) > 1)
        worker_stages = tuple(st for st in self.stages if st != "classify") if split else self.stages
        classifier = self._classifier_process(split, classifier)
        try:
            results = imap_ordered(process_chunk, self._tasks(doc_chunks, worker_stages),
                                   key=lambda p: p[0], engine=self.engine, jobs=self.jobs, workers=workers,
                                   prestart=prestart, warm=warm_worker, warm_args=(self.settings, worker_stages),
                                   trivial=lambda p: not p[0]["docs"])
            for (task, reused, docs, keys), result in results:
                if "segmented" in task:  # a window: its passages were made here
                    result = {**result, "segment": task["segmented"]}
                if classifier is not None:
                    result = classify_result(task, result, classifier, self.settings)
                for st, sec in result.get("_seconds", {}).items():
                    self.worker_seconds[st] += sec
                self._write_part(docs, keys, reused, result)
                # progress counts documents: a document in windows counts once, at its last window
                if progress and ("window" not in task or task["window"][0] == task["window"][1] - 1):
                    progress(len(docs))
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        finally:
            if classifier is not None:
                release_classifier(classifier)
        self._replace_tables()
        return {**self.counts, "rows": {st: w.rows for st, w in writers.items()},
                "worker_seconds": {k: round(v, 3) for k, v in self.worker_seconds.items()}}

    def _classifier_process(self, split: bool, preloaded: Helper | None) -> Helper | None:
        """The process that classifies the worker's tokens in a `split` run: the `preloaded` one (from
        preload_classifier) told the run's settings, or one started now. None otherwise, a preloaded one let go."""
        if not split:
            if preloaded is not None:
                release_classifier(preloaded, used=False)
            return None
        if preloaded is None:
            return Helper(serve_classifier, self.settings)
        preloaded.send(self.settings)
        return preloaded

    def _write_part(self, docs: list[dict], keys: dict[str, str], reused: dict | None, result: dict) -> None:
        """The chunk's part of every table: the last run's part as it is (`reused` None), else the rows reused
        from the last run's tables and the rows computed, merged in document order."""
        if reused is None:
            for st in self.stages:
                self.writers[st].keep(keys[st])
            return
        order = {d["doc_id"]: i for i, d in enumerate(docs)}
        documents = {d["doc_id"]: d for d in docs}
        for st in self.stages:
            self.writers[st].write(_merge(OUTPUT[st], reused.get(st), result.get(st), order, documents), keys[st])

    def _replace_tables(self) -> None:
        """Put the tables just written in place of the previous ones, and record in chunks.meta.json what
        their rows were made from, for the next run."""
        # invalidate reuse first: a crash between replacing the tables and recording them must not leave a
        # record that describes older tables
        stale = {**self.meta, "keys": {k: v for k, v in self.meta.get("keys", {}).items() if k not in self.stages}}
        write_json(stale, self.out / META)
        closed = set()
        try:
            for st, w in self.writers.items():
                w.close()
                closed.add(st)
        except BaseException:
            for st, w in self.writers.items():
                if st not in closed:
                    w.abort()
            raise
        meta = dict(self.meta)
        meta.setdefault("keys", {}).update({st: self.settings.keys[st] for st in self.stages})
        meta.setdefault("done", {}).update(self.new_done)
        meta.setdefault("parts", {}).update(self.part_docs)
        write_json(meta, self.out / META)


def _merge(table: Table, reused: "pa.Table | None", computed: pd.DataFrame | None, order: dict, documents: dict
           ) -> "pa.Table":
    """Reused (Arrow) and computed rows of one chunk, in document order, with region (and lang) from the
    current documents: those come from the manifest and may change while the text does not. A passage's
    language is its own (an English article of a Chinese law is English), so reused passages have it worked out
    again from their document's current language; computed ones have it already."""
    if reused is not None and reused.num_rows and "lang" in reused.column_names:
        langs = [passage_lang(text, documents[d]["lang"]) for text, d in
                 zip(reused.column("text").to_pylist(), reused.column("doc_id").to_pylist())]
        reused = reused.set_column(reused.schema.get_field_index("lang"), "lang", pa.array(langs, pa.string()))
    parts = [p for p in (reused, to_arrow(computed, table) if computed is not None and len(computed) else None)
             if p is not None and p.num_rows]
    if not parts:
        return table.arrow_schema.empty_table()
    t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    doc_ids = t.column("doc_id").to_pylist()
    if len(parts) > 1:
        idx = np.argsort(np.fromiter((order[d] for d in doc_ids), dtype=np.int64, count=len(doc_ids)), kind="stable")
        t = t.take(pa.array(idx))
        doc_ids = [doc_ids[i] for i in idx]
    if "region" in t.column_names:
        t = t.set_column(t.schema.get_field_index("region"), "region",
                         pa.array([documents[d]["region"] for d in doc_ids], pa.string()))
    return t


def _window_meta(doc: dict) -> dict:
    """What a worker needs of a document whose window it is given (the passages come with the task)."""
    return {k: doc[k] for k in ("doc_id", "lang", "region", "content_hash")}


def documents_in_chunks(out: Path) -> Iterator[list[dict]]:
    """The documents table of --out, one part (chunk) at a time."""
    return ChunkedTable(DOCUMENTS, Path(out)).chunks()
