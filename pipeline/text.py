"""Text from bytes, and what the text itself says: decoding (encodings), normalisation, Traditional to Simplified,
language, and the title a document gives. Pure functions of bytes and strings: nothing here touches the file
system or knows about a corpus or a previous run. A file format's own text (Word, PDF, HTML) is `formats`'s, a
document's date `dates`'s.

charset-normalizer and OpenCC are imported where a text needs them, on purpose: each costs start-up time in
every process.
"""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .article_numbers import CN_NUMERAL, STRUCTURE_NUMBER

log = logging.getLogger("pipeline.ingest")

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# heuristics look at this many characters; deciding on the head of a 60 MB file is as good and far quicker
_SAMPLE = 200_000

# Full-width punctuation carries meaning in Chinese text (and the segmenter relies on it), so NFKC must not
# fold it to ASCII: the text is normalised in the stretches between runs of it.
_FULLWIDTH_PUNCT = [c for c in map(chr, range(0xFF01, 0xFF66)) if not c.isalnum()] + ["\u3000"]
_FW_SPLIT = re.compile("([" + re.escape("".join(_FULLWIDTH_PUNCT)) + "]+)")
LINE_BREAKS = re.compile(r"\r\n?|[\v\f]")  # line ends and page/form feeds become \n
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
# any character that LINE_BREAKS, _CONTROLS or _SURROGATES would replace: most texts have none, and one search over
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
        return _with_nul_bytes(data, nul)
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
    legacy = _legacy_decoded(data)
    if legacy is not None:
        return legacy
    if few_bad:
        return Decoded(lenient, "utf-8", f"{bad} undecodable byte sequence(s) replaced with U+FFFD")
    guess = _guessed(data)
    if guess is not None:
        return guess
    raise DecodeError("undecodable: not UTF-8, UTF-16, GBK/GB18030, Big5 or Windows-1252 text")


def _with_nul_bytes(data: bytes, nul: int) -> Decoded:
    """Bytes holding `nul` NUL bytes: UTF-16 without a BOM, or text with NULs padding its end or strayed into it
    (dropped, and said), or binary content (DecodeError)."""
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


def _legacy_decoded(data: bytes) -> Decoded | None:
    """Bytes that are not UTF-8 read as GBK, GB18030 or Big5 where one gives plausible Chinese, else as
    Windows-1252 where that reads as Western text; None for neither."""
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
    return None


def _guessed(data: bytes) -> Decoded | None:
    """charset_normalizer's reading of the bytes, where it is confident and gives plausible text."""
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None and best.percent_chaos <= 0.1:
            text = _SURROGATES.sub("\ufffd", str(best))
            if _plausible(text):
                return Decoded(text, best.encoding, "encoding guessed")
    except Exception as exc:  # a guesser failing on odd bytes is just "no guess"
        log.debug("charset_normalizer failed: %r", exc)
    return None


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


# A PDF's text layer may give a character as the code point of the radical its font draws it with (Chrome's PDFs
# with a CJK font: 人⺠政府, 部⻔); NFKC folds the Kangxi radicals (U+2F00-) but not these, of the CJK Radicals
# Supplement, so every term with 民 or 门 missed. The radicals whose Unicode name is that of a character standing
# alone (CJK RADICAL C-SIMPLIFIED GATE: 门) are read as the character; components (⻖, ⺮) stay as they are.
_RADICAL_CHARACTERS = str.maketrans({
    "\u2e9f": "母", "\u2ea0": "民", "\u2ec1": "虎", "\u2ec4": "西", "\u2ec5": "见", "\u2ec6": "角", "\u2ec9": "贝",
    "\u2ecb": "车", "\u2ed1": "長", "\u2ed3": "长", "\u2ed4": "门", "\u2ed7": "雨", "\u2ed8": "青", "\u2ed9": "韦",
    "\u2eda": "页", "\u2edb": "风", "\u2edc": "飞", "\u2edd": "食", "\u2ee2": "马", "\u2ee3": "骨", "\u2ee4": "鬼",
    "\u2ee5": "鱼", "\u2ee6": "鸟", "\u2ee8": "麦", "\u2ee9": "黄", "\u2eec": "齐", "\u2eee": "齿", "\u2ef0": "龙",
    "\u2ef3": "龟"})
_RADICALS = re.compile("[" + "".join(map(chr, _RADICAL_CHARACTERS)) + "]")

