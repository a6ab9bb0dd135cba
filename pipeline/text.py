"""Text from a file's bytes, and what the text itself says: decoding (encodings, HTML, Word, PDF), normalisation,
Traditional to Simplified, language, and the date and title a document gives. Pure functions of bytes and strings:
nothing here touches the file system or knows about a corpus or a previous run.

The format libraries (charset-normalizer, OpenCC, python-docx, pypdf, BeautifulSoup) are imported where a file
needs them, on purpose: most corpora use one or two formats, and each costs start-up time in every process.
"""
from __future__ import annotations

import datetime
import hashlib
import io
import logging
import re
import unicodedata
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("pipeline.ingest")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
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
_CONTROL_CHARS = ("\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                  "\u2066-\u2069\ufeff")
_CONTROLS = re.compile(f"[{_CONTROL_CHARS}]")
# bytes that never occur in text of any encoding read here (layout controls \t \n \v \f \r and ESC aside);
# in UTF-8, GBK, GB18030 and Big5 no multi-byte sequence contains one, so dropping them keeps the rest intact
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0e, 0x1b), *range(0x1c, 0x20)])
# more than this share of control bytes is a binary file, not text with a few stray bytes
_BINARY_SHARE = 0.01
# ... unless the rest is UTF-8 (the bytes of a binary file hardly ever are): then up to this share are stray
# bytes of a short text (three in a hundred-byte file)
_STRAY_SHARE = 0.1
_SURROGATE_CHARS = "\ud800-\udfff"
_SURROGATES = re.compile(f"[{_SURROGATE_CHARS}]")
# any character that _BREAKS, _CONTROLS or _SURROGATES would replace: most texts have none, and one search over
# one character class tells (an alternation of the three patterns scans as slowly as running them)
_TO_CLEAN = re.compile(f"[\r\v\f{_CONTROL_CHARS}{_SURROGATE_CHARS}]")


class DecodeError(ValueError):
    pass


@dataclass
class Decoded:
    text: str
    encoding: str
    note: str = ""


