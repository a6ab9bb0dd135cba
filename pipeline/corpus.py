"""The corpus folder: which files are in it (without following links out of it or reading anything that is not
a regular file) and what its manifest.csv says about each. Nothing here reads a document's content.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import posixpath
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .io import ConfigError, csv_delimiter
from .outdir import LOCK_FILE, RUN_MARKERS, is_output_folder
from .text import DecodeError, decode_bytes, first_few, join_reasons, normalise, one_line

log = logging.getLogger("pipeline.ingest")

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
             ".docx": "docx", ".pdf": "pdf"}
MANIFEST = "manifest.csv"
REQUIRED_MANIFEST_COLUMNS = ("path", "region", "lang")
KNOWN_MANIFEST_COLUMNS = ("path", "region", "region_name", "lang", "title", "date", "repealed")
# the region of a file at the corpus root that the manifest gives no region (regions are first-level folders)
ROOT_REGION = "(root)"
ROOT_NOTE = (f"at the corpus root, not in a region folder: region '{ROOT_REGION}' (move it into a folder named "
             f"after its region, or give its region in {MANIFEST})")


def _clean_manifest_path(p: str) -> str:
    p = p.replace("\\", "/").strip()
    if not p:
        return ""
    p = posixpath.normpath(p)
    while p.startswith("./"):
        p = p[2:]
    return "" if p == "." else unicodedata.normalize("NFC", p)


def read_manifest(root: Path, path: Path | None = None) -> pd.DataFrame | None:
    """The manifest as a table keyed by normalised path, or None when the corpus has none (`path`: a manifest of
    the corpus at `root` under another name)."""
    path = root / MANIFEST if path is None else path
    if not os.path.lexists(path):
        return None
    text = _manifest_text(root, path)
    delimiter = csv_delimiter(text)
    if delimiter != ",":
        log.info("%s: read as %s-separated", path, _DELIMITER_NAMES[delimiter])
    rows, lines = _csv_rows(path, text, delimiter)
    header = _manifest_header(path, rows, delimiter)
    records = []
    for (lineno, last), row in zip(lines[1:], rows[1:]):
        if any(cell.strip() for cell in row):
            rec = _manifest_record(path, lineno, last, row, header)
            if rec is not None:
                records.append(rec)
    df = pd.DataFrame(records, columns=header)
    dup = df["path"].duplicated()
    if dup.any():
        log.warning("%s: %d path(s) listed twice (%s); the first row wins", path, int(dup.sum()),
                    ", ".join(df.loc[dup, "path"].head(3)))
        df = df[~dup]
    return df.set_index("path", drop=False)


def _manifest_text(root: Path, path: Path) -> str:
    """The manifest's text, in whatever encoding it was saved (said, when not UTF-8)."""
    if path.is_symlink() and not _inside(path, root.resolve()):
        raise ConfigError(f"{path}: manifest is a symbolic link to outside the corpus folder; not read")
    if not path.is_file():
        raise ConfigError(f"{path}: manifest is not a readable file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: manifest cannot be read ({exc.strerror or exc})") from None
    try:
        decoded = decode_bytes(data)
    except DecodeError as exc:
        raise ConfigError(f"{path}: manifest is not text ({exc})") from None
    if decoded.encoding not in ("utf-8", "utf-8-sig") or decoded.note:
        log.warning("%s: read as %s%s; save it as UTF-8 to be sure paths match", path, decoded.encoding,
                    f" ({decoded.note})" if decoded.note else "")
    return decoded.text.replace("\ufeff", "")


def _manifest_header(path: Path, rows: list[list[str]], delimiter: str) -> list[str]:
    """The manifest's column names, checked: the required ones there, none twice."""
    if not rows:
        raise ConfigError(f"{path}: manifest is empty (needs a header with columns "
                          f"{', '.join(REQUIRED_MANIFEST_COLUMNS)})")
    header = [_column_name(h) for h in rows[0]]
    missing = [c for c in REQUIRED_MANIFEST_COLUMNS if c not in header]
    if missing:
        how = f"{_DELIMITER_NAMES[delimiter]}-separated"
        # the error quotes nothing of the file but the column names this program knows: the file may not be
        # what it seems (a link or a copy of something private), and an error message travels further
        known = [h for h in header if h in KNOWN_MANIFEST_COLUMNS]
        raise ConfigError(f"{path}: manifest lacks required column(s) {', '.join(missing)} (read as {how}; its "
                          f"first line has {len(header)} field(s); known columns among them: "
                          f"{', '.join(known) or 'none'})")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        shown = [repr(h) if h in KNOWN_MANIFEST_COLUMNS else "columns " + " and ".join(
            str(i + 1) for i, x in enumerate(header) if x == h) for h in dupes]
        raise ConfigError(f"{path}: manifest has duplicate column name(s): {', '.join(shown)}")
    return header


