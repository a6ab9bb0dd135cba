"""Stage 1: a corpus folder in, the `documents` table and the ingest report out.

Every file found under the corpus root ends up in the report with a status (ingested, skipped,
duplicate_of, failed) and a reason a person can act on. A bad file never stops the run; only a broken
configuration (missing corpus folder, manifest without its required columns) does.

Nothing in a corpus is executed or followed: HTML is parsed (never rendered, scripts never run, nothing
fetched), symbolic links to folders are listed but not entered, and only regular files are read (a named pipe
or device in the corpus would otherwise block or never end).

What is where: `corpus.py` finds the files and reads the manifest; `text.py` turns one file's bytes into
normalised text and reads its date and title; this module makes the documents and the report from them, and is
the only one that reads what the previous run left (`IngestRun`: files unchanged since then are not read again).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .corpus import (KNOWN_MANIFEST_COLUMNS, MANIFEST, ROOT_NOTE, ROOT_REGION, SUPPORTED, Found, corpus_notes,
                     discover, display_name, read_manifest, region_of, report_row)
from .catalog import Catalog
from .io import ConfigError, read_parts
from .nodes import fingerprint
from .schemas import DOCUMENT_META, DOCUMENTS, INGEST_REPORT, check
from .dates import MANIFEST_PROBLEM, document_date, document_repeal
from .formats import extract_text
from .text import (DEFAULT_MAX_BYTES, DecodeError, content_hash, detect_lang, first_few, join_reasons, megabytes,
                   normalise, one_line, shown, title_from_text, to_simplified, unwrap_lines)

log = logging.getLogger(__name__)

def ingest(corpus: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, progress: bool = False
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a corpus folder into (documents, ingest_report) in memory (small corpora, tests)."""
    run = IngestRun(corpus, max_bytes=max_bytes, progress=progress)
    docs = list(run.documents())
    documents = pd.DataFrame(docs, columns=list(DOCUMENTS.columns)) if docs else pd.DataFrame(
        {c: pd.Series(dtype="bool" if c == "converted_t2s" else "str") for c in DOCUMENTS.columns})
    return check(documents, DOCUMENTS), run.report_frame()


# what a later run needs to take a file from the previous run without reading it again
CACHE_COLUMNS = ("path", "size", "mtime_ns", "meta", "content_hash", "reason", "encoding", "chars", "original_sha",
                 "version")