def decode_bytes(data: bytes) -> Decoded:
    """Decode policy text bytes: BOMs first, then UTF-8, UTF-16 (by NUL parity), GBK/GB18030/Big5, Windows-1252,
    then a guess.

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
        # NULs that pad a text to a block or record size (a file copied off a disk image or out of a database)
        body = data.rstrip(b"\0")
        padding = len(data) - len(body)
        kept = body.translate(None, _CONTROL_BYTES)
        dropped = len(body) - len(kept)
        if not kept.strip() or (dropped > 1 and dropped > len(body) * _BINARY_SHARE
                                and not (dropped <= len(body) * _STRAY_SHARE and _is_utf8(kept))):
            raise DecodeError(f"binary content ({nul} NUL bytes), not a text file")
        # a few stray bytes (a NUL pasted in, a truncated copy) do not make a text file binary
        decoded = decode_bytes(kept)
        return Decoded(decoded.text, decoded.encoding, join_reasons(
            f"{padding} NUL byte(s) padding the end dropped" if padding else "",
            f"{dropped} stray control byte(s) ({nul - padding} NUL) dropped" if dropped else "", decoded.note))
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    few_bad = bad <= max(1, len(lenient) // 1000)
    # a few bad sequences among as many good multi-byte ones are damaged UTF-8; text in another encoding forms
    # good ones only by chance ("Signed in 北京." in GBK is four bad ones and no good one)
    utf8_multibyte = _non_ascii(lenient) - bad
    if few_bad and utf8_multibyte >= bad:
        return Decoded(lenient, "utf-8", f"{bad} undecodable byte sequence(s) replaced with U+FFFD")
    misread = ""
    for enc in ("gbk", "gb18030", "big5"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if not _plausible(text):
            continue
        if _stray_characters(text):
            misread = misread or enc
            continue
        return Decoded(text, enc)
    western = _windows_1252(data)
    if _reads_western(western):
        return Decoded(western, "cp1252", join_reasons(
            "read as Windows-1252 (Western European)",
            f"not as {misread.upper()}: the characters that reading gave stood alone between Latin letters"
            if misread else ""))
    if few_bad:
        return Decoded(lenient, "utf-8", f"{bad} undecodable byte sequence(s) replaced with U+FFFD")
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
    raise DecodeError("undecodable: not UTF-8, UTF-16, GBK/GB18030, Big5 or Windows-1252 text")


# Windows-1252 as web browsers read it (and Latin-1 text, which it extends): the five bytes it leaves undefined
# are read as Latin-1, i.e. as C1 controls, which normalise drops
_LATIN1_TO_CP1252 = {b: bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0xA0)}
# typographic punctuation and signs of Western text outside ASCII, as Windows-1252 encodes them
_WESTERN_MARKS = frozenset("‘’‚“”„–—…•·‹›«»†‡‰™€£¥¢§©®°¡¿\u00a0")
# text in Western encodings is mostly ASCII; CJK, Cyrillic or Greek text read as Windows-1252 is mostly not
_WESTERN_NON_ASCII = 0.2
# accented letters that are words of their own (French à, Italian è, Portuguese é, Spanish ó)
_ONE_LETTER_WORDS = frozenset("àÀèÈéÉòÒóÓ")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# a letter outside ASCII with no other non-ASCII character beside it, and a Latin letter on one side (a curly
# quote or a dash there is punctuation of English text in any encoding: "don’t", "Title 10—Armed Forces")
_STRAY = re.compile(r"(?<=[A-Za-z])(?![\x00-\x7f])[^\W\d_](?![^\x00-\x7f])"
                    r"|(?<![^\x00-\x7f])(?![\x00-\x7f])[^\W\d_](?=[A-Za-z])")


def _non_ascii(text: str) -> int:
    """How many characters of `text` lie outside ASCII."""
    return len(text) - len(text.encode("ascii", "ignore"))


def _windows_1252(data: bytes) -> str:
    return data.decode("latin-1").translate(_LATIN1_TO_CP1252)


def _stray_characters(text: str) -> bool:
    """Whether most non-ASCII characters of a CJK reading are letters standing alone beside Latin ones
    ("Secretary抯", "D閜artement"): what Western text read as GBK or Big5 gives, an accented letter or curly quote
    and the letter after it making one double-byte character. Chinese comes in runs of characters and
    punctuation; a Chinese word in English text is a run of its own ("Signed in 北京.")."""
    sample = text[:_SAMPLE]
    others = _non_ascii(sample)
    return len(_STRAY.findall(sample)) * 2 > others


def _reads_western(text: str) -> bool:
    """Whether `text` (a Windows-1252 reading) reads as Western European text: mostly ASCII, and nearly every
    other character typographic punctuation or an accented letter in a word of Latin letters ("Département",
    "naïve") or a word of its own ("à"). Text in an encoding of two bytes a character reads as pairs of accented
    letters and signs, and a stray byte in ASCII text as a letter on its own."""
    sample = text[:_SAMPLE]
    others = _non_ascii(sample)
    if not others or others > len(sample) * _WESTERN_NON_ASCII:
        return False
    fit = 0
    for m in _NON_ASCII.finditer(sample):
        c, i = m.group(), m.start()
        before = sample[i - 1] if i else " "
        after = sample[i + 1] if i + 1 < len(sample) else " "
        beside_latin = (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())
        alone = c in _ONE_LETTER_WORDS and before.isascii() and after.isascii()
        if c in _WESTERN_MARKS or (c.isalpha() and beside_latin) or alone:
            fit += 1
    return fit >= 0.9 * others


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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


# ECMA-48 control sequences (ESC [ parameters final byte) and two-character escapes, as terminals read them
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def normalise(text: str) -> str:
    """NFKC (full-width Latin letters and digits become ASCII) but keep full-width punctuation.

    Line ends become \\n, form feeds a line break, other control characters (which break Parquet viewers and
    Excel) and stray BOMs are dropped, lone surrogates become U+FFFD. Private Use Area characters (GBK
    user-defined characters) are kept as they are. Idempotent.
    """
    if _TO_CLEAN.search(text):
        text = _BREAKS.sub("\n", text)
        if "\x1b" in text:  # a terminal's colour or cursor sequence: without its ESC, '[31m' would stay as text
            text = _ANSI.sub("", text)
        text = _CONTROLS.sub("", text)
        text = _SURROGATES.sub("\ufffd", text)
    if text.isascii():
        return text  # NFKC leaves ASCII alone
    # Usually NFKC would change nothing but the kept punctuation: one quick check over the text with a space in
    # place of each run of it (a space neither composes with nor reorders what is around it, so the pieces
    # between are normalised exactly when the whole is) instead of normalising piece by piece
    if unicodedata.is_normalized("NFKC", _FW_SPLIT.sub(" ", text)):
        return text
    parts = _FW_SPLIT.split(text)
    parts[::2] = [unicodedata.normalize("NFKC", p) for p in parts[::2]]
    return "".join(parts)


# Hard-wrapped text (a PDF's text layer, a plain-text export) breaks lines inside words: "科技企业孵\n化器",
# "joint\nresearch centres", and no term can match across the break. A break inside a line of running text is
# joined: between two Han characters it is dropped, before a lowercase English word it becomes a space. Only
# after a line as long as wrapped text runs (a title or a heading is shorter; the first line, the title, never),
# and never before an article, chapter or numbered item (第三条, 第二章, 三、).
# (each pattern starts with the line break, which the regex engine finds ten times faster than a lookbehind)
_HAN_WRAP = re.compile(r"\n(?<=[\u4e00-\u9fff]\n)[ \t\u3000]*(?=[\u4e00-\u9fff])")
_EN_WRAP = re.compile(r"\n(?<=[A-Za-z,;]\n)[ \t]*(?=[a-z])")
_NUMERAL = "一二三四五六七八九十百千零〇两0-9"
_STRUCTURE = re.compile(rf"第[{_NUMERAL}]+[条章节编款]|[{_NUMERAL}]+、")
_WRAPPED_LINE = {"han": 10, "en": 40}  # characters a line runs to before a break in it is taken for a wrap


def unwrap_lines(text: str) -> str:
    """`text` with its hard line wraps joined (see above); text without any is returned as it is."""
    if "\n" not in text:
        return text
    first_line_end = text.find("\n", len(text) - len(text.lstrip()))
    edits = []
    for rx, joint, kind in ((_HAN_WRAP, "", "han"), (_EN_WRAP, " ", "en")):
        for m in rx.finditer(text):
            line_start = text.rfind("\n", 0, m.start()) + 1
            if (m.start() <= first_line_end or m.start() - line_start < _WRAPPED_LINE[kind]
                    or (kind == "han" and _STRUCTURE.match(text, m.end()))):
                continue
            edits.append((m.start(), m.end(), joint))
    if not edits:
        return text
    out, last = [], 0
    for start, end, joint in sorted(edits):
        out += [text[last:start], joint]
        last = end
    return "".join(out) + text[last:]


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
    # counted over code point arrays: Python loops over every sample were a third of ingest
    sample = text[:4000]
    codes = code_points(sample)
    han = int(np.count_nonzero((codes >= 0x4E00) & (codes <= 0x9FFF)))
    if not han:
        return text, False
    # characters OpenCC changes, position by position (over the shorter of the two where a length changed)
    converted = code_points(_t2s.convert(sample))
    n = min(len(codes), len(converted))
    changed = int(np.count_nonzero(codes[:n] != converted[:n]))
    # Simplified text has a few characters OpenCC still maps (e.g. variant forms); Traditional has many
    if changed / han < 0.03:
        return text, False
    return _same_length_t2s(text), True


def code_points(text: str) -> np.ndarray:
    """The code points of `text` (lone surrogates included), one uint32 each."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


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


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
# a run's text, as python-docx reads a run (str() of these elements is their text: a tab, a line break, ...)
_DOCX_TEXT = frozenset(_W + t for t in ("t", "tab", "ptab", "br", "cr", "noBreakHyphen"))
# not the document's text: a tracked deletion, where moved text was before it moved (what is shown is at its
# w:moveTo), ruby text (the pinyin over a character, w:rt) and properties (a paragraph's tab stops are w:tab
# too); a field's code (w:instrText) and deleted text (w:delText) are not among _DOCX_TEXT
_DOCX_NOT_TEXT = frozenset(_W + t for t in ("del", "moveFrom", "pPr", "rPr", "sdtPr", "sdtEndPr", "rt"))
# containers of paragraphs and tables inside a body, a cell or a text box: a content control, custom XML
_DOCX_BLOCK_WRAPPERS = frozenset((_W + "sdt", _W + "sdtContent", _W + "customXml"))


