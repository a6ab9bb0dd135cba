"""Stage 1: a corpus folder in, the `documents` table and the ingest report out.

Every file found under the corpus root ends up in the report with a status (ingested, skipped,
duplicate_of, failed) and a reason a person can act on. A bad file never stops the run; only a broken
configuration (missing corpus folder, manifest without its required columns) does.

Nothing in a corpus is executed or followed: HTML is parsed (never rendered, scripts never run, nothing
fetched), symbolic links to folders are listed but not entered, and only regular files are read (a named pipe
or device in the corpus would otherwise block or never end).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import stat
import unicodedata
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .io import ConfigError
from .nodes import fingerprint
from .outdir import is_output_folder
from .schemas import DOCUMENTS, INGEST_REPORT, check

log = logging.getLogger(__name__)

SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html",
             ".docx": "docx", ".pdf": "pdf"}
MANIFEST = "manifest.csv"
REQUIRED_MANIFEST_COLUMNS = ("path", "region", "lang")
KNOWN_MANIFEST_COLUMNS = ("path", "region", "region_name", "lang", "title", "date")
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# the region of a file at the corpus root that the manifest gives no region (regions are first-level folders)
ROOT_REGION = "(root)"
ROOT_NOTE = (f"at the corpus root, not in a region folder: region '{ROOT_REGION}' (move it into a folder named "
             f"after its region, or give its region in {MANIFEST})")
DATE_IN_NAME = re.compile(r"[（(](\d{4}-\d{2}-\d{2})[)）]")
# heuristics look at this many characters; deciding on the head of a 60 MB file is as good and far quicker
_SAMPLE = 200_000

# Full-width punctuation carries meaning in Chinese text (and the segmenter relies on it), so NFKC must not
# fold it to ASCII: the text is normalised in the stretches between runs of it.
_FULLWIDTH_PUNCT = [c for c in map(chr, range(0xFF01, 0xFF66)) if not c.isalnum()] + ["\u3000"]
_FW_SPLIT = re.compile("([" + re.escape("".join(_FULLWIDTH_PUNCT)) + "]+)")
_BREAKS = re.compile(r"\r\n?|[\v\f]")  # line ends and page/form feeds become \n
# other C0/C1 controls, stray BOMs, and invisible format characters (zero-width space/joiners, word joiner,
# invisible operators, soft hyphen, bidi marks and embeddings): inside a term (产\u200d学\u200d研,
# tech\u200bnology) they hide it from the lexicon and show nothing to a reader
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                       "\u2066-\u2069\ufeff]")
# bytes that never occur in text of any encoding read here (layout controls \t \n \v \f \r and ESC aside);
# in UTF-8, GBK, GB18030 and Big5 no multi-byte sequence contains one, so dropping them keeps the rest intact
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0e, 0x1b), *range(0x1c, 0x20)])
# more than this share of control bytes is a binary file, not text with a few stray bytes
_BINARY_SHARE = 0.01
_SURROGATES = re.compile("[\ud800-\udfff]")


class DecodeError(ValueError):
    pass


@dataclass
class Decoded:
    text: str
    encoding: str
    note: str = ""


def decode_bytes(data: bytes) -> Decoded:
    """Decode policy text bytes: BOMs first, then UTF-8, UTF-16 (by NUL parity), GB18030, then a guess.

    Returns text that always encodes as UTF-8 (no lone surrogates). Raises DecodeError, and nothing else,
    with a reason for binary or undecodable content.
    """
    data = bytes(data)
    if data.startswith(b"\xef\xbb\xbf"):
        return Decoded(data[3:].decode("utf-8", errors="replace"), "utf-8-sig")
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        enc = "utf-32-le" if data.startswith(b"\xff\xfe") else "utf-32-be"
        return Decoded(data[4:].decode(enc, errors="replace"), enc)
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
        kept = data.translate(None, _CONTROL_BYTES)
        dropped = len(data) - len(kept)
        if dropped > 1 and dropped > len(data) * _BINARY_SHARE:
            raise DecodeError(f"binary content ({nul} NUL bytes), not a text file")
        # a few stray bytes (a NUL pasted in, a truncated copy) do not make a text file binary
        decoded = decode_bytes(kept)
        return Decoded(decoded.text, decoded.encoding,
                       _join(f"{dropped} stray control byte(s) ({nul} NUL) dropped", decoded.note))
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
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        guess = None
        if best is not None and best.percent_chaos <= 0.1:
            text = _SURROGATES.sub("\ufffd", str(best))
            if _plausible(text):
                guess = Decoded(text, best.encoding, "encoding guessed")
    except Exception as exc:  # a guesser failing on odd bytes is just "no guess"
        log.debug("charset_normalizer failed: %r", exc)
        guess = None
    if guess is not None:
        return guess
    raise DecodeError("undecodable: not UTF-8, UTF-16, GBK/GB18030 or Big5 text")


def _text_score(text: str) -> float:
    """Share of characters that occur in policy text: CJK, Latin, digits, punctuation, layout."""
    text = text[:_SAMPLE]
    if not text:
        return 0.0
    good = sum(1 for c in text if c.isprintable() and unicodedata.category(c)[0] in "LNPZS" and
               not ("\uac00" <= c <= "\ud7af") or c in "\n\t")
    return good / len(text)


def _plausible(text: str) -> bool:
    text = text[:_SAMPLE]
    if not text:
        return True
    odd = sum(1 for c in text if unicodedata.category(c) in ("Cc", "Co", "Cn", "Cs") and c not in "\n\r\t\f")
    return odd / len(text) < 0.01


def normalise(text: str) -> str:
    """NFKC (full-width Latin letters and digits become ASCII) but keep full-width punctuation.

    Line ends become \\n, form feeds a line break, other control characters (which break Parquet viewers and
    Excel) and stray BOMs are dropped, lone surrogates become U+FFFD. Private Use Area characters (GBK
    user-defined characters) are kept as they are. Idempotent.
    """
    text = _BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text)
    text = _SURROGATES.sub("\ufffd", text)
    if text.isascii():
        return text  # NFKC leaves ASCII alone
    parts = _FW_SPLIT.split(text)
    parts[::2] = [unicodedata.normalize("NFKC", p) for p in parts[::2]]
    return "".join(parts)


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
    return _same_length_t2s(text), True


def _same_length_t2s(text: str) -> str:
    """OpenCC's conversion, kept character for character so that every offset into the converted text (passages,
    matched terms) is also an offset into the original. OpenCC's phrase conversions keep the length in nearly all
    cases; a line where one does not is converted character by character instead (a character whose conversion
    is not one character is left as it is)."""
    out = _t2s.convert(text)
    if len(out) == len(text):
        return out
    lines = []
    for line in text.splitlines(keepends=True):
        conv = _t2s.convert(line)
        if len(conv) != len(line):
            conv = "".join(c if len(c := _t2s.convert(ch)) == 1 else ch for ch in line)
        lines.append(conv)
    return "".join(lines)


# A .docx is a zip archive, and python-docx inflates every member into memory and parses its XML whole: a 3 MB
# file can hold 1 GB of XML. So the size limit holds for what the archive expands to, checked on the sizes its
# directory declares before anything is inflated (zipfile stops a member at its declared size and then fails
# its CRC check, so an archive that lies about a size fails instead of growing).
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_RATIO = 100  # Word's XML deflates 5-20:1; far beyond that is a decompression bomb
ZIP_RATIO_FLOOR = 4 * 2**20  # below this a member may compress as well as it likes: it stays small


def check_archive(data: bytes, max_bytes: int) -> None:
    """Raise DecodeError when the zip archive `data` would expand past `max_bytes` or looks like a bomb."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DecodeError(f"not a readable .docx ({type(exc).__name__})") from None
    if len(members) > ZIP_MAX_MEMBERS:
        raise DecodeError(f"zip archive of {len(members)} members (more than {ZIP_MAX_MEMBERS}); not read")
    expanded = sum(m.file_size for m in members)
    if expanded > max_bytes:
        raise DecodeError(f"expands to {_mb(expanded)}, over the {_mb(max_bytes)} limit (raise it with --max-mb); "
                          f"not read")
    for m in members:
        if m.file_size > ZIP_RATIO_FLOOR and m.file_size > ZIP_MAX_RATIO * max(m.compress_size, 1):
            raise DecodeError(f"a member expands {m.file_size // max(m.compress_size, 1)}:1 ({_mb(m.file_size)}), "
                              f"a decompression bomb; not read")