class IngestRun:
    """One pass over a corpus folder: `documents()` yields document records in id order; afterwards
    `report_frame()` accounts for every file found and `cache_frame()` holds what a later run needs to
    skip unchanged files.

    `previous` is (cache table, ChunkedTable of the previous documents): a file whose size, mtime and
    manifest row are unchanged is taken from the previous documents table instead of being read again. Its
    record comes without its text (`text` is None) until `fill_texts` reads it, which only a chunk that must
    be written again or a document that must be processed again needs.
    """

    def __init__(self, corpus: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, progress: bool = False,
                 previous: tuple[pd.DataFrame, object] | None = None):
        self.root = root = _corpus_folder(corpus)
        self.max_bytes = max_bytes
        self.progress = progress
        manifest = read_manifest(root)
        self.has_manifest = manifest is not None
        self._rows: dict[str, dict[str, str]] = _manifest_rows(manifest) if manifest is not None else {}
        self.files, self.report = discover(root)
        self._case_slips = self._report_listed_not_found()
        self.cache: list[dict] = []
        self.reused = 0
        self.root_files: list[str] = []  # documents put in ROOT_REGION, for the run to say so
        self._prev_cache, self._prev_docs = ({}, None)
        self._meta: dict[str, dict] | None = None
        # a cache written by a version whose records differ is not used: its documents lack what this one adds
        if (previous is not None and previous[1] is not None and set(CACHE_COLUMNS) <= set(previous[0].columns)
                and (previous[0]["version"] == documents_version()).all()):
            self._prev_cache = {r.path: r for r in previous[0].itertuples(index=False)}
            self._prev_docs = previous[1]
        # (size, mtime_ns) of each file to read, until it is read: a stat_result holds ten times that
        self._stats: dict[str, tuple[int, int]] = {}
        self.changed_files = self.changed_bytes = 0
        candidates = [entry for entry in self.files if self._candidate(entry)]
        if not candidates:
            # a mistyped or empty --corpus would otherwise pass for a run that read nothing; a corpus whose files
            # are there but cannot be read still runs, and its report says why each was not
            raise ConfigError(f"{root}: corpus folder has no document to read: {self._why_no_document()} (--corpus)")
        for entry in candidates:
            st = self._stat(entry)
            if st is None:
                continue
            self._stats[entry.rel] = st
            prev = self._prev_cache.get(entry.rel)
            if prev is None or (prev.size, prev.mtime_ns) != st:
                self.changed_files += 1
                self.changed_bytes += st[0]

    def _report_listed_not_found(self) -> list[tuple[str, str]]:
        """Report each path the manifest lists that no file was found at, saying why; the (listed path, file
        found) pairs among them that differ in letter case alone."""
        known = {e.rel for e in self.files} | {r["path"] for r in self.report}
        not_entered = {r["path"]: r["reason"] for r in self.report}
        # a manifest written on Windows or macOS, whose file systems ignore letter case, names a/One.txt a/one.txt
        by_case = {rel.casefold(): rel for rel in sorted(known, reverse=True)}
        case_slips: list[tuple[str, str]] = []
        for p in self._rows:
            if p not in known:
                row, case_slip = _not_found(self.root, p, not_entered, by_case.get(p.casefold(), ""))
                self.report.append({**row, "region": region_of(p, self._rows[p])})
                if case_slip:
                    case_slips.append((p, by_case[p.casefold()]))
        return case_slips

    def _why_no_document(self) -> str:
        """Why the corpus folder has no file to read as a document."""
        if self.has_manifest:
            slips = ""
            if self._case_slips:
                listed, found = self._case_slips[0]
                slips = (f"; '{shown(listed)}' differs only in letter case from the file '{shown(found)}' there "
                         f"(paths are case-sensitive)" + (f", as do {len(self._case_slips) - 1} more listed path(s)"
                                                          if len(self._case_slips) > 1 else ""))
            return f"{MANIFEST} lists no file of a type read ({READ_TYPES}) that is there{slips}"
        others = [e for e in self.files if e.rel != MANIFEST]
        # a hidden file of a type not read (.DS_Store) is no document whatever the manifest says
        hidden = sum(e.hidden and e.path.suffix.lower() in SUPPORTED for e in others)
        why = [f"{hidden} hidden file(s) (names starting with '.'), read only where a {MANIFEST} lists them"] \
            if hidden else []
        if len(others) > hidden:
            why.append(f"{len(others) - hidden} file(s) that are notes (a README and the like) or of a type not read "
                       f"(the types read are {READ_TYPES})")
        if why:
            return "it holds " + " and ".join(why)
        return "it holds no file" + (" but links and folders not entered (hidden ones, earlier outputs)"
                                     if self.report else "")

    def _stat(self, entry: Found) -> tuple[int, int] | None:
        """(size, mtime_ns) as the constructor saw it (handed out once), else as it is now; None if unreadable."""
        st = self._stats.pop(entry.rel, None)
        if st is None:
            try:
                s = entry.path.stat()
            except OSError:
                return None
            st = (s.st_size, s.st_mtime_ns)
        return st

    @property
    def _prev_meta(self) -> dict[str, dict]:
        """The previous documents' metadata (no text) by doc_id, read on first use: the workers are started
        on what the constructor found changed, and that should not wait for this."""
        if self._meta is None:
            self._meta = {}
            if self._prev_docs is not None and self._prev_docs.parts:
                # the same columns the report reads, from the same cache
                rows, part_of = read_parts(DOCUMENTS, self._prev_docs.parts, list(DOCUMENT_META),
                                           Catalog(self._prev_docs.path.parent).cache("documents"))
                self._meta = {r["doc_id"]: r for r in rows.to_pylist()}
                # where each document's text is, for fill_texts
                self._prev_docs.locate(dict(zip(self._meta, part_of.tolist())))
        return self._meta

    def _candidate(self, entry: Found) -> bool:
        """Whether the file will be read as a document (listed, not hidden unless listed, a supported type)."""
        listed = entry.rel in self._rows
        return (entry.rel != MANIFEST and not _office_lock_file(entry.rel)
                and (listed or (not self.has_manifest and not entry.hidden and not corpus_notes(entry.rel)))
                and entry.path.suffix.lower() in SUPPORTED)

    def documents(self):
        has_manifest, rows, report = self.has_manifest, self._rows, self.report
        seen_hash: dict[str, str] = {}
        unlisted: list[str] = []
        iterator = self.files
        if self.progress:
            iterator = tqdm(self.files, desc="ingest", unit="file")
        version = documents_version()
        for entry in iterator:
            rel = entry.rel
            if rel == MANIFEST:
                continue
            row = rows.get(rel)
            fmt = SUPPORTED.get(entry.path.suffix.lower())
            skipped = _skipped(entry, row, has_manifest, fmt)
            if skipped is not None:
                skip, left_out = skipped
                if left_out:
                    unlisted.append(rel)
                report.append(skip)
                continue
            # the row's digest, not the row: the cache holds one per file for the whole run; with the code's
            # fingerprint, so that files read by other code are read again, and with the size limit, so that a
            # file read under a higher --max-mb is not taken over a lower one
            meta_key = hashlib.sha256((version + str(self.max_bytes) + json.dumps(row, ensure_ascii=False,
                                                                                  sort_keys=True))
                                      .encode("utf-8")).hexdigest()[:24]
            rec, rep, st = self._read(entry, fmt, row, meta_key)
            document = None
            if rec is not None:
                first = seen_hash.get(rec["content_hash"])
                if first is not None:
                    rep.update(status="duplicate_of", duplicate_of=first, doc_id="",
                               reason=join_reasons(entry.note, f"same text as {first}"))
                else:
                    seen_hash[rec["content_hash"]] = rel
                    document = rec
            if st is not None:
                self._remember(rel, st, meta_key, version, document, rep)
            if document is not None:
                if document["region"] == ROOT_REGION and "/" not in rel:
                    self.root_files.append(rel)
                yield document
            report.append({**rep, "region": region_of(rel, row or {})})
        self._unlisted = unlisted

    def _read(self, entry: Found, fmt, row: dict | None, meta_key: str):
        """(record or None, report row, stat): the previous run's when the file is unchanged, else the file read
        now; a file that cannot be read is reported failed, and never stops the run."""
        rec, rep, st = self._cached(entry, meta_key)
        if rec is not None:
            return rec, rep, st
        try:
            rec, rep = _ingest_one(entry, fmt, row, self.max_bytes)
        except Exception as exc:
            log.debug("%s", entry.rel, exc_info=True)
            rec, rep = None, report_row(entry.rel, "failed", f"could not be read ({type(exc).__name__}: {exc})",
                                        nbytes=_size(entry.path))
        rep["reason"] = (join_reasons(entry.note, rep["reason"]) if rep["reason"] != "ok" or not entry.note
                         else entry.note)
        return rec, rep, st

    def _remember(self, rel: str, st: tuple, meta_key: str, version: str, document: dict | None, rep: dict) -> None:
        """Every file read is remembered, so a later run can tell it did not change; only documents (not
        duplicates or failures, which are read again) can be taken from the previous run."""
        self.cache.append({"path": rel, "size": st[0], "mtime_ns": st[1], "meta": meta_key,
                           "content_hash": document["content_hash"] if document else "",
                           "reason": rep["reason"], "encoding": rep.get("encoding", ""),
                           "chars": document["chars"] if document else 0,
                           "original_sha": document["original_sha"] if document else "",
                           "version": version})

    def _cached(self, entry: Found, meta_key: str):
        """(record, report row, stat) from the previous run when the file is unchanged, else (None, None, stat)."""
        st = self._stat(entry)
        if st is None:
            return None, None, None
        prev = self._prev_cache.get(entry.rel)
        if prev is None or self._prev_docs is None or (prev.size, prev.mtime_ns) != st or prev.meta != meta_key:
            return None, None, st
        meta = self._prev_meta.get(entry.rel)
        if meta is None or meta["content_hash"] != prev.content_hash:
            return None, None, st
        rec = {**meta, "text": None, "text_original": None, "chars": int(prev.chars), "original_sha": prev.original_sha}
        self.reused += 1
        return rec, report_row(entry.rel, "ingested", prev.reason, doc_id=entry.rel, encoding=prev.encoding,
                            nbytes=st[0]), st

    def report_frame(self) -> pd.DataFrame:
        rep_df = (pd.DataFrame(self.report, columns=list(INGEST_REPORT.columns)).fillna({"region": ""})
                  .sort_values("path", kind="stable"))
        rep_df = rep_df.drop_duplicates("path")
        region_of_path = dict(zip(rep_df["path"], rep_df["region"]))
        for r in rep_df.itertuples(index=False):
            # a file the manifest lists is one the researcher expects read: why it was not is said
            # a word processor's file in a region's folder is a policy the researcher expects read, as a
            # listed one is (a picture beside it is not)
            if r.status == "failed" or (r.status == "skipped" and (r.reason.endswith("limit (raise it with --max-mb)")
                                                                   or r.path in self._rows
                                                                   or (r.region and Path(r.path).suffix
                                                                       .lower() in WORD_PROCESSOR_TYPES))):
                log.warning("%s: %s", r.path, r.reason)
            elif r.status == "duplicate_of" and region_of_path.get(r.duplicate_of, r.region) != r.region:
                # one region's document counted for another changes both regions' audit: said, not only counted
                log.warning("%s: same text as %s, so it is counted once, for region %s, not %s: leave the copy "
                            "in the wrong region out of the corpus (or the manifest)", r.path, r.duplicate_of,
                            region_of_path[r.duplicate_of], r.region)
            elif r.status == "ingested" and MANIFEST_PROBLEM in r.reason:
                # a value of the researcher's manifest that could not be used: said, not only written down
                log.warning("%s: %s", r.path, "; ".join(p for p in r.reason.split("; ") if MANIFEST_PROBLEM in p))
        unlisted = getattr(self, "_unlisted", [])
        if unlisted:
            log.warning("%s: %d file(s) not listed in the manifest were skipped: %s (see ingest_report.csv)",
                        self.root / MANIFEST, len(unlisted), first_few(unlisted))
        return check(rep_df, INGEST_REPORT)

    def cache_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.cache, columns=list(CACHE_COLUMNS))

    def fill_texts(self, records: list[dict]) -> list[dict]:
        """Read the texts of records taken from the previous run (in place; returns the records)."""
        lazy = [r for r in records if r["text"] is None]
        if lazy:
            rows = self._prev_docs.arrow_rows_for([r["doc_id"] for r in lazy],
                                                  columns=["doc_id", "text", "text_original"]).to_pylist()
            texts = {r["doc_id"]: r for r in rows}
            for r in lazy:
                r["text"], r["text_original"] = texts[r["doc_id"]]["text"], texts[r["doc_id"]]["text_original"]
        return records