def _docx_blocks(container, parent, numbering: "_DocxNumbering | None" = None) -> list[str]:
    """The text of a Word document's body (or of a table cell or a text box: `container` is its XML element,
    `parent` the python-docx object tables hang from) in reading order: each paragraph, followed by the text
    boxes anchored in it, and each table row as its cells' texts joined by " | " (a cell merged across columns
    once), tables within cells included. Policy documents put measures in tables; reading paragraphs alone
    dropped them. Articles inside content controls, tracked insertions, fields and smart tags are read as Word
    shows them; python-docx's paragraph and table lists leave them out. A paragraph Word numbers (`numbering`)
    starts with its number as Word shows it (第五条, 1., (a))."""
    from docx.table import Table

    out = []
    for el in container:
        if el.tag == _W + "p":
            text: list[str] = [numbering.label(el)] if numbering is not None else []
            boxes: list[str] = []
            _docx_inline(el, text, boxes, parent, numbering)
            _space_after_article_number(text)
            if "".join(text) or not boxes:  # (a text box's anchor is usually an empty paragraph of its own)
                out.append("".join(text))
            out.extend(boxes)
        elif el.tag == _W + "tbl":
            for row in Table(el, parent).rows:
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) in seen:
                        continue
                    seen.add(id(cell._tc))
                    text = " ".join(t for t in _docx_blocks(cell._tc, cell, numbering) if t.strip())
                    if text.strip():
                        cells.append(text.strip())
                if cells:
                    out.append(" | ".join(cells))
        elif el.tag in _DOCX_BLOCK_WRAPPERS:
            out.extend(_docx_blocks(el, parent, numbering))
        elif el.tag == _MC + "AlternateContent":
            out.extend(_docx_blocks(_docx_alternative(el), parent, numbering))
    return out


def _docx_inline(el, text: list[str], boxes: list[str], parent, numbering: "_DocxNumbering | None" = None) -> None:
    """Collect the text inside a paragraph's element `el` in `text`, and the blocks of the text boxes in it
    (shapes in w:drawing or VML w:pict) in `boxes`; hyperlinks, fields, smart tags, content controls and
    tracked insertions are descended into."""
    for child in el:
        tag = child.tag
        if tag in _DOCX_TEXT:
            text.append(str(child))
        elif tag == _W + "txbxContent":
            boxes.extend(_docx_blocks(child, parent, numbering))
        elif tag == _MC + "AlternateContent":
            _docx_inline(_docx_alternative(child), text, boxes, parent, numbering)
        elif tag not in _DOCX_NOT_TEXT and isinstance(tag, str):  # (comments and processing instructions: no tag)
            _docx_inline(child, text, boxes, parent, numbering)


# A page or a Word document sets an article's number apart by markup, not by a space: "<b>第二条</b>鼓励……", a bold
# run. Read as "第二条鼓励……", it was no article (an article's number is followed by a space), and the articles after
# it ran on in the one before. An article number that is all of an inline element's (a run's) text at the start
# of a line is followed by a space.
_ARTICLE_NUMBER = re.compile(r"第[一二三四五六七八九十百千零〇两0-9０-９]+条(?:之[一二三四五六七八九十0-9]+)?")


def _space_after_article_number(pieces: list[str]) -> None:
    """Put a space after the leading pieces of a Word paragraph's text (its runs' texts) that are an article's
    number, where the next piece follows it without one."""
    head = ""
    for i, piece in enumerate(pieces[:-1]):
        head += piece
        if len(head.strip()) > 12:
            return
        if _ARTICLE_NUMBER.fullmatch(head.strip()):
            nxt = pieces[i + 1]
            if nxt and not nxt[0].isspace() and not head[-1:].isspace():
                pieces[i] = piece + " "
            return


# Word numbers paragraphs itself: a regulation drafted in Word often has its articles numbered by a list whose
# level reads "第%1条" (or "%1.", "（%1）"), and the number is in numbering.xml, not in the paragraph's text, so
# python-docx reads "为了促进……" where Word shows "第一条　为了促进……". Without it such a document had no article
# (every passage was "¶ n", not citable as 第五条). The number each numbered paragraph shows is rebuilt from the
# list's definition: its level's text, start and number format, counted in document order.
_CN_DIGIT_CHARS = "零一二三四五六七八九"
_HEAVENLY_STEMS = "甲乙丙丁戊己庚辛壬癸"
_ROMAN_NUMERALS = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
                   (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))
_LEVEL_SUFFIX = {"tab": "\t", "space": " ", "nothing": ""}