def extract_text(data: bytes, fmt: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[Decoded, str]:
    """Return the decoded text and a title found inside the file ("" if none); `max_bytes` bounds what a
    compressed format may expand to."""
    if fmt in ("txt", "md"):
        return decode_bytes(data), ""
    if fmt == "html":
        return _html_text(decode_bytes(data))
    if fmt == "docx":
        import docx

        check_archive(data, max_bytes)
        try:
            d = docx.Document(io.BytesIO(data))
            text = "\n\n".join(p.text for p in d.paragraphs)
            title = d.core_properties.title or ""
        except Exception as exc:  # python-docx raises several types for broken zips
            raise DecodeError(f"not a readable .docx ({type(exc).__name__})") from None
        return Decoded(text, "docx"), title
    if fmt == "pdf":
        from pypdf import PdfReader

        failed = None
        with _library_messages("pypdf") as said:
            try:
                reader = PdfReader(io.BytesIO(data))
                pages = [p.extract_text() or "" for p in reader.pages]
            except Exception as exc:  # pypdf raises many types on malformed files
                failed = exc
        said_note = f"pypdf: {'; '.join(said)}" if said else ""
        if failed is not None:
            raise DecodeError(f"not a readable PDF ({type(failed).__name__}: {_one_line(str(failed))}"
                              f"{'; ' + said_note if said_note else ''})")
        text = "\n\n".join(pages)
        if not text.strip():
            raise DecodeError(f"PDF has no text layer ({len(pages)} page(s)); scanned images need OCR first"
                              f"{' (' + said_note + ')' if said_note else ''}")
        return Decoded(text, "pdf", said_note), ""
    raise DecodeError(f"unsupported format {fmt}")


@contextmanager
def _library_messages(logger: str):
    """What a library logs or warns while one file is read, kept to be reported with the file's name (the
    library prints messages such as "EOF marker not found" naming no file). Yields the list it fills."""
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    lg, keep = logging.getLogger(logger), Keep(logging.WARNING)
    propagate = lg.propagate
    lg.addHandler(keep)
    lg.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield said
            said.extend(str(w.message) for w in caught)
    finally:
        lg.removeHandler(keep)
        lg.propagate = propagate
        unique = list(dict.fromkeys(_one_line(m) for m in said if m.strip()))
        said[:] = unique[:3] + ([f"{len(unique) - 3} more"] if len(unique) > 3 else [])


# block-level elements: text inside one of them is a paragraph of its own
_HTML_BLOCKS = frozenset(
    "html body p div li h1 h2 h3 h4 h5 h6 td th tr table thead tbody tfoot caption pre ul ol dl dt dd section "
    "article header footer nav aside main blockquote figure figcaption form fieldset legend address hr "
    "details summary center".split())
_HTML_DROP = ["script", "style", "noscript", "template", "iframe", "object", "embed", "head", "svg", "math"]
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_SPACES = re.compile(r"[ \t]{2,}")


def _html_text(decoded: Decoded) -> tuple[Decoded, str]:
    """Readable text of an HTML page: one paragraph per block element, <br> a line break.

    One pass in document order, so the time is linear in the size of the page however deep it nests.
    """
    from bs4 import BeautifulSoup
    from bs4.element import CData, NavigableString, PreformattedString, Tag

    # lxml parses only; nothing in the page (scripts, handlers, remote resources) is run or fetched
    soup = BeautifulSoup(decoded.text, "lxml")
    title = _HTML_SPACE.sub(" ", soup.title.get_text(" ")).strip() if soup.title else ""
    for tag in soup(_HTML_DROP):
        tag.decompose()
    block_of: dict[int, object] = {}   # id(element) -> nearest enclosing block element (or None)
    in_pre: dict[int, bool] = {}
    paragraphs: list[str] = []
    buf: list[str] = []
    current = None

    def flush() -> None:
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(buf).split("\n"))
        para = "\n".join(line for line in lines if line)
        if para:
            paragraphs.append(para)
        buf.clear()

    for el in soup.descendants:
        parent = el.parent
        if isinstance(el, Tag):
            pblock = block_of.get(id(parent)) if parent is not None else None
            if el.name in _HTML_BLOCKS:
                block_of[id(el)] = el
                flush()
                current = el
            else:
                block_of[id(el)] = pblock
            in_pre[id(el)] = el.name in ("pre", "textarea", "listing") or in_pre.get(id(parent), False)
            if el.name == "br":
                buf.append("\n")
            continue
        if not isinstance(el, NavigableString) or (isinstance(el, PreformattedString) and not isinstance(el, CData)):
            continue  # comments, doctype, processing instructions
        blk = block_of.get(id(parent))
        if blk is not current:
            flush()
            current = blk
        s = str(el)
        buf.append(s if in_pre.get(id(parent)) else _HTML_SPACE.sub(" ", s))
    flush()
    return Decoded("\n\n".join(paragraphs), decoded.encoding, decoded.note), title


