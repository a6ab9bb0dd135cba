"""A document file's text by its format: Word (.docx), PDF, HTML, and Markdown's front matter. What each
format adds to the text it holds (a PDF's running heads, a web page's menu, Word's list numbering, tracked
deletions) is left out or put back here, so that segmentation sees the document as it reads.

The format libraries (python-docx, pypdf, BeautifulSoup) are imported where a file needs them, on purpose: most
corpora use one or two formats, and each costs start-up time in every process.
"""
from __future__ import annotations

import io
import logging
import re
import warnings
import zipfile
from contextlib import contextmanager

from .article_numbers import ARTICLE_NUMBER, STRUCTURE_NUMBER
from .text import (DEFAULT_MAX_BYTES, LINE_BREAKS, WRAPPED_LINE, Decoded, DecodeError, decode_bytes, megabytes,
                   one_line, own_title)

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
# text that opens an article or a chapter (a Word paragraph, a web page's string), in Simplified or Traditional (a
# file is read before conversion); anchored, as BeautifulSoup searches a page's strings with it
_STRUCTURE_START = re.compile(rf"^\s*{STRUCTURE_NUMBER}")


def _docx_blocks(container, parent, numbering: "_DocxNumbering") -> list[str]:
    """The text of a Word document's body (or of a table cell or a text box: `container` is its XML element,
    `parent` the python-docx object tables hang from) in reading order: each paragraph, followed by the text
    boxes anchored in it, and each table row as its cells' texts joined by " | " (a cell merged across columns
    once), tables within cells included. Policy documents put measures in tables; reading paragraphs alone
    dropped them. Articles inside content controls, tracked insertions, fields and smart tags are read as Word
    shows them; python-docx's paragraph and table lists leave them out. A paragraph Word numbers (`numbering`)
    starts with its number as Word shows it (第五条, 1., (a))."""
    out = []
    for el in container:
        if el.tag == _W + "p":
            text: list[str] = [numbering.label(el)]
            boxes: list[str] = []
            _docx_inline(el, text, boxes, parent, numbering)
            _space_after_article_number(text)
            if "".join(text) or not boxes:  # (a text box's anchor is usually an empty paragraph of its own)
                out.append("".join(text))
            out.extend(boxes)
        elif el.tag == _W + "tbl":
            out.extend(_docx_table(el, parent, numbering))
        elif el.tag in _DOCX_BLOCK_WRAPPERS:
            out.extend(_docx_blocks(el, parent, numbering))
        elif el.tag == _MC + "AlternateContent":
            out.extend(_docx_blocks(_docx_alternative(el), parent, numbering))
    return out


def _docx_table(table, parent, numbering: "_DocxNumbering") -> list[str]:
    """The blocks of a Word table (`table` its w:tbl element): each row its cells' texts joined by " | ", a cell
    merged across columns once."""
    from docx.table import Table

    out = []
    rows = Table(table, parent).rows
    for row in rows:
        blocks, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            blocks.append([t for t in _docx_blocks(cell._tc, cell, numbering) if t.strip()])
        # a table of one cell, or a cell holding articles, is the page's layout (a form, a frame), not a
        # table's row: read as one, a regulation typed in it was one line
        if len(blocks) == 1 and len(rows) == 1 or any(
                sum(1 for t in b if _STRUCTURE_START.match(t)) > 1 for b in blocks):
            out.extend(t for b in blocks for t in b)
            continue
        cells = [" ".join(b).strip() for b in blocks]
        if any(cells):
            out.append(" | ".join(c for c in cells if c))
    return out


def _docx_inline(el, text: list[str], boxes: list[str], parent, numbering: "_DocxNumbering") -> None:
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
_ARTICLE_NUMBER = re.compile(ARTICLE_NUMBER)


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
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting",
               "taiwaneseCountingThousand"):
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
            self._read_lists(_part_xml(numbering))
        if styles is not None and self._levels:
            self._style_num = _style_numbering(_part_xml(styles))

    def _read_lists(self, root) -> None:
        """Read the lists (w:num) of numbering.xml (`root`): each one's levels, its definition's with the list's
        overrides, and the levels it restarts."""
        definitions = list(root.iter(_W + "abstractNum"))
        abstract = {a.get(_W + "abstractNumId"): self._read_levels(a.findall(_W + "lvl")) for a in definitions}
        # a list made from a list style has a definition without levels that names the style (w:numStyleLink): its
        # levels, and its count, are those of the definition the style names (w:styleLink). Read as it stood, a
        # regulation whose articles a list style numbers (第%1条) had no article numbers
        of_style = {style: a.get(_W + "abstractNumId") for a in definitions
                    if (style := _child_val(a, "styleLink")) is not None}
        styled = {a.get(_W + "abstractNumId"): of_style.get(style) for a in definitions
                  if (style := _child_val(a, "numStyleLink")) is not None}
        for num in root.iter(_W + "num"):
            num_id, abstract_id = num.get(_W + "numId"), _child_val(num, "abstractNumId")
            abstract_id = styled.get(abstract_id) or abstract_id
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

    @staticmethod
    def _read_levels(levels, ilvl: int | None = None) -> dict[int, tuple[int, str, str, str, int]]:
        out = {}
        for lvl in levels:
            at = ilvl if ilvl is not None else _int(lvl.get(_W + "ilvl"), 0)
            if not 0 <= at < 9:
                continue  # Word's lists have nine levels
            val = {name: _child_val(lvl, name) for name in ("start", "numFmt", "lvlText", "suff", "lvlRestart")}
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