# ECMA-48 control sequences (ESC [ parameters final byte) and two-character escapes, as terminals read them
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def normalise(text: str) -> str:
    """NFKC (full-width Latin letters and digits become ASCII) but keep full-width punctuation.

    Line ends become \\n, form feeds a line break, other control characters (which break Parquet viewers and
    Excel) and stray BOMs are dropped, lone surrogates become U+FFFD, a radical standing for a character (⻔)
    becomes the character (门). Private Use Area characters (GBK user-defined characters) are kept as they are.
    Idempotent.
    """
    if _TO_CLEAN.search(text):
        text = LINE_BREAKS.sub("\n", text)
        if "\x1b" in text:  # a terminal's colour or cursor sequence: without its ESC, '[31m' would stay as text
            text = _ANSI.sub("", text)
        text = _CONTROLS.sub("", text)
        text = _SURROGATES.sub("\ufffd", text)
    if text.isascii():
        return text  # NFKC leaves ASCII alone
    if _RADICALS.search(text):
        text = text.translate(_RADICAL_CHARACTERS)
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
# A Chinese line also runs on after a comma, an enumeration comma, a semicolon or an opening bracket or quote, and
# into punctuation no line of its own starts with (a PDF wraps wherever the page ends)
_HAN_WRAP = re.compile(r"\n(?<=[\u4e00-\u9fff，、；（《“]\n)[ \t\u3000]*(?=[\u4e00-\u9fff，。、；：？！）》」』”])")
_EN_WRAP = re.compile(r"\n(?<=[A-Za-z,;]\n)[ \t]*(?=[a-z])")
_STRUCTURE = re.compile(rf"{STRUCTURE_NUMBER}|[{CN_NUMERAL}]+、")
# A typeset text also breaks a word at a line's end with a hyphen, "technology trans-" / "fer". Whether the hyphen
# is the word's own (industry-/university) the document itself says: the pair written with a hyphen elsewhere, or
# two words it writes on their own and never as one, keep it; otherwise the hyphen only broke the word.
_EN_HYPHEN_WRAP = re.compile(r"-\n(?<=[A-Za-z]-\n)[ \t]*(?=[a-z])")
# A capital after the hyphen (Anti-/Corruption, Sino-/American) continues a compound, which keeps its hyphen
_EN_HYPHEN_CAPITAL_WRAP = re.compile(r"\n(?<=[A-Za-z]-\n)[ \t]*(?=[A-Z])")
_EN_WORD = re.compile(r"[A-Za-z]+")
_EN_HYPHENATED = re.compile(r"([A-Za-z]+)-(?=([A-Za-z]+))")
_LAST_WORD = re.compile(r"[A-Za-z]+$")
WRAPPED_LINE = {"han": 10, "en": 40}  # characters a line runs to before a break in it is taken for a wrap


def unwrap_lines(text: str) -> str:
    """`text` with its hard line wraps joined (see above); text without any is returned as it is."""
    if "\n" not in text:
        return text
    first_line_end = text.find("\n", len(text) - len(text.lstrip()))
    edits, hyphen_breaks = [], []
    for rx, joint, kind in ((_HAN_WRAP, "", "han"), (_EN_WRAP, " ", "en"), (_EN_HYPHEN_WRAP, None, "en"),
                            (_EN_HYPHEN_CAPITAL_WRAP, "", "en")):
        for m in rx.finditer(text):
            line_start = text.rfind("\n", 0, m.start()) + 1
            if (m.start() <= first_line_end or m.start() - line_start < WRAPPED_LINE[kind]
                    or (kind == "han" and _STRUCTURE.match(text, m.end()))):
                continue
            if joint is None:  # a hyphen at the break: kept or not, as the whole text says (_hyphen_joins)
                hyphen_breaks.append(m)
            else:
                edits.append((m.start(), m.end(), joint))
    if hyphen_breaks:
        edits += _hyphen_joins(text, hyphen_breaks)
    if not edits:
        return text
    out, last = [], 0
    for start, end, joint in sorted(edits):
        out += [text[last:start], joint]
        last = end
    return "".join(out) + text[last:]