# ---------------------------------------------------------------------------------------------- dates
#
# A document's date comes from, in this order: the manifest's `date` column, a "(YYYY-MM-DD)" in the file
# name, the text. In the text, adoption and promulgation dates in the header (通过, 批准, 公布, 发布, 印发, 颁布;
# English "approved", "enacted") come before the effective date (施行 / "Effective Date"), because the
# manifest dates researchers write are adoption dates and the two must mean the same thing. Only the header
# (text before the first article) is searched for adoption dates: the body cites other laws with theirs.

EARLIEST_YEAR = 1949
_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_N = "[0-9〇○零Ｏ一二三四五六七八九十百两]"
_CN_DATE = (rf"(?P<roc>(?:中华)?民国[ \t]*)?(?P<y>{_N}{{2,4}})[ \t]*年[ \t]*(?P<m>{_N}{{1,2}})[ \t]*月"
            rf"[ \t]*(?P<d>{_N}{{1,3}})[ \t]*日")
_CN_PROMULGATED = "通过|批准|公布|发布|印发|颁布"
# a date, then (within the clause, without passing another date) the word saying what happened on it
_CN_DATE_THEN_WORD = re.compile(_CN_DATE + r"(?:(?!" + _N + r"{2,4}[ \t]*年)[^。；;\n]){0,40}?"
                                rf"(?P<form>{_CN_PROMULGATED}|施行|实施)")