def _cn_counting(n: int) -> str:
    """1 一, 10 十, 11 十一, 20 二十, 105 一百零五: how Word writes chineseCounting."""
    if n <= 0 or n >= 10000:
        return str(n)
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            if zero:
                out += "零"
            out += ("" if value == 10 and not out and digit == 1 else _CN_DIGIT_CHARS[digit]) + unit
            zero = False
        elif out:
            zero = True
    return out


def _letters(n: int) -> str:
    """1 a, 26 z, 27 aa: Word repeats the letter past z."""
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1) if n > 0 else str(n)


def _roman(n: int) -> str:
    out = ""
    for value, numeral in _ROMAN_NUMERALS:
        k, n = divmod(n, value)
        out += numeral * k
    return out


def _number_in_format(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting"):
        return _cn_counting(n)
    if fmt == "ideographTraditional" and 1 <= n <= 10:
        return _HEAVENLY_STEMS[n - 1]
    if fmt in ("lowerLetter", "upperLetter"):
        return _letters(n).upper() if fmt == "upperLetter" else _letters(n)
    if fmt in ("lowerRoman", "upperRoman") and n > 0:
        return _roman(n).upper() if fmt == "upperRoman" else _roman(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "decimalEnclosedCircle" and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    return str(n)  # decimal, and formats not rendered here: the number at least


class _DocxNumbering:
    """The numbers Word shows before the numbered paragraphs of one document, counted in reading order."""

    def __init__(self, document):
        from docx.opc.constants import RELATIONSHIP_TYPE as RT

        parts = {rel.reltype: rel.target_part for rel in document.part.rels.values() if not rel.is_external}
        numbering = parts.get(RT.NUMBERING)
        styles = parts.get(RT.STYLES)
        # numId -> ilvl -> (start, format, text, suffix, restart: the level restarts after a level above this one)
        self._levels: dict[str, dict[int, tuple[int, str, str, str, int]]] = {}
        self._style_num: dict[str, tuple[str, int | None]] = {}  # styleId -> (numId, ilvl) its paragraphs take
        # Word counts on through the lists (w:num) of one definition (w:abstractNum), unless a list restarts a level
        self._abstract_of: dict[str, str | None] = {}
        self._restarts: dict[str, list[int]] = {}
        self._counts: dict[str | None, list[int | None]] = {}
        if numbering is not None:
            root = _part_xml(numbering)
            abstract = {a.get(_W + "abstractNumId"): self._read_levels(a) for a in root.iter(_W + "abstractNum")}
            for num in root.iter(_W + "num"):
                ref = num.find(_W + "abstractNumId")
                num_id, abstract_id = num.get(_W + "numId"), ref.get(_W + "val") if ref is not None else None
                self._abstract_of[num_id] = abstract_id
                levels = dict(abstract.get(abstract_id, {}))
                for override in num.iter(_W + "lvlOverride"):
                    ilvl = _int(override.get(_W + "ilvl"), 0)
                    lvl = override.find(_W + "lvl")
                    if lvl is not None:
                        levels.update(self._read_levels([lvl], ilvl))
                    start = override.find(_W + "startOverride")
                    if start is not None and ilvl in levels:
                        levels[ilvl] = (_int(start.get(_W + "val"), 1), *levels[ilvl][1:])
                    if start is not None or lvl is not None:
                        self._restarts.setdefault(num_id, []).append(ilvl)
                self._levels[num_id] = levels
        if styles is not None and self._levels:
            based_on, own = {}, {}
            for style in _part_xml(styles).iter(_W + "style"):
                sid = style.get(_W + "styleId")
                base = style.find(_W + "basedOn")
                based_on[sid] = base.get(_W + "val") if base is not None else None
                num_pr = style.find(f"{_W}pPr/{_W}numPr")
                if num_pr is not None:
                    own[sid] = _num_pr(num_pr)
            for sid in based_on:
                seen, at = set(), sid
                while at is not None and at not in own and at not in seen:
                    seen.add(at)
                    at = based_on.get(at)
                if at in own:
                    self._style_num[sid] = own[at]

    @staticmethod
    def _read_levels(levels, ilvl: int | None = None) -> dict[int, tuple[int, str, str, str, int]]:
        out = {}
        for lvl in levels:
            if lvl.tag == _W + "abstractNum":
                out.update(_DocxNumbering._read_levels(lvl.findall(_W + "lvl")))
                continue
            at = ilvl if ilvl is not None else _int(lvl.get(_W + "ilvl"), 0)
            if not 0 <= at < 9:
                continue  # Word's lists have nine levels
            val = {name: (el.get(_W + "val") if (el := lvl.find(_W + name)) is not None else None)
                   for name in ("start", "numFmt", "lvlText", "suff", "lvlRestart")}
            # articles numbered on through chapters (第%2条 below 第%1章) have lvlRestart 0: never restarted
            out[at] = (_int(val["start"], 1), val["numFmt"] or "decimal", val["lvlText"] or "",
                       _LEVEL_SUFFIX.get(val["suff"] or "tab", "\t"), _int(val["lvlRestart"], at))
        return out

    def label(self, paragraph) -> str:
        """The number Word shows before `paragraph` (a w:p element) with what follows it, or "" if none."""
        if not self._levels:
            return ""
        ppr = paragraph.find(_W + "pPr")
        num_id, ilvl = None, None
        if ppr is not None:
            style = ppr.find(_W + "pStyle")
            if style is not None:
                num_id, ilvl = self._style_num.get(style.get(_W + "val"), (None, None))
            num_pr = ppr.find(_W + "numPr")
            if num_pr is not None:
                own_id, own_lvl = _num_pr(num_pr)
                num_id = own_id if own_id is not None else num_id
                ilvl = own_lvl if own_lvl is not None else ilvl
        levels = self._levels.get(num_id)
        ilvl = ilvl or 0
        if not levels or ilvl not in levels:
            return ""  # numId 0 (numbering switched off), a list not defined, a level beyond Word's nine
        counts = self._counts.setdefault(self._abstract_of.get(num_id), [None] * 9)
        for restart in self._restarts.pop(num_id, ()):  # (at the list's first paragraph)
            if restart < len(counts):
                counts[restart] = None
        start, fmt, text, suffix, _ = levels[ilvl]
        counts[ilvl] = start if counts[ilvl] is None else counts[ilvl] + 1
        for deeper, level in levels.items():
            if deeper > ilvl and ilvl < level[4]:
                counts[deeper] = None  # a new item restarts the levels below it (those that restart after it)
        if fmt in ("bullet", "none") and "%" not in text:
            return "" if fmt == "bullet" else text + suffix if text else ""

        def number(m: re.Match) -> str:
            at = int(m.group(1)) - 1
            level = levels.get(at)
            if level is None:
                return ""
            n = counts[at] if at < len(counts) and counts[at] is not None else level[0]
            return _number_in_format(n, level[1])

        shown = re.sub(r"%([1-9])", number, text)
        return shown + suffix if shown.strip() else ""  # (a level that shows nothing puts no tab before the text)


def _part_xml(part):
    """The XML root of a package part python-docx did not parse (it keeps some as bytes)."""
    element = getattr(part, "element", None)
    if element is not None:
        return element
    from lxml import etree

    return etree.fromstring(part.blob, etree.XMLParser(resolve_entities=False, no_network=True))


def _num_pr(num_pr) -> tuple[str | None, int | None]:
    num_id, ilvl = num_pr.find(_W + "numId"), num_pr.find(_W + "ilvl")
    return (num_id.get(_W + "val") if num_id is not None else None,
            _int(ilvl.get(_W + "val"), 0) if ilvl is not None else None)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _docx_alternative(el):
    """The one branch of an mc:AlternateContent to read: Word writes the same content twice, a shape as
    DrawingML (mc:Choice) and as VML (mc:Fallback), and reading both doubled every text box."""
    for child in el:
        if child.tag in (_MC + "Choice", _MC + "Fallback"):
            return child
    return ()


# The first bytes of an OLE compound file: what Word 97-2003 writes (.doc), and what Word wraps a .docx in when it
# is saved with a password. Researchers' files of both kinds carry the name .docx (a .doc renamed, a protected
# file); the zip reader's "BadZipFile" told them nothing of either.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_archive(data: bytes, max_bytes: int) -> None:
    """Raise DecodeError when the zip archive `data` would expand past `max_bytes` or looks like a bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DecodeError(f"not a readable .docx ({type(exc).__name__})") from None
    if len(members) > ZIP_MAX_MEMBERS:
        raise DecodeError(f"zip archive of {len(members)} members (more than {ZIP_MAX_MEMBERS}); not read")
    expanded = sum(m.file_size for m in members)
    if expanded > max_bytes:
        raise DecodeError(f"expands to {megabytes(expanded)}, over the {megabytes(max_bytes)} limit (raise it with --max-mb); "
                          f"not read")
    for m in members:
        if m.file_size > ZIP_RATIO_FLOOR and m.file_size > ZIP_MAX_RATIO * max(m.compress_size, 1):
            raise DecodeError(f"a member expands {m.file_size // max(m.compress_size, 1)}:1 ({megabytes(m.file_size)}), "
                              f"a decompression bomb; not read")


# Markdown saved from a web page (by a web clipper or a static-site tool) opens with YAML front matter between two
# "---" lines: the page's metadata (title, date, source URL), not the document's text, as an HTML page's <head> is
# not. Read as text, "---" was the document's title and "title: …" its preamble, coded as a passage. Its title is
# the file's title; the rest is left out. Front matter that is not YAML mapping is no front matter: the text stays.
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_CHARS = 20_000


def _markdown_text(decoded: Decoded) -> tuple[Decoded, str]:
    """A Markdown file's text without its YAML front matter, and the title the front matter gives ("" if none)."""
    import yaml

    if not decoded.text.lstrip("\ufeff").startswith("---"):
        return decoded, ""
    # (line ends are made \n here as normalise() would make them)
    text = _BREAKS.sub("\n", decoded.text.lstrip("\ufeff"))
    m = _FRONT_MATTER.match(text[:_FRONT_MATTER_CHARS])
    if m is None:
        return decoded, ""
    try:
        meta = yaml.safe_load(m.group(1) or "")
    except yaml.YAMLError:
        return decoded, ""
    if not isinstance(meta, dict):
        return decoded, ""
    title = meta.get("title")
    title = str(title) if isinstance(title, (str, int, float)) and not isinstance(title, bool) else ""
    return Decoded(text[m.end():], decoded.encoding, decoded.note), title


# A download that returned a web page (an error page, a login or captcha page, the page that links the file)
# saved under the name of the file it links: "not a readable .docx (BadZipFile)" said nothing of it.
_WEB_PAGE = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,200}>\s*)?<(?:!doctype\s+html|html|head|body|!--)",
                       re.IGNORECASE)
