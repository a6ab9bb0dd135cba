"""Stage 1: a corpus folder in, the `documents` table and the ingest report out.

Every file found under the corpus root ends up in the report with a status (ingested, skipped,
duplicate_of, failed) and a reason a person can act on. A bad file never stops the run; only a broken
configuration (missing corpus folder, manifest without its required columns) does.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .io import ConfigError
from .schemas import DOCUMENTS, INGEST_REPORT, check

log = logging.getLogger(__name__)

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
             ".docx": "docx", ".pdf": "pdf"}
MANIFEST = "manifest.csv"
REQUIRED_MANIFEST_COLUMNS = ("path", "region", "lang")
KNOWN_MANIFEST_COLUMNS = ("path", "region", "region_name", "lang", "title", "date")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DATE_IN_NAME = re.compile(r"[（(](\d{4}-\d{2}-\d{2})[)）]")

# Full-width punctuation carries meaning in Chinese text (and the segmenter relies on it), so NFKC must not
# fold it to ASCII. It is parked in the Private Use Area during normalisation and restored afterwards.
_FULLWIDTH_PUNCT = [c for c in map(chr, range(0xFF01, 0xFF66)) if not c.isalnum()] + ["\u3000"]
_PARK = {ord(c): 0xE000 + i for i, c in enumerate(_FULLWIDTH_PUNCT)}
_UNPARK = {v: k for k, v in _PARK.items()}


class DecodeError(ValueError):
    pass


@dataclass
class Decoded:
    text: str
    encoding: str
    note: str = ""


def decode_bytes(data: bytes) -> Decoded:
    """Decode policy text bytes: BOMs first, then UTF-8, UTF-16 (by NUL parity), GB18030, then a guess.

    Raises DecodeError with a reason for binary or undecodable content.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return Decoded(data[3:].decode("utf-8", errors="replace"), "utf-8-sig")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be"
        return Decoded(data[2:].decode(enc, errors="replace"), enc)
    nul = data.count(0)
    if nul:
        # UTF-16 without a BOM: ASCII characters and many CJK ones carry a zero byte; choose the byte order
        # whose decoding reads as text
        best = None
        if len(data) % 2 == 0:
            for enc in ("utf-16-le", "utf-16-be"):
                try:
                    text = data.decode(enc)
                except UnicodeDecodeError:
                    continue
                score = _text_score(text)
                if score >= 0.95 and (best is None or score > best[0]):
                    best = (score, text, enc)
        if best:
            return Decoded(best[1], best[2])
        raise DecodeError(f"binary content ({nul} NUL bytes), not a text file")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    if bad <= max(1, len(lenient) // 1000):
        return Decoded(lenient, "utf-8", f"{bad} undecodable byte sequence(s) replaced with U+FFFD")
    for enc in ("gbk", "gb18030", "big5"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _plausible(text):
            return Decoded(text, enc)
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.percent_chaos <= 0.1 and _plausible(str(best)):
        return Decoded(str(best), best.encoding, "encoding guessed")
    raise DecodeError("undecodable: not UTF-8, UTF-16, GBK/GB18030 or Big5 text")


def _text_score(text: str) -> float:
    """Share of characters that occur in policy text: CJK, Latin, digits, punctuation, layout."""
    if not text:
        return 0.0
    good = sum(1 for c in text if c.isprintable() and unicodedata.category(c)[0] in "LNPZS" and
               not ("\uac00" <= c <= "\ud7af") or c in "\n\t")
    return good / len(text)


def _plausible(text: str) -> bool:
    if not text:
        return True
    odd = sum(1 for c in text if unicodedata.category(c) in ("Cc", "Co", "Cn") and c not in "\n\r\t\f")
    return odd / len(text) < 0.01


def normalise(text: str) -> str:
    """NFKC (full-width Latin letters and digits become ASCII) but keep full-width punctuation."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = unicodedata.normalize("NFKC", text.translate(_PARK)).translate(_UNPARK)
    # stray control characters break Parquet viewers and Excel; keep layout characters
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc") if _has_controls(text) else text


def _has_controls(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\n\t" for c in text[:1_000_000]) or "\x7f" in text


def han_share(text: str, sample: int = 5000) -> float:
    s = text[:sample]
    letters = sum(1 for c in s if c.isalpha())
    han = sum(1 for c in s if "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf")
    return han / letters if letters else 0.0


def detect_lang(text: str) -> str:
    return "zh" if han_share(text) >= 0.3 else "en"


_t2s = None


def to_simplified(text: str) -> tuple[str, bool]:
    """Convert Traditional Chinese to Simplified with OpenCC; report whether the text was Traditional."""
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    sample = text[:4000]
    han = sum(1 for c in sample if "\u4e00" <= c <= "\u9fff")
    if not han:
        return text, False
    changed = sum(1 for a, b in zip(sample, _t2s.convert(sample)) if a != b)
    # Simplified text has a few characters OpenCC still maps (e.g. variant forms); Traditional has many
    if changed / han < 0.03:
        return text, False
    return _t2s.convert(text), True


def extract_text(data: bytes, fmt: str) -> tuple[Decoded, str]:
    """Return the decoded text and a title found inside the file ("" if none)."""
    if fmt in ("txt", "md"):
        return decode_bytes(data), ""
    if fmt == "html":
        return _html_text(decode_bytes(data))
    if fmt == "docx":
        import docx

        try:
            d = docx.Document(io.BytesIO(data))
        except Exception as exc:  # python-docx raises several types for broken zips
            raise DecodeError(f"not a readable .docx ({type(exc).__name__})") from None
        return Decoded("\n\n".join(p.text for p in d.paragraphs), "docx"), d.core_properties.title or ""
    if fmt == "pdf":
        from pypdf import PdfReader

        try:
            reader = PdfReader(io.BytesIO(data))
            pages = [p.extract_text() or "" for p in reader.pages]
        except Exception as exc:  # pypdf raises many types on malformed files
            raise DecodeError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
        text = "\n\n".join(pages)
        if not text.strip():
            raise DecodeError(f"PDF has no text layer ({len(pages)} page(s)); scanned images need OCR first")
        return Decoded(text, "pdf"), ""
    raise DecodeError(f"unsupported format {fmt}")


def _html_text(decoded: Decoded) -> tuple[Decoded, str]:
    from bs4 import BeautifulSoup

    # lxml parses only; nothing in the page (scripts, handlers, remote resources) is run or fetched
    soup = BeautifulSoup(decoded.text, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "iframe", "object", "head"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "pre", "div"]):
        if el.find(["p", "div", "li", "h1", "h2", "h3", "h4", "table"]):
            continue  # a container: its children are emitted instead
        t = el.get_text(" ", strip=True)
        if t:
            blocks.append(t)
    text = "\n\n".join(blocks) if blocks else soup.get_text("\n", strip=True)
    return Decoded(text, decoded.encoding, decoded.note), title


def title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return fallback


# ----------------------------------------------------------------------------------------------- corpus


def read_manifest(root: Path) -> pd.DataFrame | None:
    """The manifest as a table keyed by normalised path, or None when the corpus has none."""
    path = root / MANIFEST
    if not path.exists():
        return None
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: manifest is not UTF-8") from None
    rows = list(csv.reader(io.StringIO(raw)))
    if not rows:
        raise ConfigError(f"{path}: manifest is empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED_MANIFEST_COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"{path}: manifest lacks required column(s) {', '.join(missing)} (has: {', '.join(header)})")
    if len(set(header)) != len(header):
        raise ConfigError(f"{path}: manifest has duplicate column names")
    records = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            log.warning("%s line %d: %d fields where the header has %d; row padded/truncated", path, lineno,
                        len(row), len(header))
            row = (row + [""] * len(header))[: len(header)]
        rec = dict(zip(header, (c.strip() for c in row)))
        rec["path"] = unicodedata.normalize("NFC", rec["path"].replace("\\", "/").lstrip("./"))
        if not rec["path"]:
            log.warning("%s line %d: empty path; row ignored", path, lineno)
            continue
        records.append(rec)
    df = pd.DataFrame(records, columns=header)
    dup = df["path"].duplicated()
    if dup.any():
        log.warning("%s: %d path(s) listed twice; the first row wins", path, int(dup.sum()))
        df = df[~dup]
    return df.set_index("path", drop=False)


def discover(root: Path) -> tuple[list[str], list[dict]]:
    """All regular files below root (relative posix paths, sorted), plus report rows for unreadable entries.

    Symbolic links to directories are not followed (a link loop would never end); links to files are read.
    """
    found: list[str] = []
    problems: list[dict] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for d in list(dirnames):
            full = Path(dirpath) / d
            if full.is_symlink():
                rel = full.relative_to(root).as_posix()
                problems.append(_report(rel, "skipped", "symbolic link to a folder; not followed"))
        for f in sorted(filenames):
            full = Path(dirpath) / f
            rel = unicodedata.normalize("NFC", full.relative_to(root).as_posix())
            if f.startswith("."):
                continue
            if full.is_symlink() and not full.exists():
                problems.append(_report(rel, "failed", "broken or looping symbolic link"))
                continue
            found.append(rel)
    return sorted(found), problems


def _report(path, status, reason, doc_id="", duplicate_of="", encoding="", nbytes=0) -> dict:
    return {"path": path, "status": status, "reason": reason, "doc_id": doc_id, "duplicate_of": duplicate_of,
            "encoding": encoding, "bytes": int(nbytes)}


def ingest(corpus: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, progress: bool = False
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a corpus folder into (documents, ingest_report)."""
    root = Path(corpus)
    if not root.exists():
        raise ConfigError(f"{root}: corpus folder does not exist")
    if not root.is_dir():
        raise ConfigError(f"{root}: corpus path is not a folder")
    manifest = read_manifest(root)
    files, report = discover(root)
    on_disk = set(files)
    if manifest is not None:
        for p in manifest.index:
            if p not in on_disk:
                report.append(_report(p, "failed", f"listed in {MANIFEST} but not found"))
    docs: list[dict] = []
    seen_hash: dict[str, str] = {}
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="ingest", unit="file")
    for rel in iterator:
        if rel == MANIFEST:
            continue
        row = manifest.loc[rel] if manifest is not None and rel in manifest.index else None
        if manifest is not None and row is None:
            report.append(_report(rel, "skipped", f"not listed in {MANIFEST}", nbytes=_size(root / rel)))
            continue
        fmt = SUPPORTED.get(Path(rel).suffix.lower())
        if fmt is None:
            report.append(_report(rel, "skipped", f"unsupported file type '{Path(rel).suffix or '(none)'}'",
                                  nbytes=_size(root / rel)))
            continue
        rec, rep = _ingest_one(root, rel, fmt, row, max_bytes)
        if rec is not None:
            first = seen_hash.get(rec["content_hash"])
            if first is not None:
                rep.update(status="duplicate_of", duplicate_of=first, reason=f"same text as {first}")
            else:
                seen_hash[rec["content_hash"]] = rel
                docs.append(rec)
        report.append(rep)

    documents = pd.DataFrame(docs, columns=list(DOCUMENTS.columns)) if docs else pd.DataFrame(
        {c: pd.Series(dtype="bool" if c == "converted_t2s" else "str") for c in DOCUMENTS.columns})
    rep_df = pd.DataFrame(report, columns=list(INGEST_REPORT.columns)).sort_values("path", kind="stable")
    return check(documents, DOCUMENTS), check(rep_df.drop_duplicates("path"), INGEST_REPORT)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _ingest_one(root: Path, rel: str, fmt: str, row, max_bytes: int) -> tuple[dict | None, dict]:
    path = root / rel
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, _report(rel, "skipped", f"{size / 2**20:.0f} MB is over the {max_bytes / 2**20:.0f} MB "
                                             "limit (raise it with --max-mb)", nbytes=size)
        data = path.read_bytes()
    except OSError as exc:
        return None, _report(rel, "failed", f"cannot read: {exc.strerror or exc}")
    try:
        decoded, inner_title = extract_text(data, fmt)
    except DecodeError as exc:
        log.warning("%s: %s", rel, exc)
        return None, _report(rel, "failed", str(exc), nbytes=len(data))
    text = normalise(decoded.text).strip("\n")
    if not text.strip():
        reason = "empty file" if not data else "no text (whitespace only)"
        return None, _report(rel, "skipped", reason, encoding=decoded.encoding, nbytes=len(data))

    meta = {} if row is None else {k: ("" if pd.isna(v) else str(v)) for k, v in row.items()}
    lang = meta.get("lang") or detect_lang(text)
    if lang not in ("zh", "en"):
        lang = detect_lang(text)
    original = ""
    converted = False
    if lang == "zh":
        simplified, converted = to_simplified(text)
        if converted:
            original, text = text, simplified
    region = meta.get("region") or (rel.split("/")[0] if "/" in rel else "(root)")
    date = meta.get("date") or ""
    if not date:
        m = DATE_IN_NAME.search(Path(rel).name)
        date = m.group(1) if m else ""
    title = meta.get("title") or inner_title or title_from_text(text, Path(rel).stem)
    extra = {k: v for k, v in meta.items() if k not in KNOWN_MANIFEST_COLUMNS}
    notes = [n for n in (decoded.note, "converted from Traditional Chinese" if converted else "") if n]
    rec = {
        "doc_id": rel, "region": region, "region_name": meta.get("region_name") or region, "lang": lang,
        "title": title, "date": date, "source_format": fmt, "encoding": decoded.encoding,
        "content_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(), "converted_t2s": converted,
        "text": text, "text_original": original, "extra": json.dumps(extra, ensure_ascii=False, sort_keys=True),
    }
    return rec, _report(rel, "ingested", "; ".join(notes) or "ok", doc_id=rel, encoding=decoded.encoding,
                        nbytes=len(data))