# 发布日期：2017年4月20日
_CN_WORD_THEN_DATE = re.compile(rf"(?P<form>{_CN_PROMULGATED}|施行|实施|成文)(?:日期|时间)[ \t]*[：:]?[ \t]*" + _CN_DATE)
# 本条例自2020年3月1日起施行 (usually the last article)
_CN_IN_FORCE = re.compile(r"自[ \t]*" + _CN_DATE + r"[ \t]*起?[ \t]*(?P<form>施行|实施|生效)")
_MONTHS = {m: i for i, names in enumerate(
    (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
     ("december", "dec")), start=1) for m in names}
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_EN_DATE = (rf"(?:(?P<mn>{_MONTH})[ \t]+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?[ \t]+(?P<y>\d{{4}})"
            rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?[ \t]+(?P<mn2>{_MONTH}),?[ \t]+(?P<y2>\d{{4}})"
            r"|(?P<y3>\d{4})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2}))\b")
_EN_EFFECTIVE = re.compile(r"\b(?P<form>effective[ \t]+date)\b[ \t]*[:：\-–—]?[ \t]*\n?[ \t]*(?:is[ \t]+)?" + _EN_DATE,
                           re.IGNORECASE)
_EN_PROMULGATED = re.compile(r"\b(?P<form>approved|enacted)\b[ \t]*[:：\-–—]?[^.\n]{0,60}?" + _EN_DATE,
                             re.IGNORECASE)
_HEAD_CHARS = 1500
_FIRST_ARTICLE = re.compile(r"^[ \t\u3000]*第[一二三四五六七八九十百零〇0-9]+条", re.MULTILINE)


def _cn_number(s: str) -> int | None:
    """12, 十二, 二十, 三十一, 一百零六, 二〇一七 (a year written digit by digit)."""
    if s.isdigit():
        return int(s)
    if "十" not in s and "百" not in s:
        if any(c not in _CN_DIGITS for c in s):
            return None
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total, cur = 0, 0
    for c in s:
        if c in _CN_DIGITS:
            cur = _CN_DIGITS[c]
        elif c == "百":
            total += (cur or 1) * 100
            cur = 0
        elif c == "十":
            total += (cur or 1) * 10
            cur = 0
        else:
            return None
    return total + cur


def plausible_date(year: int | None, month: int | None, day: int | None) -> str:
    """ISO date, or "" when it is no calendar date or its year is before 1949 or after next year (a year
    like that is an article number, a citation or a typing slip, not the date of a current policy)."""
    import datetime

    if year is None or month is None or day is None:
        return ""
    if not EARLIEST_YEAR <= year <= datetime.date.today().year + 1:
        return ""
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return ""


def _cn_match_date(m: re.Match) -> str:
    year = _cn_number(m.group("y"))
    if year is not None and m.group("roc"):
        year += 1911  # 民国 (Republic of China) years
    elif len(m.group("y")) != 4:
        return ""
    return plausible_date(year, _cn_number(m.group("m")), _cn_number(m.group("d")))


def _en_match_date(m: re.Match) -> str:
    g = m.groupdict()
    if g["y3"]:
        return plausible_date(int(g["y3"]), int(g["m3"]), int(g["d3"]))
    year, day, month = (g["y"], g["d"], g["mn"]) if g["y"] else (g["y2"], g["d2"], g["mn2"])
    return plausible_date(int(year), _MONTHS.get(month.lower().rstrip(".")), int(day))


def date_from_text(text: str, lang: str) -> tuple[str, str]:
    """(ISO date, the form it was read from) for a document's promulgation, adoption or effective date as its
    text states it, or ("", "") when it states none that is plausible."""
    first = _FIRST_ARTICLE.search(text)
    head = text[: min(first.start(), _HEAD_CHARS)] if first else text[:_HEAD_CHARS]
    found: list[tuple[int, int, str, str]] = []  # (rank, position, date, form); lowest first wins
    if lang == "zh":
        for rx in (_CN_DATE_THEN_WORD, _CN_WORD_THEN_DATE):
            for m in rx.finditer(head):
                form = m.group("form")
                found.append((1 if form in ("施行", "实施") else 0, m.start(), _cn_match_date(m), form))
        for m in _CN_IN_FORCE.finditer(text):
            found.append((1, m.start(), _cn_match_date(m), m.group("form")))
    else:
        for m in _EN_PROMULGATED.finditer(head):
            found.append((0, m.start(), _en_match_date(m), m.group("form").lower()))
        for m in _EN_EFFECTIVE.finditer(text):
            found.append((1, m.start(), _en_match_date(m), "Effective Date"))
    for _, _, date, form in sorted(found):
        if date:
            return date, form
    return "", ""