def _corpus_folder(corpus: str | Path) -> Path:
    """The corpus folder, checked to be there, a folder and readable."""
    root = Path(corpus)
    if not root.exists():
        # a relative path is read from the folder the command runs in, which `make -C` changes
        looked = "" if root.is_absolute() else f" (looked for {root.absolute()})"
        raise ConfigError(f"{root}: corpus folder does not exist{looked} (--corpus)")
    if not root.is_dir():
        raise ConfigError(f"{root}: corpus path is not a folder (--corpus)")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise ConfigError(f"{root}: corpus folder cannot be read ({exc.strerror or exc})") from None
    return root


def _manifest_rows(manifest: pd.DataFrame) -> dict[str, dict[str, str]]:
    """The manifest's rows as plain dicts of strings, by path. The table itself is not kept: a pandas row lookup
    per file costs more than reading the file, and the table would be held for the whole run."""
    columns = {c: ["" if pd.isna(v) else str(v) for v in manifest[c].tolist()] for c in manifest.columns}
    return {path: {c: columns[c][i] for c in columns} for i, path in enumerate(manifest.index)}


def _skipped(entry: Found, row: dict | None, has_manifest: bool, fmt) -> tuple[dict, bool] | None:
    """The report row of a file of the corpus folder that is not read as a document (hidden, a lock file, not
    listed in a manifest, a README, a type not read), with whether it may be a document the manifest left out;
    None for a file to read (`row`: its manifest row; `fmt`: its format, None for a type not read)."""
    rel = entry.rel
    listed = row is not None
    if entry.hidden and not listed:
        return report_row(rel, "skipped", join_reasons(entry.note, "hidden file (name starts with '.'); not read"),
                          nbytes=_size(entry.path)), False
    if _office_lock_file(rel):
        return report_row(rel, "skipped", join_reasons(entry.note, "the lock file Word (or Excel) keeps beside a "
                                                                   "document open in it ('~$'); not read"),
                          nbytes=_size(entry.path)), False
    if has_manifest and not listed:
        # a README, or a file no document can be (a table of expected results, say), is expected beside
        # the documents: skipped without a warning; other unlisted files may be documents left out
        why = (" (notes on the corpus, not a policy document)" if corpus_notes(rel) else
               f" ('{display_name(entry.path.suffix)[0] or '(none)'}' is no document type)" if fmt is None else "")
        return report_row(rel, "skipped", join_reasons(entry.note, f"not listed in {MANIFEST}{why}"),
                          nbytes=_size(entry.path)), not why
    if not listed and corpus_notes(rel):
        return report_row(rel, "skipped", join_reasons(entry.note, "a README: notes on the corpus, not a policy "
                                                                   f"document (list it in {MANIFEST} to read it "
                                                                   "as one)"),
                          nbytes=_size(entry.path)), False
    if fmt is None:
        # a `.doc` in a region's folder is meant as that region's document: with its region, a region
        # holding only such files is named as missing from the audit; a stray file at the root is for none
        suffix = entry.path.suffix
        return report_row(rel, "skipped", join_reasons(entry.note, f"unsupported file type "
                                                                   f"'{display_name(suffix)[0] or '(none)'}' "
                                                                   f"(the types read are {READ_TYPES})"),
                          nbytes=_size(entry.path),
                          region=region_of(rel, row or {}) if listed or "/" in rel else ""), False
    return None