def _manifest_record(path: Path, lineno: int, last: int, row: list[str], header: list[str]) -> dict | None:
    """A manifest row (on lines `lineno` to `last`) as {column: value}, values cleaned as a document's text is;
    None for a row without a path. What was wrong with it is said."""
    if len(row) != len(header):
        # a row over several lines has a quoted cell holding line breaks: with the wrong number of fields,
        # most likely a stray quote that took the rows up to the next quote into one cell
        joined = (f" (a quoted cell runs on to line {last}: if a quote (\") in it is a stray one, the rows up "
                  f"to line {last} were read into that cell)" if last > lineno else "")
        log.warning("%s line %d: %d fields where the header has %d%s; row padded/truncated", path, lineno,
                    len(row), len(header), joined)
        row = (row + [""] * len(header))[: len(header)]
    # the values reach the tables, the workbook and the reports as they are: control and zero-width
    # characters are dropped as from a document's text (the path stays as written, to match the file's name)
    rec = dict(zip(header, (c.strip() for c in row)))
    rec.update({k: normalise(v).strip() for k, v in rec.items() if k != "path"})
    for k in ("region", "lang"):
        # a code is one line: a quoted cell holding a line break made region "T\nW" a region of its own,
        # shown as "T W" in the reports
        if k in rec and rec[k] != one_line(rec[k]):
            log.warning("%s line %d: %s %r holds a line break, a tab or several spaces; read as %r", path, lineno,
                        k, rec[k], one_line(rec[k]))
            rec[k] = one_line(rec[k])
    rec["path"] = _clean_manifest_path(rec["path"])
    if not rec["path"]:
        log.warning("%s line %d: empty path; row ignored", path, lineno)
        return None
    return rec


def _column_name(header_cell: str) -> str:
    """A manifest column's name: the known columns in any case ("Path", "Region", "LANG", as typed in Excel, were
    'lacking' and stopped the run); the other columns as written, as they are carried along by name."""
    name = header_cell.strip()
    return name.lower() if name.lower() in KNOWN_MANIFEST_COLUMNS else name


_DELIMITER_NAMES = {",": "comma", ";": "';'", "\t": "tab", "|": "'|'"}