def _child_val(element, name: str) -> str | None:
    """The w:val of `element`'s child w:<name>, or None."""
    child = element.find(_W + name)
    return child.get(_W + "val") if child is not None else None


def _style_numbering(root) -> dict[str, tuple[str, int | None]]:
    """styleId -> (numId, ilvl) the paragraphs of that style take, from styles.xml (`root`): the style's own
    numbering, else that of the nearest style it is based on that has one."""
    based_on, own = {}, {}
    for style in root.iter(_W + "style"):
        sid = style.get(_W + "styleId")
        based_on[sid] = _child_val(style, "basedOn")
        num_pr = style.find(f"{_W}pPr/{_W}numPr")
        if num_pr is not None:
            own[sid] = _num_pr(num_pr)
    style_num = {}
    for sid in based_on:
        seen, at = set(), sid
        while at is not None and at not in own and at not in seen:
            seen.add(at)
            at = based_on.get(at)
        if at in own:
            style_num[sid] = own[at]
    return style_num


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


# A .docx is a zip archive, and python-docx inflates every member into memory and parses its XML whole: a 3 MB
# file can hold 1 GB of XML. So the size limit holds for what the archive expands to, checked on the sizes its
# directory declares before anything is inflated (zipfile stops a member at its declared size and then fails
# its CRC check, so an archive that lies about a size fails instead of growing).
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_RATIO = 100  # Word's XML deflates 5-20:1; far beyond that is a decompression bomb
ZIP_RATIO_FLOOR = 4 * 2**20  # below this a member may compress as well as it likes: it stays small


def check_archive(data: bytes, max_bytes: int) -> None:
    """Raise DecodeError when the zip archive `data` would expand past `max_bytes` or looks like a bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        # a zip archive's directory is at its end: a file that starts as one and has none was cut off
        why = ("damaged or cut off (a zip archive without its end, as a download or a save that did not finish "
               "leaves it); download or save it again" if data.startswith(b"PK\x03\x04") else "not a zip archive")
        raise DecodeError(f"not a readable .docx: {why} ({type(exc).__name__})") from None
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


_MD_H1 = re.compile(r"^#[ \t]+(.+)$", re.MULTILINE)


def _markdown_text(decoded: Decoded) -> tuple[Decoded, str]:
    """A Markdown file's text without its YAML front matter, and the title the front matter gives ("" if none)."""
    import yaml

    if not decoded.text.lstrip("\ufeff").startswith("---"):
        return decoded, ""
    # (line ends are made \n here as normalise() would make them)
    text = LINE_BREAKS.sub("\n", decoded.text.lstrip("\ufeff"))
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
    body = text[m.end():]
    # a web clipper's title is the page's <title>, the site's name with it ("…条例 - 某省人民政府"): the page's
    # own heading, where that title holds it, is the document's title, as for a saved page (_page_title)
    heading = _MD_H1.search(body, 0, _FRONT_MATTER_CHARS)
    own = heading.group(1).strip().strip("#").strip() if heading else ""
    if own and own != title.strip() and own in title:
        title = own
    return Decoded(body, decoded.encoding, decoded.note), title


# A page clipped to Markdown ends on the site's links after the document: a rule, then "[打印本页](…) | [关闭窗口](…)".
# They ran on in the last article, cited as it. Lines of links alone (and rules) at the end are the site's.
_LINKS_ALONE = re.compile(r"[ \t]*(?:(?:!?\[[^\]\n]*\]\((?:[^()\n]|\([^()\n]*\))*\)|[|｜·•/、]|【[^】\n]*】)[ \t]*)+"
                          r"|[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*|[ \t]*")