def documents_version() -> str:
    """The ingest stage's fingerprint (its code and libraries): part of the documents table's part keys and of
    each file's cache key, so documents read by other code are read again."""
    return fingerprint("ingest")


READ_TYPES = ", ".join(SUPPORTED)
# word processors' own formats, which a policy may come in but that are not read (a .docx or PDF of it is)
WORD_PROCESSOR_TYPES = frozenset({".doc", ".docm", ".dot", ".rtf", ".wps", ".odt", ".pages"})
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:/")


def _not_found(root: Path, p: str, not_entered: dict[str, str], same_but_case: str = "") -> tuple[dict, bool]:
    """The report row of a path the manifest lists and no file was found at, saying why none was, and whether
    the reason is that `same_but_case`, a file found whose path differs from `p` in letter case alone, is it."""
    missing = report_row(p, "failed", f"listed in {MANIFEST} but not found")
    if p.startswith("/") or _WINDOWS_DRIVE.match(p):
        # a path from the corpus folder keeps the manifest valid wherever the folder is copied
        try:
            rel = Path(p).resolve().relative_to(root.resolve()).as_posix()
        except (OSError, ValueError):
            rel = ""
        return report_row(p, "failed", f"listed in {MANIFEST} with an absolute path; paths there are relative to "
                                        "the corpus folder" + (f" (write '{rel}')" if rel else ", and this one is "
                                                                                                "not in it")), False
    if p == ".." or p.startswith("../"):
        return report_row(p, "failed", f"listed in {MANIFEST} but outside the corpus folder; not read"), False
    parts = p.split("/")
    for i in range(1, len(parts)):
        folder = "/".join(parts[:i])
        if folder in not_entered:
            # a hidden folder, a link to a folder, a previous run's outputs: listed but not entered
            return report_row(p, "skipped", f"listed in {MANIFEST} but not read: it is in '{folder}', a folder not "
                                            f"entered ({not_entered[folder]})"), False
    try:
        is_dir = (root / p).is_dir()
    except OSError:
        return missing, False
    if is_dir:
        return report_row(p, "failed", f"listed in {MANIFEST} but is a folder (list the files in it, one a row)"), False
    if same_but_case:
        return report_row(p, "failed", f"listed in {MANIFEST} but not found: letter case differs from the file "
                                       f"'{same_but_case}' (paths are case-sensitive here: write the file's name as "
                                       f"it is)"), True
    return missing, False