_BINARY_FORMATS = {"docx": ".docx", "pdf": "PDF"}


def extract_text(data: bytes, fmt: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[Decoded, str]:
    """Return the decoded text and a title found inside the file ("" if none); `max_bytes` bounds what a
    compressed format may expand to."""
    if fmt in _BINARY_FORMATS and _WEB_PAGE.match(data[:1024]):
        raise DecodeError(f"not a readable {_BINARY_FORMATS[fmt]}: the file is a web page (HTML), as a download "
                          f"saves an error or login page under the file's name; download the file again")
    if fmt == "txt":
        return decode_bytes(data), ""
    if fmt == "md":
        decoded, title = _markdown_text(decode_bytes(data))
        return decoded, own_title(title)
    if fmt == "html":
        decoded, title = _html_text(decode_bytes(data))
        return decoded, own_title(title)
    if fmt == "docx":
        import docx

        if data.startswith(_OLE_MAGIC):
            raise DecodeError("not a readable .docx: a Word 97-2003 file (.doc) or a password-protected .docx (both "
                              "are OLE compound files, not a .docx's zip archive); open it in Word and save it as "
                              ".docx without a password")
        check_archive(data, max_bytes)
        try:
            d = docx.Document(io.BytesIO(data))
            text = "\n\n".join(_docx_blocks(d.element.body, d, _DocxNumbering(d)))
            title = own_title(d.core_properties.title or "")
        except Exception as exc:  # python-docx raises several types for broken zips
            raise DecodeError(f"not a readable .docx ({type(exc).__name__})") from None
        return Decoded(text, "docx"), title
    if fmt == "pdf":
        from pypdf import PdfReader
        from pypdf.errors import DependencyError

        failed = None
        with _library_messages("pypdf") as said:
            try:
                reader = PdfReader(io.BytesIO(data))
                pages = [p.extract_text() or "" for p in reader.pages]
                pages = [_glyph_lines(p) if _one_glyph_a_line(text) else text for p, text in zip(reader.pages, pages)]
            except Exception as exc:  # pypdf raises many types on malformed files
                failed = exc
        said_note = f"pypdf: {'; '.join(said)}" if said else ""
        if isinstance(failed, DependencyError):
            # an AES-encrypted PDF that opens without a password: pypdf decrypts AES with the cryptography package
            raise DecodeError(f"encrypted PDF that needs the 'cryptography' package to be read: install it (pip "
                              f"install cryptography, or `make setup`, which installs the versions pinned in "
                              f"pyproject.toml) (pypdf: {one_line(str(failed))})")
        if failed is not None:
            raise DecodeError(f"not a readable PDF ({type(failed).__name__}: {one_line(str(failed))}"
                              f"{'; ' + said_note if said_note else ''})")
        text = pdf_pages_text(pages)
        if not text.strip():
            raise DecodeError(f"PDF has no text layer ({len(pages)} page(s)); scanned images need OCR first"
                              f"{' (' + said_note + ')' if said_note else ''}")
        return Decoded(text, "pdf", said_note), ""
    raise DecodeError(f"unsupported format {fmt}")


# A PDF's text layer holds what its pages print: a running head and foot on every page (the gazette's name, the
# law's title, "— 3 —", "Page 3 of 9") between the lines of the text. Left in, a head or foot inside an article
# became part of it, page numbers became passages, and pages joined by a blank line made a paragraph of each whole
# page in a document without articles (one "passage" per page, a sentence cut at the break). A line at a page's
# top or bottom that, digits aside, stands at the top or bottom of half the pages or more (two at least) is a
# running head or foot and is dropped; the pages are joined by a line break, so that a sentence running on over a
# break is joined as any wrapped line is (unwrap_lines). The first line of the first page stays unless it is a
# page number: a document's title is often its running head too, and there it is the title.
_PAGE_EDGE_LINES = 2  # lines at the top and at the bottom of a page looked at for a running head or foot
_RUNNING_LINE_CHARS = 80  # a head or foot is one short line; a longer line is the text's own
_DIGITS = re.compile(r"\d+")
_NO_SPACE = re.compile(r"\s+")
# A wrapped line of English is joined to the next before a lowercase word wherever the text comes from
# (unwrap_lines); in a PDF also before a capitalised one ("…an Office of Research and Technology" /
# "Applications. …", "…of its Government-operated" / "Federal laboratories …"), which split a § paragraph into
# passages cited alike and a term across two. Only a line that runs (nearly) the width of the page's text, ending
# inside a sentence on a letter or a comma, is taken for wrapped: a heading or a paragraph's last line is shorter.
_FULL_LINE_SHARE = 0.7
_WRAPPED_BEFORE_CAPITAL = re.compile(r"[A-Za-z,]$")
_CAPITAL_WORD = re.compile(r"[A-Z][a-z]")
_PAGE_NUMBER = re.compile(r"[-—–·|/()（）]*(?:page|第)?#页?(?:(?:of|/|共)#页?)?[-—–·|/()（）]*", re.IGNORECASE)


def pdf_pages_text(pages: list[str]) -> str:
    """The text of a PDF's pages (each as pypdf extracts it) as one text, without running heads and feet."""
    lines = [page.split("\n") for page in pages]

    def edges(page_lines: list[str]) -> list[int]:
        filled = [i for i, line in enumerate(page_lines) if line.strip()]
        return sorted(set(filled[:_PAGE_EDGE_LINES] + filled[-_PAGE_EDGE_LINES:]))

    def shape(line: str) -> str:
        return _DIGITS.sub("#", _NO_SPACE.sub("", line))

    printed = [page_lines for page_lines in lines if any(line.strip() for line in page_lines)]
    pages_with: dict[str, int] = {}
    for page_lines in printed:
        short = {shape(page_lines[i]) for i in edges(page_lines) if len(page_lines[i].strip()) <= _RUNNING_LINE_CHARS}
        for key in short:
            pages_with[key] = pages_with.get(key, 0) + 1
    running = {key for key, n in pages_with.items() if n >= 2 and 2 * n >= len(printed)}
    kept = []
    for page_lines in lines:
        drop = {i for i in edges(page_lines) if shape(page_lines[i]) in running}
        if printed and page_lines is printed[0]:
            title = min(i for i, line in enumerate(page_lines) if line.strip())
            if not _PAGE_NUMBER.fullmatch(shape(page_lines[title])):
                drop.discard(title)
        kept.append(_join_capital_wraps([line for i, line in enumerate(page_lines) if i not in drop],
                                        title_page=bool(printed) and page_lines is printed[0]))
    return "\n".join(page for page in kept if page)


# Some PDFs draw each character of a Chinese text on its own (a text object per glyph), and pypdf gives each a
# line ("第\n一\n条\n……") or a space ("第 一 条 ……"). Read so, every character was a passage of its own, or no
# article, term or date was found, with the file reported "ok". A page whose lines are nearly all one Han
# character, or whose Han characters nearly all stand a space apart, is read again from where its characters
# stand: the characters at one height, left to right, are a line.
_GLYPH_PAGE_MIN = 20  # lines (or pairs of characters) a page has before its layout is judged
_GLYPH_PAGE_SHARE = 0.8
_HAN_OR_PUNCT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_HAN_PAIR = re.compile(r"(?=[\u4e00-\u9fff]( ?)[\u4e00-\u9fff])")


def _one_glyph_a_line(page_text: str) -> bool:
    """Whether pypdf read `page_text` from a page that draws its Chinese characters one by one."""
    lines = [line.strip() for line in page_text.split("\n") if line.strip()]
    single = sum(1 for line in lines if len(line) == 1 and _HAN_OR_PUNCT.match(line))
    if len(lines) >= _GLYPH_PAGE_MIN and single >= _GLYPH_PAGE_SHARE * len(lines):
        return True
    pairs = [m.group(1) for m in _HAN_PAIR.finditer(page_text)]
    return len(pairs) >= _GLYPH_PAGE_MIN and pairs.count(" ") >= _GLYPH_PAGE_SHARE * len(pairs)


def _glyph_lines(page) -> str:
    """The text of a pypdf page rebuilt line by line from the positions of its pieces of text."""
    rows: dict[int, list[tuple[float, str]]] = {}

    def visit(text, cm, tm, font, size) -> None:
        # (the line breaks and spaces pypdf puts between pieces it takes for far apart are not the page's)
        text = text.replace("\n", "").strip(" ")
        if text:
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            rows.setdefault(round(y), []).append((x, text))

    page.extract_text(visitor_text=visit)
    return "\n".join("".join(t for _, t in sorted(row, key=lambda piece: piece[0]))
                     for _, row in sorted(rows.items(), reverse=True))


def _join_capital_wraps(page_lines: list[str], title_page: bool = False) -> str:
    """One page's lines as text, a line wrapped before a capitalised English word joined to the next by a space;
    on the `title_page` never the first line (the document's title, as unwrap_lines never joins it either)."""
    full = _FULL_LINE_SHARE * max((len(line.strip()) for line in page_lines), default=0)
    out: list[str] = []
    for line in page_lines:
        prev = out[-1].rstrip() if out else ""
        titled = title_page and not any(o.strip() for o in out[:-1])
        if (not titled and len(prev) >= max(full, _WRAPPED_LINE["en"]) and _WRAPPED_BEFORE_CAPITAL.search(prev)
                and _CAPITAL_WORD.match(line.lstrip())):
            out[-1] = prev + " " + line.lstrip()
        else:
            out.append(line)
    return "\n".join(out).strip("\n")


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
        unique = list(dict.fromkeys(one_line(m) for m in said if m.strip()))
        said[:] = unique[:3] + ([f"{len(unique) - 3} more"] if len(unique) > 3 else [])


# block-level elements: text inside one of them is a paragraph of its own
_HTML_BLOCKS = frozenset(
    "html body p div li h1 h2 h3 h4 h5 h6 td th tr table thead tbody tfoot caption pre ul ol dl dt dd section "
    "article header footer nav aside main blockquote figure figcaption form fieldset legend address hr "
    "details summary center".split())
_HTML_DROP = ["script", "style", "noscript", "template", "iframe", "object", "embed", "head", "svg", "math", "nav"]
# a government site's page holds the site around the document: its menu (<nav>, dropped above) and the page's
# footer and sidebars of links ("产学研合作专栏 | 联合实验室申报", "版权所有"). Read as text, the menu was the preamble
# and was coded (a menu item "联合实验室" labelled the document), the footer ran on in the last article. A footer
# or sidebar of an article (<article>, <main>) may be the document's own (its issuer, a note) and is kept.
_HTML_PAGE_CHROME = ["footer", "aside"]
_HTML_DOCUMENT = ("article", "main")
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
    for tag in soup(_HTML_PAGE_CHROME):
        if not tag.decomposed and tag.find_parent(_HTML_DOCUMENT) is None:
            tag.decompose()
    block_of: dict[int, object] = {}   # id(element) -> nearest enclosing block element (or None)
    in_pre: dict[int, bool] = {}
    paragraphs: list[str] = []
    buf: list[str] = []
    current = None
    number_ends = False  # the last text was an article's number set apart by markup, at the start of a line

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
            number_ends = False
        s = str(el)
        if number_ends and s and not s[0].isspace() and buf and not buf[-1].endswith("\n"):
            s = " " + s
        number_ends = (parent is not blk and _ARTICLE_NUMBER.fullmatch(s.strip()) is not None
                       and not "".join(buf).rpartition("\n")[2].strip())
        buf.append(s if in_pre.get(id(parent)) else _HTML_SPACE.sub(" ", s))
    flush()
    return Decoded("\n\n".join(paragraphs), decoded.encoding, decoded.note), title


# ---------------------------------------------------------------------------------------------- dates
#
# A document's date comes from, in this order: the manifest's `date` column, a "(YYYY-MM-DD)" in the file
# name, the text. In the text, adoption and promulgation dates in the header (通过, 批准, 公布, 发布, 印发, 颁布;
# English "approved", "enacted") come before the effective date (施行 / "Effective Date"), because the
# manifest dates researchers write are adoption dates and the two must mean the same thing; a revised text
# (修订, 修正 in its header) is dated by its latest revision, the version it is. Only the header (text before the
# first article) is searched for these: the body cites other laws with their dates.

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
# a revision stated in the header ("2017年12月1日……会议修订", "根据2009年8月27日……《关于修改部分法律的决定》修正"): the
# text is that version, dated by its latest revision as the national database's file names date it
_CN_REVISED = re.compile(_CN_DATE + r"(?:(?!" + _N + r"{2,4}[ \t]*年)[^。；;\n]){0,60}?(?P<form>修订|修正|修改)")
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
        revised = [(date, m.group("form")) for m in _CN_REVISED.finditer(head) if (date := _cn_match_date(m))]
        if revised:
            return max(revised)
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


# what an ingest note about a value of the researcher's manifest begins with (ingest says those on stderr too)
MANIFEST_PROBLEM = "manifest.csv: "
# a manifest date: a year, a year and month, or a whole date, with -, /, . or 年月日 between the parts
_MANIFEST_DATE = re.compile(r"(\d{4})(?:\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2})\s*日?)?\s*月?)?")


def manifest_date(value: str) -> str:
    """A manifest's date as ISO (2021-03-04, or 2021-03 / 2021 when that is all it gives), or "" when it is no
    calendar date from FIRST_YEAR to next year (2021-13-45, 2099-02-30, 1800-01-01)."""
    m = _MANIFEST_DATE.fullmatch(value.strip())
    if not m:
        return ""
    year, month, day = (int(g) if g else None for g in m.groups())
    if not plausible_year(f"{year:04d}"):
        return ""
    try:
        datetime.date(year, month or 1, day or 1)
    except ValueError:
        return ""
    return f"{year:04d}" + (f"-{month:02d}" if month else "") + (f"-{day:02d}" if day else "")


def document_date(meta: dict, rel: str, text: str, lang: str) -> tuple[str, str, str]:
    """(date, where it came from: manifest | filename | text:<form> | "", what was wrong with the manifest's
    date). A manifest date that is no date is not used: the file name's or the text's is, and the problem is
    said."""
    problem = ""
    given = (meta.get("date") or "").strip()
    if given:
        date = manifest_date(given)
        if date:
            return date, "manifest", ""
        m = _MANIFEST_DATE.fullmatch(given)
        # a year in range with a day the calendar lacks (2019-02-29) is a slip in the day, not in the year
        why = ("is not a date on the calendar (no such month or day)" if m and plausible_year(m.group(1)) else
               f"is not a date from {FIRST_YEAR} to {last_year()} (write YYYY-MM-DD)")
        # (no ';' before the consequence: ingest says a reason's manifest parts, split at '; ', on stderr)
        problem = f"{MANIFEST_PROBLEM}date '{one_line(given)[:40]}' {why}: the file name's or the text's date is used"
    m = DATE_IN_NAME.search(Path(rel).name)
    if m:
        y, mo, d = (int(x) for x in m.group(1).split("-"))
        date = plausible_date(y, mo, d)
        if date:
            return date, "filename", problem
    date, form = date_from_text(text, lang)
    return (date, f"text:{form}", problem) if date else ("", "", problem)


# The temporal view has a row per year from a region's first dated document on: a date in year 1 or 9999 would
# make it millions of rows (past Excel's limit) about years no policy text comes from.
FIRST_YEAR = 1900


def last_year() -> int:
    return datetime.date.today().year + 1


def plausible_year(date: str) -> bool:
    """False for a date whose year (its first four characters, as the temporal view reads them) is a number
    outside FIRST_YEAR to next year; a date without such a year is not in the temporal view anyway."""
    try:
        year = float(date[:4])
    except ValueError:
        return True
    return year != year or (year.is_integer() and FIRST_YEAR <= year <= last_year())


# A title a file carries that is not its document's: the name of the file or template it was made from, which
# Word keeps in its properties and writes into what it prints or saves as a web page ("Microsoft Word - 模板.doc",
# "政策.docx"), or Word's name for a new document ("Document1", "文档1")
_LEFTOVER_TITLE = re.compile(r"^\s*microsoft\s+(?:office\s+)?word\s*[-–—]"
                             r"|\.(?:docx?|docm|dotx?|dotm|wps|wpt|rtf|odt|ott|txt|html?|pdf)\s*$"
                             r"|^\s*(?:document|文档|新建\s*microsoft\s+word\s*文档)\s*\d*\s*$", re.IGNORECASE)


def own_title(title: str) -> str:
    """`title` (found inside a file), or "" when it is a leftover file or template name: the text's own title
    is then used."""
    return "" if _LEFTOVER_TITLE.search(title) else title


def title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:120]
    return fallback