def _without_site_links(decoded: Decoded) -> Decoded:
    """A Markdown text without the lines of links alone (and rules) it ends on; a text of links alone stays."""
    lines = decoded.text.split("\n")
    keep = len(lines)
    while keep and _LINKS_ALONE.fullmatch(lines[keep - 1]):
        keep -= 1
    if keep == len(lines) or not any(line.strip() for line in lines[:keep]) \
            or all(_LINKS_ALONE.fullmatch(line) and not line.strip() for line in lines[keep:]):
        return decoded
    return Decoded("\n".join(lines[:keep]) + "\n", decoded.encoding, decoded.note)


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
        return _without_site_links(decoded), own_title(title)
    if fmt == "html":
        decoded, title = _html_text(decode_bytes(data))
        return decoded, own_title(title)
    if fmt == "docx":
        return _docx_text(data, max_bytes)
    if fmt == "pdf":
        return _pdf_text(data), ""
    raise DecodeError(f"unsupported format {fmt}")


def _docx_text(data: bytes, max_bytes: int) -> tuple[Decoded, str]:
    """A Word document's text and the title in its properties ("" if none)."""
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


def _pdf_text(data: bytes) -> Decoded:
    """A PDF's text, with what pypdf said while reading it as the note."""
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
    return Decoded(text, "pdf", said_note)


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
# what a browser prints at a page's edges when a web page is saved as PDF: the date and time with the page's title
# at the top ("12/7/26, 11:23 AM 某省条例"), the page's address and "1/3" at the bottom. On a one-page print it
# repeats on no other page, so it ran into the last article (and a date into the dates)
_BROWSER_PRINT_EDGE = re.compile(r"\s*(?:\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4},?\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp][Mm])?(?:\s.*)?"
                                 r"|(?:file|https?)://\S+\s+\d+\s*/\s*\d+)\s*")