def _csv_rows(path: Path, text: str, delimiter: str) -> tuple[list[list[str]], list[tuple[int, int]]]:
    """The rows, and the first and last line of each (a quoted cell may hold line breaks)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[tuple[int, int]] = []
    try:
        for row in reader:
            lines.append((lines[-1][1] + 1 if lines else 1, reader.line_num))
            rows.append(row)
    except csv.Error as exc:
        raise ConfigError(f"{path} line {reader.line_num}: manifest is not valid "
                          f"{_DELIMITER_NAMES[delimiter]}-separated CSV ({exc})") from None
    # the reader takes a quote that is never closed to run to the end of the file: every row after it would
    # silently become part of one cell, and the files of those rows reported as not listed
    if rows and _unclosed_quote(text, lines[-1][0], delimiter):
        raise ConfigError(f"{path} line {lines[-1][0]}: manifest has a quote (\") that is never closed, so every "
                          f"line after it would be read into one cell (close the quote, or remove it)")
    return rows, lines


def _unclosed_quote(text: str, first_line: int, delimiter: str) -> bool:
    """Whether the row starting at `first_line` (the last one) ends inside a quoted cell."""
    tail = "".join(io.StringIO(text).readlines()[first_line - 1:])
    try:
        list(csv.reader(io.StringIO(tail), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


@dataclass(frozen=True)
class Found:
    """A file found in the corpus: its id in every table (`rel`) and where it is on disk (`path`)."""
    rel: str
    path: Path
    hidden: bool = False
    note: str = ""


def display_name(raw_rel: str) -> tuple[str, str]:
    """The id of a relative path: NFC, with bytes that are not UTF-8 written as \\xNN."""
    try:
        raw_rel.encode("utf-8")
        return unicodedata.normalize("NFC", raw_rel), ""
    except UnicodeEncodeError:
        shown = os.fsencode(raw_rel).decode("utf-8", errors="backslashreplace")
        return unicodedata.normalize("NFC", shown), "file name is not UTF-8 (odd bytes shown as \\xNN)"


def discover(root: Path) -> tuple[list[Found], list[dict]]:
    """All files below root (sorted by id), plus report rows for what is not read as a file.

    Symbolic links to folders are listed but not followed (a link loop would never end); links to files are
    read only when the file they lead to is inside the corpus folder (a link to /etc/passwd is not a policy
    text). Folders holding a previous run's outputs are listed but not entered. Hidden folders (name starting
    with '.') are listed but not entered; hidden files are found (and skipped unless the manifest names them). A
    folder that cannot be listed is reported as failed.
    """
    root = Path(root)
    real_root = root.resolve()
    found: list[Found] = []
    problems: list[dict] = []
    used: set[str] = set()
    linked: list[str] = []  # links not followed

    def claim(full: Path) -> tuple[str, str]:
        raw = full.relative_to(root).as_posix()
        rel, note = display_name(raw)
        if rel in used:  # two names that differ only in Unicode normalisation (or in escaped bytes)
            alt = os.fsencode(raw).decode("utf-8", errors="backslashreplace")
            n = 2
            while alt in used or alt == rel:
                alt, n = f"{rel} ({n})", n + 1
            note = "; ".join(x for x in (note, f"name is the same as '{rel}' after Unicode normalisation; "
                                               "listed under its exact name") if x)
            rel = alt
        used.add(rel)
        return rel, note

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        try:
            rel, _ = claim(where)
        except ValueError:
            rel = str(where)
        problems.append(report_row(rel, "failed", f"folder cannot be listed: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        keep = []
        for d in sorted(dirnames, key=_name_order):
            full = Path(dirpath) / d
            why = _not_entered(full)
            if why is None:
                keep.append(d)
                continue
            rel, note = claim(full)
            if full.is_symlink():
                linked.append(rel)
            problems.append(report_row(rel, "skipped", join_reasons(note, why)))
        dirnames[:] = keep
        for f in sorted(filenames, key=_name_order):
            full = Path(dirpath) / f
            rel, note = claim(full)
            if full.is_symlink() and not full.exists():
                problems.append(report_row(rel, "failed", join_reasons(note, f"broken or looping symbolic link "
                                                                    f"({_link_target(full)})")))
                continue
            if full.is_symlink() and not _inside(full, real_root):
                linked.append(rel)
                problems.append(report_row(rel, "skipped", join_reasons(note, f"symbolic link to outside the corpus folder "
                                                                     f"({_link_target(full)}); not followed")))
                continue
            found.append(Found(rel, full, f.startswith("."), note))
    if linked:
        # each link was made on purpose, to bring a document in: said, not only written in the report
        log.warning("%s: %d symbolic link(s) to a folder, or to a file outside the corpus folder, not followed: %s "
                    "(copy the documents into the corpus folder to have them read; see ingest_report.csv)",
                    root, len(linked), first_few(sorted(linked)))
    return sorted(found, key=lambda e: e.rel), problems


def _not_entered(folder: Path) -> str | None:
    """Why discover lists `folder` but does not enter it (a link to a folder, a hidden folder, a previous run's
    outputs); None for a folder to enter."""
    if folder.is_symlink():
        return f"symbolic link to a folder ({_link_target(folder)}); not followed"
    if folder.name.startswith("."):
        return "hidden folder (name starts with '.'); not read"
    if is_output_folder(folder):
        held = [m for m in RUN_MARKERS if os.path.lexists(folder / m)]
        return (f"holds a previous run's outputs ({', '.join(held)}); not read" if held else
                f"holds the lock file a run takes in its output folder ({LOCK_FILE}); not read: delete that file "
                "if no run writes there")
    return None


def _name_order(name: str) -> tuple:
    # of two names equal after normalisation, the one already in NFC gets the plain id
    nfc = unicodedata.normalize("NFC", name)
    return nfc, name != nfc, name


def _inside(path: Path, real_root: Path) -> bool:
    """Whether `path`, its links followed, lies in the folder `real_root` (already resolved)."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return target == real_root or real_root in target.parents


def _link_target(path: Path) -> str:
    try:
        return f"to {os.readlink(path)}"
    except OSError:
        return "target unreadable"


_NOTES_NAMES = ("README", "READ ME", "LICENSE", "LICENCE", "CHANGELOG", "CHANGES", "CONTRIBUTING")


def corpus_notes(rel: str) -> bool:
    """Whether a file is by its name notes about the corpus (README.md and the like) rather than a document."""
    stem = Path(rel).stem.upper().replace("_", " ").replace("-", " ")
    return any(stem == n or stem.startswith(n + " ") or stem.startswith(n + ".") for n in _NOTES_NAMES)


def report_row(path, status, reason, doc_id="", duplicate_of="", encoding="", nbytes=0, region="") -> dict:
    return {"path": path, "status": status, "reason": one_line(reason), "doc_id": doc_id,
            "duplicate_of": duplicate_of, "encoding": encoding, "bytes": int(nbytes), "region": region}


def region_of(rel: str, meta: dict) -> str:
    """The region a file is for: its manifest row's, else its first-level folder's, else ROOT_REGION."""
    return meta.get("region") or (rel.split("/")[0] if "/" in rel else ROOT_REGION)