def first_few(items, k: int = 5) -> str:
    """The first `k` of `items` joined by commas, and how many more there are: a message names some, not all."""
    items = list(items)
    return ", ".join(map(str, items[:k])) + (f" and {len(items) - k} more" if len(items) > k else "")


def one_line(s: str) -> str:
    return " ".join(str(s).split())


# what a terminal acts on instead of showing: ESC starts sequences that clear the screen or recolour the output,
# a line break makes one message look like two, bidi controls reorder what follows
_UNSHOWN = re.compile(f"[\t\n\r\v\f\u2028\u2029{_CONTROL_CHARS}{_SURROGATE_CHARS}]")


def shown(s) -> str:
    """`s` for a terminal, with every character in it a terminal would act on written as an escape (\\x1b,
    \\n, \\u202e): file names, titles and text come from the corpus, and may hold anything."""
    return _UNSHOWN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(s))


def content_hash(text: str, original: str = "") -> str:
    """The key every per-document stage reuses its rows by: the text, and for a converted document also the
    original (passages carry slices of it), so two Traditional variants of one Simplified text differ."""
    h = hashlib.sha256(text.encode("utf-8"))
    if original:
        h.update(b"\0" + original.encode("utf-8"))
    return h.hexdigest()


def join_reasons(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def megabytes(n: float) -> str:
    mb = n / 2**20
    return f"{mb:.0f} MB" if mb >= 10 or mb == int(mb) else f"{mb:.2g} MB"