def document_date(meta: dict, rel: str, text: str, lang: str) -> tuple[str, str]:
    """(date, where it came from: manifest | filename | text:<form> | "")."""
    if (meta.get("date") or "").strip():
        return meta["date"].strip(), "manifest"
    m = DATE_IN_NAME.search(Path(rel).name)
    if m:
        y, mo, d = (int(x) for x in m.group(1).split("-"))
        date = plausible_date(y, mo, d)
        if date:
            return date, "filename"
    date, form = date_from_text(text, lang)
    return (date, f"text:{form}") if date else ("", "")


# The temporal view has a row per year from a region's first dated document on: a date in year 1 or 9999 would
# make it millions of rows (past Excel's limit) about years no policy text comes from.
FIRST_YEAR = 1900


def _last_year() -> int:
    import datetime

    return datetime.date.today().year + 1


def plausible_year(date: str) -> bool:
    """False for a date whose year (its first four characters, as the temporal view reads them) is a number
    outside FIRST_YEAR to next year; a date without such a year is not in the temporal view anyway."""
    try:
        year = float(date[:4])
    except ValueError:
        return True
    return year != year or (year.is_integer() and FIRST_YEAR <= year <= _last_year())


def title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return fallback


def _one_line(s: str) -> str:
    return " ".join(str(s).split())


# ----------------------------------------------------------------------------------------------- corpus


def _clean_manifest_path(p: str) -> str:
    p = p.replace("\\", "/").strip()
    if not p:
        return ""
    p = posixpath.normpath(p)
    while p.startswith("./"):
        p = p[2:]
    return "" if p == "." else unicodedata.normalize("NFC", p)


def read_manifest(root: Path) -> pd.DataFrame | None:
    """The manifest as a table keyed by normalised path, or None when the corpus has none."""
    path = root / MANIFEST
    if not os.path.lexists(path):
        return None
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
    text = decoded.text.replace("\ufeff", "")
    rows = _csv_rows(path, text, ",")
    if not rows:
        raise ConfigError(f"{path}: manifest is empty (needs a header with columns "
                          f"{', '.join(REQUIRED_MANIFEST_COLUMNS)})")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED_MANIFEST_COLUMNS if c not in header]
    # Excel saves "CSV" with ';' in many locales (and tab-separated text is common): when the header is one
    # comma-less column holding such a separator, read the file with it
    other = next((d for d in (";", "\t", "|") if len(header) == 1 and d in rows[0][0]), None)
    if missing and other is not None:
        alt = _csv_rows(path, text, other)
        alt_header = [h.strip() for h in alt[0]]
        # either way the columns it has are those of this reading, and so is what it lacks
        log.info("%s: read as %s-separated", path, _DELIMITER_NAMES[other])
        rows, header = alt, alt_header
        missing = [c for c in REQUIRED_MANIFEST_COLUMNS if c not in header]
    if missing:
        how = f"{_DELIMITER_NAMES[other]}-separated" if other else "comma-separated"
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
    records = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            log.warning("%s line %d: %d fields where the header has %d; row padded/truncated", path, lineno,
                        len(row), len(header))
            row = (row + [""] * len(header))[: len(header)]
        rec = dict(zip(header, (c.strip() for c in row)))
        rec["path"] = _clean_manifest_path(rec["path"])
        if not rec["path"]:
            log.warning("%s line %d: empty path; row ignored", path, lineno)
            continue
        records.append(rec)
    df = pd.DataFrame(records, columns=header)
    dup = df["path"].duplicated()
    if dup.any():
        log.warning("%s: %d path(s) listed twice (%s); the first row wins", path, int(dup.sum()),
                    ", ".join(df.loc[dup, "path"].head(3)))
        df = df[~dup]
    return df.set_index("path", drop=False)


_DELIMITER_NAMES = {",": "comma", ";": "';'", "\t": "tab", "|": "'|'"}