def _hyphen_joins(text: str, breaks: list[re.Match]) -> list[tuple[int, int, str]]:
    """The edits joining the words broken at `breaks` (each a hyphen and line break): the hyphen kept or dropped
    as the document writes the two halves elsewhere (see _EN_HYPHEN_WRAP)."""
    words = Counter(m.group(0).lower() for m in _EN_WORD.finditer(text))  # no list of every word of a huge text
    pairs = Counter((a.lower(), b.lower()) for a, b in _EN_HYPHENATED.findall(text))
    halves = [(_LAST_WORD.search(text, max(0, m.start() - 100), m.start()).group(0).lower(),
               _EN_WORD.match(text, m.end()).group(0).lower()) for m in breaks]
    # the halves of the broken words themselves are no evidence that the document writes them as words
    words.subtract(h for pair in halves for h in pair)
    edits = []
    for m, (left, right) in zip(breaks, halves):
        joined, hyphened = words[left + right], pairs[(left, right)]
        keep = hyphened > joined or (not joined and words[left] > 0 and words[right] > 0)
        edits.append((m.start() + 1, m.end(), "") if keep else (m.start(), m.end(), ""))
    return edits


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
    # counted over code point arrays: Python loops over every sample were a third of ingest
    sample = text[:4000]
    codes = code_points(sample)
    han = int(np.count_nonzero((codes >= 0x4E00) & (codes <= 0x9FFF)))
    if not han:
        return text, False
    # characters OpenCC changes, position by position (over the shorter of the two where a length changed)
    converted = code_points(simplified(sample))
    n = min(len(codes), len(converted))
    changed = int(np.count_nonzero(codes[:n] != converted[:n]))
    # Simplified text has a few characters OpenCC still maps (e.g. variant forms); Traditional has many
    if changed / han < 0.03:
        return text, False
    return _same_length_t2s(text), True


def simplified(text: str) -> str:
    """OpenCC's Traditional-to-Simplified conversion, phrase by phrase (its length may change: to_simplified
    converts a document keeping its offsets). The one converter of the process, made on first use."""
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    return _t2s.convert(text)


def code_points(text: str) -> np.ndarray:
    """The code points of `text` (lone surrogates included), one uint32 each."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _same_length_t2s(text: str) -> str:
    """OpenCC's conversion, kept character for character so that every offset into the converted text (passages,
    matched terms) is also an offset into the original. OpenCC's phrase conversions keep the length in nearly all
    cases; a line where one does not is converted character by character instead (a character whose conversion
    is not one character is left as it is)."""
    out = simplified(text)
    if len(out) == len(text):
        return out
    lines = []
    for line in text.splitlines(keepends=True):
        conv = simplified(line)
        if len(conv) != len(line):
            conv = "".join(c if len(c := simplified(ch)) == 1 else ch for ch in line)
        lines.append(conv)
    return "".join(lines)


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


# a database's field name before the title on its first line: 法規名稱：科學技術基本法 (Taiwan's law database)
_TITLE_FIELD = re.compile(r"^(?:法[规規]名[称稱]|[标標]题|[标標]題|名[称稱])[ \t]*[：:][ \t]*")


def title_from_text(text: str, fallback: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        title = _TITLE_FIELD.sub("", line.strip().lstrip("#").strip())
        if title:
            if not line.lstrip().startswith("#"):
                title = " ".join([title, *_title_wraps(lines, i)])
            return _cut_title(title)
    return fallback


TITLE_CHARS = 120  # a first line longer than this is a paragraph's worth, not all of it a title


def _cut_title(title: str) -> str:
    """`title` cut to TITLE_CHARS, between words where it has spaces, and ending on '…' where it was cut."""
    if len(title) <= TITLE_CHARS:
        return title
    cut = title[:TITLE_CHARS]
    space = cut.rfind(" ")
    return (cut[:space] if space > TITLE_CHARS // 2 else cut[:-1]).rstrip(" ,;:") + "…"


_ANY_HAN = re.compile(r"[\u3400-\u9fff]")


def _title_wraps(lines: list[str], i: int) -> list[str]:
    """The lines an English title at `lines[i]` runs on to in a hard-wrapped text (a plain-text export at 70
    characters): each one's first word would not have fitted on the line before, as wide as the text's lines
    run. unwrap_lines never joins a document's first line, as a short title stands over its text."""
    width = max((len(ln.rstrip()) for ln in lines[i + 1:i + 60]), default=0)
    out = []
    for j in range(i, min(i + 2, len(lines) - 1)):
        line, nxt = lines[j].rstrip(), lines[j + 1].strip()
        if (not nxt or not nxt[0].isalpha() or _ANY_HAN.search(line + nxt) or len(line) < WRAPPED_LINE["en"]
                or line.endswith((".", ";", ":", "!", "?")) or len(line) + 1 + len(nxt.split()[0]) <= width):
            break
        out.append(nxt)
    return out


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