def _title(s: str) -> str:
    """A title as a label: one line (a line break or tab in a manifest cell is no part of it), cleaned as a
    text is, and without U+FFFD, which in a title (an HTML &#0;, say) tells a reader nothing."""
    return one_line(normalise(s).replace("\ufffd", ""))


def _office_lock_file(rel: str) -> bool:
    """Whether a file is the lock file Office keeps beside a document open in it (~$条例.docx, a few bytes naming the
    user): read as a document, a corpus copied while one was open had a .docx that failed."""
    return Path(rel).name.startswith("~$")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


_FILE_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"),
               (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


def _file_bytes(entry: Found, max_bytes: int) -> tuple[bytes, dict | None]:
    """(a file's bytes, None), or (b"", its report row) when it is not read: not a regular file, over the size
    limit, unreadable or empty."""
    rel, path = entry.rel, entry.path
    try:
        st = path.stat()
    except OSError as exc:
        return b"", report_row(rel, "failed", f"cannot read: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(st.st_mode)), "special file")
        return b"", report_row(rel, "skipped", f"not a regular file ({kind}); not read")
    too_big = f"{megabytes(st.st_size)} is over the {megabytes(max_bytes)} limit (raise it with --max-mb)"
    if st.st_size > max_bytes:
        return b"", report_row(rel, "skipped", too_big, nbytes=st.st_size)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return b"", report_row(rel, "failed", f"cannot read: {exc.strerror or exc}", nbytes=st.st_size)
    if len(data) > max_bytes:  # grew after stat
        return b"", report_row(rel, "skipped", f"over the {megabytes(max_bytes)} limit (raise it with --max-mb)",
                               nbytes=len(data))
    if not data:
        # an empty .docx or .pdf (a download that failed, a placeholder of a cloud drive) is empty, as an empty
        # .txt is: its reader's complaint (BadZipFile, EmptyFileError) said it was broken without saying how
        return b"", report_row(rel, "skipped", "empty file", nbytes=0)
    return data, None


def _ingest_one(entry: Found, fmt: str, row, max_bytes: int) -> tuple[dict | None, dict]:
    """(the document a file holds, or None; the file's report row)."""
    rel = entry.rel
    data, unread = _file_bytes(entry, max_bytes)
    if unread is not None:
        return None, unread
    try:
        decoded, inner_title = extract_text(data, fmt, max_bytes)
    except DecodeError as exc:
        return None, report_row(rel, "failed", str(exc), nbytes=len(data))
    text = normalise(decoded.text)
    # the title is read where its lines still break as the file's do: a title wrapped with its text is told by them
    text_title = title_from_text(text, Path(rel).stem)
    text = unwrap_lines(text).strip("\n")
    if not text.strip():
        return None, report_row(rel, "skipped", "no text (whitespace only)", encoding=decoded.encoding,
                                nbytes=len(data))

    meta = row or {}
    notes = [decoded.note]
    if fmt == "pdf" and decoded.note:
        log.warning("%s: %s", rel, decoded.note)
    lang = _document_lang(meta, text, notes)
    original = ""
    converted = False
    if lang == "zh":
        simplified, converted = to_simplified(text)
        if converted:
            original, text = text, simplified
            notes.append("converted from Traditional Chinese")
    region = region_of(rel, meta)
    if region == ROOT_REGION and "/" not in rel:
        notes.append(ROOT_NOTE)
    date, date_source, problem = document_date(meta, rel, text, lang)
    repealed, repeal_problem = document_repeal(meta, date)
    notes += [problem, repeal_problem]
    # a title taken from the text is taken from the original (read before conversion): researchers quote
    # Traditional titles as they are
    title = _title(meta.get("title", "")) or _title(inner_title) or text_title
    extra = {k: v for k, v in meta.items() if k not in KNOWN_MANIFEST_COLUMNS}
    rec = {
        "doc_id": rel, "region": region, "region_name": one_line(meta.get("region_name", "")) or region, "lang": lang,
        "title": title, "date": date, "date_source": date_source, "repealed": repealed,
        "source_format": fmt, "encoding": decoded.encoding,
        "content_hash": content_hash(text, original), "converted_t2s": converted,
        "text": text, "text_original": original, "extra": json.dumps(extra, ensure_ascii=False, sort_keys=True),
        # not columns: what chunking and the documents table's part keys need without holding the text
        "chars": len(text), "original_sha": hashlib.sha256(original.encode("utf-8")).hexdigest() if original else "",
    }
    return rec, report_row(rel, "ingested", join_reasons(*notes) or "ok", doc_id=rel, encoding=decoded.encoding,
                        nbytes=len(data))


def _document_lang(meta: dict, text: str, notes: list[str]) -> str:
    """zh or en: the manifest's `lang` (zh-CN, EN and the like read as the language they name), else the one
    detected in `text`; a manifest value that names neither is noted in `notes`."""
    lang = meta.get("lang", "").strip().lower()
    lang = "zh" if lang.startswith("zh") else "en" if lang.startswith("en") else lang
    if lang not in ("zh", "en"):
        detected = detect_lang(text)
        if lang:
            notes.append(f"{MANIFEST_PROBLEM}lang '{meta['lang']}' is not zh or en; detected {detected}")
        lang = detected
    return lang