def _csv_rows(path: Path, text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return list(reader)
    except csv.Error as exc:
        raise ConfigError(f"{path} line {reader.line_num}: manifest is not valid "
                          f"{_DELIMITER_NAMES[delimiter]}-separated CSV ({exc})") from None


@dataclass(frozen=True)
class Found:
    """A file found in the corpus: its id in every table (`rel`) and where it is on disk (`path`)."""
    rel: str
    path: Path
    hidden: bool = False
    note: str = ""


def _display(raw_rel: str) -> tuple[str, str]:
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
    text). Folders holding a previous run's outputs are listed but not entered. Hidden folders (name starting with '.') are listed but not entered; hidden files are found (and
    skipped unless the manifest names them). A folder that cannot be listed is reported as failed.
    """
    root = Path(root)
    real_root = root.resolve()
    found: list[Found] = []
    problems: list[dict] = []
    used: set[str] = set()

    def claim(full: Path) -> tuple[str, str]:
        raw = full.relative_to(root).as_posix()
        rel, note = _display(raw)
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
        problems.append(_report(rel, "failed", f"folder cannot be listed: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        keep = []
        for d in sorted(dirnames, key=_name_order):
            full = Path(dirpath) / d
            if full.is_symlink():
                rel, note = claim(full)
                problems.append(_report(rel, "skipped", _join(note, f"symbolic link to a folder "
                                                                     f"({_link_target(full)}); not followed")))
            elif d.startswith("."):
                rel, note = claim(full)
                problems.append(_report(rel, "skipped", _join(note, "hidden folder (name starts with '.'); "
                                                                     "not read")))
            elif is_output_folder(full):
                rel, note = claim(full)
                problems.append(_report(rel, "skipped", _join(note, "holds a previous run's outputs (run.json, "
                                                                     "documents.parquet); not read")))
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames, key=_name_order):
            full = Path(dirpath) / f
            rel, note = claim(full)
            if full.is_symlink() and not full.exists():
                problems.append(_report(rel, "failed", _join(note, f"broken or looping symbolic link "
                                                                    f"({_link_target(full)})")))
                continue
            if full.is_symlink() and not _inside(full, real_root):
                problems.append(_report(rel, "skipped", _join(note, f"symbolic link to outside the corpus folder "
                                                                     f"({_link_target(full)}); not followed")))
                continue
            found.append(Found(rel, full, f.startswith("."), note))
    return sorted(found, key=lambda e: e.rel), problems


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


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _report(path, status, reason, doc_id="", duplicate_of="", encoding="", nbytes=0) -> dict:
    return {"path": path, "status": status, "reason": _one_line(reason), "doc_id": doc_id,
            "duplicate_of": duplicate_of, "encoding": encoding, "bytes": int(nbytes)}


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
        self.root = Path(corpus)
        root = self.root
        if not root.exists():
            raise ConfigError(f"{root}: corpus folder does not exist (--corpus)")
        if not root.is_dir():
            raise ConfigError(f"{root}: corpus path is not a folder (--corpus)")
        try:
            with os.scandir(root):
                pass
        except OSError as exc:
            raise ConfigError(f"{root}: corpus folder cannot be read ({exc.strerror or exc})") from None
        self.max_bytes = max_bytes
        self.progress = progress
        manifest = read_manifest(root)
        self.has_manifest = manifest is not None
        # manifest rows as plain dicts of strings, by path (the table itself is not kept: a pandas row lookup
        # per file costs more than reading the file, and the table would be held for the whole run)
        self._rows: dict[str, dict[str, str]] = {}
        if manifest is not None:
            columns = {c: ["" if pd.isna(v) else str(v) for v in manifest[c].tolist()] for c in manifest.columns}
            self._rows = {path: {c: columns[c][i] for c in columns} for i, path in enumerate(manifest.index)}
        self.files, self.report = discover(root)
        known = {e.rel for e in self.files} | {r["path"] for r in self.report}
        for p in self._rows:
            if p not in known:
                self.report.append(_report(p, "failed", f"listed in {MANIFEST} but not found"))
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
        for entry in self.files:
            if not self._candidate(entry):
                continue
            st = self._stat(entry)
            if st is None:
                continue
            self._stats[entry.rel] = st
            prev = self._prev_cache.get(entry.rel)
            if prev is None or (prev.size, prev.mtime_ns) != st:
                self.changed_files += 1
                self.changed_bytes += st[0]

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
                from .io import part_cache, read_parts

                meta_cols = [c for c in DOCUMENTS.columns if c not in ("text", "text_original")]
                # the same columns the report reads, from the same cache
                rows, part_of = read_parts(DOCUMENTS, self._prev_docs.parts, meta_cols,
                                           part_cache(self._prev_docs.path.parent, "documents"))
                self._meta = {r["doc_id"]: r for r in rows.to_pylist()}
                # where each document's text is, for fill_texts
                self._prev_docs.locate(dict(zip(self._meta, part_of.tolist())))
        return self._meta

    def _candidate(self, entry: Found) -> bool:
        """Whether the file will be read as a document (listed, not hidden unless listed, a supported type)."""
        listed = entry.rel in self._rows
        return (entry.rel != MANIFEST
                and (listed or (not self.has_manifest and not entry.hidden and not _corpus_notes(entry.rel)))
                and entry.path.suffix.lower() in SUPPORTED)

    def documents(self):
        has_manifest, rows, report = self.has_manifest, self._rows, self.report
        seen_hash: dict[str, str] = {}
        unlisted = 0
        iterator = self.files
        if self.progress:
            from tqdm import tqdm

            iterator = tqdm(self.files, desc="ingest", unit="file")
        version = documents_version()
        for entry in iterator:
            rel = entry.rel
            if rel == MANIFEST:
                continue
            row = rows.get(rel)
            listed = row is not None
            if entry.hidden and not listed:
                report.append(_report(rel, "skipped", _join(entry.note, "hidden file (name starts with '.'); "
                                                                         "not read"), nbytes=_size(entry.path)))
                continue
            if has_manifest and not listed:
                # a README, or a file no document can be (a table of expected results, say), is expected beside
                # the documents: skipped without a warning; other unlisted files may be documents left out
                why = (" (notes on the corpus, not a policy document)" if _corpus_notes(rel) else
                       f" ('{_display(entry.path.suffix)[0] or '(none)'}' is no document type)"
                       if entry.path.suffix.lower() not in SUPPORTED else "")
                unlisted += not why
                report.append(_report(rel, "skipped", _join(entry.note, f"not listed in {MANIFEST}{why}"),
                                      nbytes=_size(entry.path)))
                continue
            if not listed and _corpus_notes(rel):
                report.append(_report(rel, "skipped", _join(entry.note, "a README: notes on the corpus, not a "
                                                                         f"policy document (list it in {MANIFEST} "
                                                                         "to read it as one)"),
                                      nbytes=_size(entry.path)))
                continue
            suffix = entry.path.suffix
            fmt = SUPPORTED.get(suffix.lower())
            if fmt is None:
                report.append(_report(rel, "skipped", _join(entry.note, f"unsupported file type "
                                                                         f"'{_display(suffix)[0] or '(none)'}'"),
                                      nbytes=_size(entry.path)))
                continue
            # the row's digest, not the row: the cache holds one per file for the whole run; with the code's
            # fingerprint, so that files read by other code are read again
            meta_key = hashlib.sha256((version + json.dumps(row, ensure_ascii=False, sort_keys=True))
                                      .encode("utf-8")).hexdigest()[:24]
            rec, rep, st = self._cached(entry, meta_key)
            if rec is None:
                try:
                    rec, rep = _ingest_one(entry, fmt, row, self.max_bytes)
                except Exception as exc:  # a bad file never stops the run
                    log.debug("%s", rel, exc_info=True)
                    rec, rep = None, _report(rel, "failed", f"could not be read ({type(exc).__name__}: {exc})",
                                             nbytes=_size(entry.path))
                rep["reason"] = (_join(entry.note, rep["reason"]) if rep["reason"] != "ok" or not entry.note
                                 else entry.note)
            document = None
            if rec is not None:
                first = seen_hash.get(rec["content_hash"])
                if first is not None:
                    rep.update(status="duplicate_of", duplicate_of=first, doc_id="",
                               reason=_join(entry.note, f"same text as {first}"))
                else:
                    seen_hash[rec["content_hash"]] = rel
                    document = rec
            if st is not None:
                # every file read is remembered, so a later run can tell it did not change; only documents
                # (not duplicates or failures, which are read again) can be taken from the previous run
                self.cache.append({"path": rel, "size": st[0], "mtime_ns": st[1], "meta": meta_key,
                                   "content_hash": document["content_hash"] if document else "",
                                   "reason": rep["reason"], "encoding": rep.get("encoding", ""),
                                   "chars": document["chars"] if document else 0,
                                   "original_sha": document["original_sha"] if document else "",
                                   "version": version})
            if document is not None:
                if document["region"] == ROOT_REGION and "/" not in rel:
                    self.root_files.append(rel)
                yield document
            report.append(rep)
        self._unlisted = unlisted

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
        return rec, _report(entry.rel, "ingested", prev.reason, doc_id=entry.rel, encoding=prev.encoding,
                            nbytes=st[0]), st

    def report_frame(self) -> pd.DataFrame:
        rep_df = pd.DataFrame(self.report, columns=list(INGEST_REPORT.columns)).sort_values("path", kind="stable")
        rep_df = rep_df.drop_duplicates("path")
        for r in rep_df.itertuples(index=False):
            if r.status == "failed" or (r.status == "skipped" and r.reason.endswith("limit (raise it with --max-mb)")):
                log.warning("%s: %s", r.path, r.reason)
        if getattr(self, "_unlisted", 0):
            log.warning("%s: %d file(s) not listed in the manifest were skipped (see ingest_report.csv)",
                        self.root / MANIFEST, self._unlisted)
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


_NOTES_NAMES = ("README", "READ ME", "LICENSE", "LICENCE", "CHANGELOG", "CHANGES", "CONTRIBUTING")


def _corpus_notes(rel: str) -> bool:
    """Whether a file is by its name notes about the corpus (README.md and the like) rather than a document."""
    stem = Path(rel).stem.upper().replace("_", " ").replace("-", " ")
    return any(stem == n or stem.startswith(n + " ") or stem.startswith(n + ".") for n in _NOTES_NAMES)


def documents_version() -> str:
    """The ingest stage's fingerprint (its code and libraries): part of the documents table's part keys and of
    each file's cache key, so documents read by other code are read again."""
    return fingerprint("ingest")