def pdf_pages_text(pages: list[str]) -> str:
    """The text of a PDF's pages (each as pypdf extracts it) as one text, without running heads and feet."""
    lines = [page.split("\n") for page in pages]

    def edges(page_lines: list[str]) -> list[int]:
        filled = [i for i, line in enumerate(page_lines) if line.strip()]
        return sorted(set(filled[:_PAGE_EDGE_LINES] + filled[-_PAGE_EDGE_LINES:]))

    def shape(line: str) -> str:
        return _DIGITS.sub("#", _NO_SPACE.sub("", line))

    printed = [page_lines for page_lines in lines if any(line.strip() for line in page_lines)]
    title_page = printed[0] if printed else None
    pages_with: dict[str, int] = {}
    for page_lines in printed:
        short = {shape(page_lines[i]) for i in edges(page_lines) if len(page_lines[i].strip()) <= _RUNNING_LINE_CHARS}
        for key in short:
            pages_with[key] = pages_with.get(key, 0) + 1
    running = {key for key, n in pages_with.items() if n >= 2 and 2 * n >= len(printed)}
    kept = []
    for page_lines in lines:
        drop = {i for i in edges(page_lines) if shape(page_lines[i]) in running}
        if page_lines is title_page:
            title_line = min(i for i, line in enumerate(page_lines) if line.strip())
            if not _PAGE_NUMBER.fullmatch(shape(page_lines[title_line])):
                drop.discard(title_line)
        drop |= {i for i in edges(page_lines) if _BROWSER_PRINT_EDGE.fullmatch(page_lines[i])}
        kept.append(_join_capital_wraps([line for i, line in enumerate(page_lines) if i not in drop],
                                        title_page=page_lines is title_page))
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
        if (not titled and len(prev) >= max(full, WRAPPED_LINE["en"]) and _WRAPPED_BEFORE_CAPITAL.search(prev)
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
_HTML_ROOTS = ("[document]", "html", "body")
_TITLE_LOOKBACK = 50
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_SPACES = re.compile(r"[ \t]{2,}")


# A saved web page's <title> names the site beside the document ("…条例_某市人民政府门户网站", "… | Agency").
# Chinese government sites carry the document's own title in a meta tag (ArticleTitle) and the site's (SiteName);
# elsewhere the page's heading, when the <title> holds it, is the document's title.
_TITLE_SEPARATORS = "_-|–—·:："


def _page_title(soup) -> str:
    def meta(name: str) -> str:
        tag = soup.find("meta", attrs={"name": re.compile(rf"^{name}$", re.IGNORECASE)})
        content = tag.get("content") if tag is not None else None
        return _HTML_SPACE.sub(" ", content).strip() if isinstance(content, str) else ""

    own = meta("ArticleTitle")
    if own:
        return own
    title = _HTML_SPACE.sub(" ", soup.title.get_text(" ")).strip() if soup.title else ""
    # the longest: a site's logo may be an <h1> whose name the <title> holds too
    held = [h for h in (_HTML_SPACE.sub(" ", h1.get_text(" ")).strip() for h1 in soup.find_all("h1"))
            if h and h != title and h in title]
    if held:
        return max(held, key=len)
    site = meta("SiteName")
    if site and title != site:
        if title.endswith(site):
            return title[:-len(site)].rstrip().rstrip(_TITLE_SEPARATORS).rstrip() or title
        if title.startswith(site):
            return title[len(site):].lstrip().lstrip(_TITLE_SEPARATORS).lstrip() or title
    return title


def _drop_site_around_articles(soup, title: str) -> None:
    """Most Chinese government sites build the page of <div>s, without <nav>, <footer> or <article> to tell the
    site from the document: their menu and breadcrumb were read as a regulation's preamble and coded, and their
    打印本页 / 版权所有 / ICP备 ran on in its last article. Where two or more articles (or chapters) stand in one element
    below <body>, the document ends with that element and starts at its title: the page's last element before it
    that is an <h1> or whose text is the page's `title`; without one what stands before the articles is kept, as
    it may be the document's own."""
    from bs4.element import Comment

    starts = [s for s in soup.find_all(string=_STRUCTURE_START) if not isinstance(s, Comment)]
    if len(starts) < 2:
        return
    chains = [list(reversed(list(s.parents))) for s in starts]
    holder = None
    for level in zip(*chains):
        if any(el is not level[0] for el in level):
            break
        holder = level[0]
    if holder is None or holder.name in _HTML_ROOTS:
        return

    def drop_beside(node, siblings: str) -> None:
        while node.parent is not None and node.name not in _HTML_ROOTS:
            for sib in list(getattr(node, siblings)):
                sib.extract()
            node = node.parent

    drop_beside(holder, "next_siblings")
    # (the nearest elements only: a title stands just above its text, and each costs a get_text)
    heading = next((el for el in holder.find_all_previous(_HTML_BLOCKS, limit=_TITLE_LOOKBACK) if el.name == "h1"
                    or title and _HTML_SPACE.sub(" ", el.get_text(" ", strip=True)) == title), None)
    if heading is not None:
        drop_beside(heading, "previous_siblings")


def _html_text(decoded: Decoded) -> tuple[Decoded, str]:
    """Readable text of an HTML page (one paragraph per block element, <br> a line break), and its title."""
    from bs4 import BeautifulSoup

    # lxml parses only; nothing in the page (scripts, handlers, remote resources) is run or fetched
    soup = BeautifulSoup(decoded.text, "lxml")
    title = _page_title(soup)
    _drop_all_but_the_document(soup, title)
    _table_rows_as_paragraphs(soup)
    return Decoded("\n\n".join(_html_paragraphs(soup)), decoded.encoding, decoded.note), title


def _drop_all_but_the_document(soup, title: str) -> None:
    """Leave out of the page what is not its document: scripts and the like, the menu, the site's footer and
    sidebars, and the site's elements around a regulation's articles."""
    for tag in soup(_HTML_DROP):
        tag.decompose()
    for tag in soup(_HTML_PAGE_CHROME):
        if not tag.decomposed and tag.find_parent(_HTML_DOCUMENT) is None:
            tag.decompose()
    _drop_site_around_articles(soup, title)


def _table_rows_as_paragraphs(soup) -> None:
    """Make each table row a paragraph, its cells' texts joined by " | ", as a Word table's row is (_docx_blocks):
    read cell by cell, a table of measures became one passage per cell, the measure apart from what it names. A
    row of one cell, or with a cell holding articles, is a page laid out in a table (older government sites) and
    is left as it is: read as a row, the whole regulation was one line."""
    for row in soup.find_all("tr"):
        cells = row.find_all(["td", "th"], recursive=False)
        if row.find("table") is None and len(cells) > 1 and not any(
                len(c.find_all(string=_STRUCTURE_START, limit=2)) > 1 for c in cells):
            cells = [_HTML_SPACE.sub(" ", c.get_text(" ", strip=True)) for c in cells]
            line = soup.new_tag("p")
            line.string = " | ".join(c for c in cells if c)
            row.replace_with(line)


def _html_paragraphs(soup) -> list[str]:
    """The page's paragraphs: the text of each block element, <br> a line break, runs of whitespace one space
    outside <pre> and its like, and an article's number that markup sets apart followed by a space.

    One pass in document order, so the time is linear in the size of the page however deep it nests.
    """
    from bs4.element import CData, NavigableString, PreformattedString, Tag

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
            if el.name in _HTML_BLOCKS:
                block_of[id(el)] = el
                flush()
                current = el
            else:
                block_of[id(el)] = block_of.get(id(parent))
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
    return paragraphs