def content_hash(text: str, original: str = "") -> str:
    """The key every per-document stage reuses its rows by: the text, and for a converted document also the
    original (passages carry slices of it), so two Traditional variants of one Simplified text differ."""
    h = hashlib.sha256(text.encode("utf-8"))
    if original:
        h.update(b"\0" + original.encode("utf-8"))
    return h.hexdigest()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mb(n: float) -> str:
    mb = n / 2**20
    return f"{mb:.0f} MB" if mb >= 10 or mb == int(mb) else f"{mb:.2g} MB"


_FILE_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"),
               (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


def _ingest_one(entry: Found, fmt: str, row, max_bytes: int) -> tuple[dict | None, dict]:
    rel, path = entry.rel, entry.path
    try:
        st = path.stat()
    except OSError as exc:
        return None, _report(rel, "failed", f"cannot read: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(st.st_mode)), "special file")
        return None, _report(rel, "skipped", f"not a regular file ({kind}); not read")
    too_big = f"{_mb(st.st_size)} is over the {_mb(max_bytes)} limit (raise it with --max-mb)"
    if st.st_size > max_bytes:
        return None, _report(rel, "skipped", too_big, nbytes=st.st_size)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return None, _report(rel, "failed", f"cannot read: {exc.strerror or exc}", nbytes=st.st_size)
    if len(data) > max_bytes:  # grew after stat
        return None, _report(rel, "skipped", f"over the {_mb(max_bytes)} limit (raise it with --max-mb)",
                             nbytes=len(data))
    try:
        decoded, inner_title = extract_text(data, fmt, max_bytes)
    except DecodeError as exc:
        return None, _report(rel, "failed", str(exc), nbytes=len(data))
    text = normalise(decoded.text).strip("\n")
    if not text.strip():
        reason = "empty file" if not data else "no text (whitespace only)"
        return None, _report(rel, "skipped", reason, encoding=decoded.encoding, nbytes=len(data))

    meta = row or {}
    notes = [decoded.note]
    if fmt == "pdf" and decoded.note:
        log.warning("%s: %s", rel, decoded.note)
    lang = meta.get("lang", "").strip().lower()
    lang = "zh" if lang.startswith("zh") else "en" if lang.startswith("en") else lang
    if lang not in ("zh", "en"):
        detected = detect_lang(text)
        if lang:
            notes.append(f"{MANIFEST} lang '{meta['lang']}' is not zh or en; detected {detected}")
        lang = detected
    original = ""
    converted = False
    if lang == "zh":
        simplified, converted = to_simplified(text)
        if converted:
            original, text = text, simplified
            notes.append("converted from Traditional Chinese")
    region = meta.get("region") or (rel.split("/")[0] if "/" in rel else ROOT_REGION)
    if region == ROOT_REGION and "/" not in rel:
        notes.append(ROOT_NOTE)
    date, date_source = document_date(meta, rel, text, lang)
    if not plausible_year(date):
        notes.append(f"date '{_one_line(date)[:40]}' is outside {FIRST_YEAR}-{_last_year()}; ignored")
        date, date_source = "", ""
    # a title taken from the text is taken from the original: researchers quote Traditional titles as they are
    title = meta.get("title") or _one_line(inner_title) or title_from_text(original or text, Path(rel).stem)
    extra = {k: v for k, v in meta.items() if k not in KNOWN_MANIFEST_COLUMNS}
    rec = {
        "doc_id": rel, "region": region, "region_name": meta.get("region_name") or region, "lang": lang,
        "title": title, "date": date, "date_source": date_source, "source_format": fmt, "encoding": decoded.encoding,
        "content_hash": content_hash(text, original), "converted_t2s": converted,
        "text": text, "text_original": original, "extra": json.dumps(extra, ensure_ascii=False, sort_keys=True),
        # not columns: what chunking and the documents table's part keys need without holding the text
        "chars": len(text), "original_sha": hashlib.sha256(original.encode("utf-8")).hexdigest() if original else "",
    }
    return rec, _report(rel, "ingested", _join(*notes) or "ok", doc_id=rel, encoding=decoded.encoding,
                        nbytes=len(data))
