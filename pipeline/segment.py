"""Stage 2: documents in, passages that follow each text's own structure out.

Four layouts are recognised, per document:
- Regulations: 第X条 articles, each with its following 款/项 paragraphs; 编/章/节 headings become the
  heading path; text before the first article is the preamble. An English translation's "Article 3" articles
  and "Chapter II" / "Part I" headings are read the same way.
- US-Code style: `§` section headings, each paragraph `(a)`, `(1)`, `(A)` a passage cited as § 3710(a)(1).
- Chinese opinions, notices and decisions (意见, 通知, 决定) numbered 一、/（一）/1./（1） instead of by article:
  each numbered item with its following paragraphs a passage cited as 三、（二）; a short numbered line with no
  sentence in it (一、总体要求) is a heading.
- Anything else: paragraphs (blank-line separated, or one per line when the text has no blank lines); within a UK
  Act's sections (1 Duty to … / (1) …) or a state statute's (Sec. 3. …) cited s. 1(2)(a) and Sec. 3(a).

Every character of a document belongs to exactly one passage (headings and the file header are passages of
their own kinds, which the classifier skips), so passages can always be traced back by offsets.
"""
from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

from .article_numbers import ARTICLE_NUMBER, CN_NUMERAL, NUMBER, RECORD_LINE, SIGNATURE_NOTE, cn_number


CONTENT_KINDS = ("article", "section_paragraph", "paragraph", "preamble", "item")
MAX_PASSAGE_CHARS = 4000
SECTION_HEADING_CHARS = 200  # a "§ 101. Title" line no longer than this is a section heading, not a paragraph

# also with its number in bold, as Markdown made from a Word file sets it (**第一条**), and with the space a few
# published regulations put before 条 instead of after it (第七十五 条体育运动…)
ARTICLE = re.compile(rf"^[ \t\u3000]*(?:\*\*|__)?({ARTICLE_NUMBER})(?:\*\*|__)?"
                     rf"(?=[ \t\u3000]|$|(?<=[ \t\u3000]条))")
# (a Hong Kong ordinance's parts and divisions too: 第1部, 第1分部)
CN_HEADING = re.compile(rf"^[ \t\u3000]*(?:#+[ \t]*)?第{NUMBER}(?:[编章节部]|分部)(?:[ \t\u3000]|$)")
# what follows a number that a sentence names rather than opens ("Article 5 of the Patent Law applies...")
_NAMED_IN_A_SENTENCE = r"(?![ \t]+(?i:of|in|to|and|or|shall|may|is|are|was|were|above|below|hereof)\b)"
# an English translation's articles ("Article 3 These Regulations...", "Article 3."), but not an article named at
# the start of a sentence ("Article 5 of the Patent Law applies..."); also in bold, as Markdown made from a Word
# file has them (**Article 3**), in capitals (ARTICLE 3), and inserted by an amendment (Article 3a)
EN_ARTICLE = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+)?(?:\*\*|__)?((?:Article|ARTICLE)[ \t]+\d+[a-z]?)"
                        r"(?:\.?(?:\*\*|__))?(?=[ \t.:]|$)" + _NAMED_IN_A_SENTENCE)
# ...in capitals too, as EU texts write them (CHAPTER II)
EN_HEADING = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+)?(Part|Chapter|PART|CHAPTER)[ \t]+(?:[IVXLC]+|\d+)(?=[ \t.:]|$)"
                        r"(?![ \t]+(?:of|in|to|and|or|shall|may|is|are)\b)")
MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$")
# an annex after a regulation's articles (附件, 附件1：…, 附表二): read as the last article's text, its words were
# coded and cited as that article's. Its group 1 is the annex's name, its citation.
ANNEX = re.compile(rf"^[ \t\u3000]*(?:#+[ \t]*)?(?:\*\*|__)?((?:附件|附表|附录)[{CN_NUMERAL}]*)(?=[：:（(. \t\u3000*_]|$)")
ANNEX_LINE_CHARS = 60
SECTION = re.compile(r"^(?:#{1,6}[ \t]+)?(§+[ \t]*[\dA-Za-z\-–.]+)")
# some exports mark deep enumerators with more than Markdown's six '#'
# (1A): a subsection an amendment inserted after (1)
ENUM = re.compile(r"^(?:#{1,10}[ \t]+)?\(([A-Za-z]{1,6}|\d{1,3}[A-Z]{0,2})\)")
# what follows an enumerator in a subsection's own heading line, "##### (k) Authorization of appropriations":
# a short phrase, not a sentence ("etc." and a spaced " ." as in "(a) Establishment of Program ." end titles)
_TITLE_WORDS = 15
_SENTENCE_END = re.compile(r"(?<!\betc)(?<=\w)[.;:]$|[.;:]”$")
# ...and a lead-in, "(a) Each Federal agency is authorized to", ends on a word that needs what follows
_LEAD_IN_END = frozenset("a an and any as be by for from if in is are may means of on or shall that the to under "
                         "which who whom with finds".split())
INFO_END = "<!-- INFO END -->"
_ROMAN = set("ivxlc")


@dataclass(slots=True)  # one per line of a document, which may have a million
class Line:
    start: int
    end: int
    text: str


# Articles run together on one line, as text copied from a web page or a PDF often has them ("……制定本条例。　　第二条
# ……"): an article (or chapter) marker after a sentence's end and a space starts a line of its own, and so does an
# article after a heading on the same line ("第一章　总　则　　第一条　……"). A marker inside a sentence or a table
# ("依照第十条", "| 第244条 |") does not.
_INLINE_BREAK = re.compile(rf"(?<=[。；！？])[ \t\u3000]+(?=第[{CN_NUMERAL}]+[条章节编](?:之[{CN_NUMERAL}]+)?[ \t\u3000])")
_ARTICLE_AFTER_HEADING = re.compile(rf"[ \t\u3000]+(?={ARTICLE_NUMBER}[ \t\u3000])")


def _lines(text: str) -> list[Line]:
    out, pos = [], 0
    inline = _INLINE_BREAK.search(text) is not None
    for raw in text.split("\n"):
        for s, e in (_inline_parts(raw) if inline else ((0, len(raw)),)):
            out.append(Line(pos + s, pos + e, raw[s:e]))
        pos += len(raw) + 1
    return out


def _inline_parts(raw: str) -> list[tuple[int, int]]:
    """The (start, end) parts of one line of text, cut before the articles that run on within it."""
    cuts = [0, *(m.start() for m in _INLINE_BREAK.finditer(raw)), len(raw)]
    parts = []
    for s, e in zip(cuts, cuts[1:]):
        part = raw[s:e]
        m = _ARTICLE_AFTER_HEADING.search(part, 0, 80) if CN_HEADING.match(part) or MD_HEADING.match(part) else None
        if m and m.start() > 0:
            parts += [(s, s + m.start()), (s + m.start(), e)]
        else:
            parts.append((s, e))
    return parts


def _enum_level(tag: str, stack: list[str]) -> int:
    """Nesting level of a US-Code enumerator: (a)=0, (1)=1, (A)=2, (i)=3, (I)=4, (aa)=5. `stack` holds the open
    enumerators by level ("" where a level is skipped)."""
    def open_at(level: int) -> bool:
        return len(stack) > level and bool(stack[level])

    if tag[0].isdigit():
        return 1
    if tag.islower():
        # (aa), (bb): below (I); elsewhere a doubled letter is a subsection after (z), as in long sections
        if len(tag) > 1 and len(set(tag)) == 1 and open_at(4) and not (set(tag) <= _ROMAN and open_at(3)
                                                                       and not open_at(5)):
            return 5
        # (i), (v), (x), (c), (l) are roman numerals only below an (A); they are letters when they continue a
        # lettered run, (h) -> (i), or open a subsection, as after a section heading repeated above each one
        if set(tag) <= _ROMAN and open_at(2) and not _continues_letters(stack, 0, tag):
            return 3
        return 0
    # (I), (V): capital numerals below an (i), unless they continue a run of capital letters, (H) -> (I)
    if set(tag.lower()) <= _ROMAN and (len(tag) > 1 or open_at(3) and not _continues_letters(stack, 2, tag)):
        return 4
    return 2


def _continues_letters(stack: list[str], level: int, tag: str) -> bool:
    """Whether enumerator `tag` is the letter after the one open at `level` of `stack`, (h) -> (i), (H) -> (I): it
    continues a run of letters, though it reads as a roman numeral too."""
    return len(tag) == 1 and len(stack) > level and len(stack[level]) == 1 and ord(stack[level]) == ord(tag) - 1


def _open_enumerator(stack: list[str], level: int, tag: str) -> None:
    """Open enumerator `tag` at `level` of `stack` (the enumerators by level, "" where a level is skipped),
    closing those at its level and below."""
    del stack[level:]
    stack.extend([""] * (level - len(stack)))
    stack.append(tag)


def _section_cited(number: str) -> str:
    """A section as cited: its number without the full stop its line may end it with (§ 101. is cited § 101)."""
    return re.sub(r"\.$", "", number.strip())


def _cited_in(section: str, stack: list[str]) -> str:
    """A paragraph's citation within its section: § 3710(a)(1), s. 1(2)(b), Sec. 3(a)."""
    return section + "".join(f"({t})" for t in stack if t)


class _Headings:
    """The path of headings above the current line: a heading closes the open ones of its level or deeper."""

    def __init__(self):
        self.path: list[str] = []
        self._levels: list[int] = []

    def enter(self, level: int, title: str) -> list[str]:
        """Open a heading; returns the path above it. A heading that repeats the one open at its level is a
        breadcrumb (exports repeat "## Subtitle A" above every section): the headings below it stay open."""
        if level in self._levels:
            at = self._levels.index(level)
            if self.path[at] == title:
                return self.path[:at]
        self.close(level)
        self._levels.append(level)
        self.path.append(title)
        return self.path[:-1]

    def close(self, level: int) -> None:
        """Close the open headings of `level` or deeper, as a section that opens with its text ends the one above."""
        while self._levels and self._levels[-1] >= level:
            self._levels.pop()
            self.path.pop()


class Spans:
    """The passages of one document as columns, without their text: number (the ordinal of a content passage,
    minus the count of the others), kind, label, heading path, start, end. Iterating gives one tuple per
    passage; a slice is a Spans of those passages. About 100 bytes a passage, a fraction of a row."""

    __slots__ = ("n", "kind", "label", "path", "start", "end")

    def __init__(self):
        self.n, self.start, self.end = array("q"), array("q"), array("q")
        self.kind: list[str] = []
        self.label: list[str] = []
        self.path: list[str] = []

    def append(self, n: int, kind: str, label: str, path: str, start: int, end: int) -> None:
        self.n.append(n)
        self.kind.append(kind)
        self.label.append(label)
        self.path.append(path)
        self.start.append(start)
        self.end.append(end)

    def __len__(self) -> int:
        return len(self.n)

    def __iter__(self):
        return zip(self.n, self.kind, self.label, self.path, self.start, self.end)

    def __getitem__(self, part: slice) -> "Spans":
        out = Spans()
        for name in self.__slots__:
            setattr(out, name, getattr(self, name)[part])
        return out


class _Builder:
    """Collects the passages of one document in order, as spans (see `segment_spans`)."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.spans = Spans()
        self.ordinal = 0
        self.struct = 0
        self._path: tuple[list[str], str] = ([], "")  # the last heading path joined, shared by its passages

    def add(self, kind: str, start: int, end: int, label: str, heading_path: list[str]) -> None:
        text = self.doc["text"]
        # trim surrounding blank lines so offsets point at text, but keep everything in some passage
        while start < end and text[start] in "\n":
            start += 1
        while end > start and text[end - 1] in "\n ":
            end -= 1
        if start >= end:
            return
        if heading_path != self._path[0]:
            self._path = (list(heading_path), " > ".join(heading_path))
        path = self._path[1]
        parts = _split_long(text, start, end)
        for k, (s, e) in enumerate(parts, start=1):
            # the pieces of a passage cut for length are cited apart: "¶ 1 [2/175]", not 175 times "¶ 1"
            cited = f"{label} [{k}/{len(parts)}]".lstrip() if len(parts) > 1 else label
            if kind in CONTENT_KINDS:
                self.ordinal += 1
                self.spans.append(self.ordinal, kind, cited, path, s, e)
            else:
                self.struct += 1
                self.spans.append(-self.struct, kind, cited, path, s, e)


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def passage_lang(text: str, doc_lang: str) -> str:
    """A passage's language: its document's, unless it is plainly written in the other one (an English article
    in a Chinese regulation has no Han character; a Chinese section of an English document is mostly Han).
    Tokens and terms are read in the passage's language: read in its document's, its words never matched."""
    if doc_lang == "zh":
        if _LATIN_WORD.search(text) is None:
            return "zh"
        # an English article keeps its Chinese marker (第二条): English when its letters outnumber the Han
        # characters three to one
        latin = sum(1 for c in text if c.isascii() and c.isalpha())
        return "en" if latin >= 20 and latin > 3 * len(_HAN.findall(text)) else "zh"
    if _HAN.search(text) is None:
        return doc_lang
    # text.han_share's measure, counted here: segment imports none of ingest's modules, so that editing ingest's
    # text code does not make every document be segmented again
    han = len(_HAN.findall(text))
    return "zh" if han >= sum(c.isalpha() for c in text) / 2 else doc_lang


def _original(doc: dict) -> str:
    """A document's text as written, before ingest converted its Traditional characters, or "" for none. Ingest
    converts character for character; an original where that failed does not share the text's offsets."""
    original = doc.get("text_original") or ""
    return original if len(original) == len(doc["text"]) else ""


def passage_rows(doc: dict, spans: "Spans") -> list[dict]:
    """The passages (rows of the passages table) of `doc` that `spans` (some or all of `segment_spans(doc)`,
    in order) describe."""
    text = doc["text"]
    original = _original(doc)
    doc_id, lang, region, content_hash = doc["doc_id"], doc["lang"], doc["region"], doc["content_hash"]
    rows = []
    for n, kind, label, path, s, e in spans:
        rows.append({
            "passage_id": f"{doc_id}#{n}" if n > 0 else f"{doc_id}#{kind[0]}{-n}", "doc_id": doc_id,
            "ordinal": max(n, 0), "kind": kind, "label": label, "heading_path": path, "start": s, "end": e,
            "text": text[s:e], "text_original": original[s:e], "lang": passage_lang(text[s:e], lang), "region": region,
            "content_hash": content_hash,
        })
    return rows


def _split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut passages longer than MAX_PASSAGE_CHARS at sentence ends (unstructured dumps, not real articles)."""
    if end - start <= MAX_PASSAGE_CHARS:
        return [(start, end)]
    spans, s = [], start
    while end - s > MAX_PASSAGE_CHARS:
        window = text[s: s + MAX_PASSAGE_CHARS]
        cut = max(window.rfind(p) for p in ("。", "；", ". ", "\n", "; "))
        cut = s + (cut + 1 if cut > MAX_PASSAGE_CHARS // 4 else MAX_PASSAGE_CHARS)
        spans.append((s, cut))
        s = cut
    spans.append((s, end))
    return spans


def _header_end(text: str) -> int:
    i = text.find(INFO_END)
    if i < 0:
        return -1
    nl = text.find("\n", i)
    return len(text) if nl < 0 else nl  # the rest of that line belongs to the header


def segment_document(doc: dict) -> list[dict]:
    """Passages of one document (a row of the documents table)."""
    return passage_rows(doc, segment_spans(doc))


def segment_spans(doc: dict) -> Spans:
    """The passages of one document in order, each as a compact span (number, kind, label, heading path, start,
    end), where number is the passage's ordinal for content passages and minus its count among the others;
    `passage_rows` turns spans into rows. Spans take a fraction of the memory of rows (no text)."""
    text = doc["text"]
    b = _Builder(doc)
    body_start = 0
    h = _header_end(text)
    if h > 0:
        b.add("header", 0, h, "", [])
        body_start = h
    body = [ln for ln in _lines(text) if ln.start >= body_start]
    if any(ARTICLE.match(ln.text) for ln in body):
        _articles(b, body, ARTICLE, CN_HEADING)
    elif any(SECTION.match(ln.text) for ln in body) and any(ENUM.match(ln.text) for ln in body):
        _us_code(b, body)
    elif _english_articles(body):
        _articles(b, body, EN_ARTICLE, EN_HEADING)
    else:
        # a text with no blank line in it (as some exports write one) has a paragraph on each line
        one_per_line = "\n\n" not in text[body_start:].strip("\n")
        if b.doc.get("lang") == "zh" and _numbered_outline(body):
            _outline(b, body, one_per_line)
        else:
            _paragraphs(b, body, one_per_line)
    return b.spans


def _numbered_in_turn(numbers: list[int | None]) -> bool:
    """Whether two of `numbers` follow one another (3, 4): what tells a text's own articles, items or sections
    from a text that names some (Article 7 says…, Article 12 requires…)."""
    return any(a is not None and b == a + 1 for a, b in zip(numbers, numbers[1:]))


def _english_articles(lines: list[Line]) -> bool:
    """Whether lines opening on "Article N" are a translated regulation's articles: two of them numbered one after
    the other (Article 3, Article 4). A review's paragraphs may open on the articles they discuss (Article 7
    says…, Article 12 requires…), and read as articles, every paragraph between ran into one passage."""
    numbers = [int(re.match(r"\d+", m.group(1).split()[-1]).group(0))
               for ln in lines if (m := EN_ARTICLE.match(ln.text))]
    return _numbered_in_turn(numbers)


def _articles(b: _Builder, lines: list[Line], article: re.Pattern, heading: re.Pattern) -> None:
    """Articles (`article` marks the line opening one, its group 1 the citation) under `heading` lines: a Chinese
    regulation's (ARTICLE, CN_HEADING) or an English text's (EN_ARTICLE, EN_HEADING)."""
    chinese = article is ARTICLE
    headings = _Headings()
    path = headings.path
    cur_label: str | None = None  # the open article's (or annex's) citation, None in a preamble
    cur_kind = "preamble"
    cur_start = lines[0].start if lines else 0
    last_end = cur_start
    art_level = 0  # the Markdown level of the open article's own heading line (### Article 3), 0 for none
    # text before an article (a .txt file's title line, a decision's opening paragraph) is coded as any passage:
    # cited by nothing, a label on it left a reader no place to look for it
    preamble = "序言" if chinese else "Preamble"
    # text outside an article after the first (under an annex's or a schedule's headings, 一、基本要素 / text) is no
    # preamble: it is cited by the heading above it
    outside_kind, outside = "preamble", preamble
    # a Chinese regulation with its English translation under each article (第一条 … / Article 1 …): each
    # translation is an article of its own, read in English, and its chapters' headings are headings
    translated = chinese and _english_articles(lines)
    skip_to = -1  # a chapter's title on the line after it ends the heading there
    for i, ln in enumerate(lines):
        if i <= skip_to:
            continue
        stripped = ln.text.strip()
        art = article.match(ln.text)
        if art and not chinese and i > 0 and _runs_on(lines[i - 1].text) \
                and not _is_heading(lines[i - 1].text, article, heading):
            art = None  # "… laid down in the following" / "Article 2 applies …": a wrapped line names an article
        if translated and not art:
            art = EN_ARTICLE.match(ln.text)
            if art is None and EN_HEADING.match(ln.text) and len(stripped) <= 60:
                # the translation of the chapter heading above it: a heading, the Chinese one staying the context
                b.add(cur_kind, cur_start, last_end, cur_label or outside, path)
                b.add("heading", ln.start, ln.end, stripped, path)
                if outside_kind != "preamble":
                    outside = stripped
                cur_label, cur_kind, cur_start, last_end = None, outside_kind, ln.end + 1, ln.end + 1
                continue
        md = MD_HEADING.match(ln.text)
        # a heading below the open article's own (### Article 1 / #### Subject matter) is the article's title
        heading_line = _is_heading(ln.text, article, heading) and not (
            cur_label is not None and md and art_level and len(md.group(1)) > art_level and not heading.match(ln.text))
        annex = chinese and cur_label is not None and not art and _annex(ln.text)
        if heading_line or art or annex:
            b.add(cur_kind, cur_start, last_end, cur_label or outside, path)
            cur_label = None
        if annex:
            # an annex stands outside the chapters: it is a passage of its own, cited by its name (附件1)
            headings = _Headings()
            path = headings.path
            cur_label, cur_kind, cur_start, last_end = annex.group(1), "paragraph", ln.start, ln.end
            continue
        if heading_line:
            title = md.group(2).strip() if md else stripped
            end = ln.end
            below = _title_below(lines, i, article, heading)
            if below is not None:
                title, end, skip_to = f"{title} {lines[below].text.strip()}", lines[below].end, below
            b.add("heading", ln.start, end, title, headings.enter(_heading_level(title, ln.text), title))
            if outside_kind != "preamble":
                outside = title
            cur_kind, cur_start, last_end = outside_kind, end + 1, end + 1
            continue
        if art:
            cur_label = art.group(1)
            outside_kind = "paragraph"
            cur_kind, cur_start = "article", ln.start
            art_level = len(md.group(1)) if md else 0
        if stripped:
            last_end = ln.end
    b.add(cur_kind, cur_start, last_end, cur_label or outside, path)


def _is_heading(line: str, article: re.Pattern, heading: re.Pattern) -> bool:
    """Whether a line of a text of articles (`article`) is a heading: a short `heading` line (a chapter's) or a
    Markdown one. An article may stand as a Markdown heading of its own (### Article 3) above its text: it opens the
    article."""
    stripped = line.strip()
    return bool(stripped) and not article.match(line) and (heading.match(line) and len(stripped) <= 60
                                                           or MD_HEADING.match(line))


def _title_below(lines: list[Line], i: int, article: re.Pattern, heading: re.Pattern) -> int | None:
    """The line below chapter heading i that holds its title, or the rest of it: the first line with text of the
    next two, when it reads as a chapter's title, where the heading is its number alone ("CHAPTER II" /
    "SUPPORT MEASURES") or a Chinese heading whose title runs on (第二十二章 犯罪嫌疑人、被告人逃匿、/ 死亡案件违法所得的
    没收程序; or gives its first part's own, 第三章 道路运输相关业务 / 一般规定) up to an article or heading; else
    None. Read apart, the title was a passage of its own, coded and cited as the preamble in mid-document."""
    bare = heading.match(lines[i].text)
    if not bare:
        return None
    titled = bool(lines[i].text[bare.end():].strip())
    if titled and article is not ARTICLE:
        return None
    nxt = next((j for j in range(i + 1, min(i + 3, len(lines))) if lines[j].text.strip()), None)
    if nxt is None or not _chapter_title(lines[nxt].text) or _is_heading(lines[nxt].text, article, heading) \
            or article.match(lines[nxt].text):
        return None
    if titled:
        # a chapter's opening paragraph is a sentence, or goes on with one; a title stands alone above its articles
        # (a bilingual regulation's English chapter heading below the Chinese one is a heading of its own)
        after = _next_text(lines, nxt)
        if _CN_SENTENCE_MARK.search(lines[nxt].text) or not _HAN.search(lines[nxt].text) or after is None or not (
                article.match(after) or _is_heading(after, article, heading)):
            return None
    return nxt


_CN_SENTENCE_MARK = re.compile(r"[。；：！？]")


_RUNS_ON = _LEAD_IN_END | frozenset("following pursuant see per".split())


def _runs_on(line: str) -> bool:
    """Whether `line` breaks off a sentence that the next line goes on with: it ends on a word that needs what
    follows ("… laid down in", "… pursuant to")."""
    words = line.split()
    return bool(words) and words[-1].lower() in _RUNS_ON


def _chapter_title(line: str) -> bool:
    """Whether `line` reads as a chapter's title: a short phrase, not a sentence or an enumerated item."""
    stripped = line.strip()
    return (len(stripped) <= 60 and not re.search(r"[.;:,。；：，]$", stripped)
            and not re.match(r"(?:\(?[0-9A-Za-z]{1,3}[.)]|[（(][一二三四五六七八九十]+[)）])", stripped))


def _heading_level(title: str, raw: str) -> int:
    m = re.search(r"第[^编章节部]+?([编章节部]|分部)", title)
    if m:
        return {"编": 1, "部": 1, "章": 2, "分部": 3, "节": 3}[m.group(1)]
    en = EN_HEADING.match(title)
    if en:
        return {"part": 1, "chapter": 2}[en.group(1).lower()]
    md = MD_HEADING.match(raw)
    return len(md.group(1)) if md else 2


def _subsection_title(title: str) -> bool:
    """Whether what follows the enumerator of a Markdown heading line ("##### (k) Authorization of appropriations")
    is the subsection's title, a short phrase, rather than its text: no sentence's end, no lead-in's last word."""
    words = title.split()
    return 0 < len(words) <= _TITLE_WORDS and not _SENTENCE_END.search(title) and words[-1].lower() not in _LEAD_IN_END


def _us_code(b: _Builder, lines: list[Line]) -> None:
    """A US Code text's paragraphs ((a), (1), (A) …), each cited by its § section and enumerators, § 3710(a)(1),
    under its headings (Markdown, or a plain-text export's § 101. Title lines)."""
    headings = _Headings()
    path = headings.path
    section = ""
    stack: list[str] = []  # enumerators by level
    pending: int | None = None  # start of a lone enumerator line such as "(b)", merged into what follows
    pending_end = 0

    def cited() -> str:
        return _cited_in(section, stack)

    for ln in lines:
        stripped = ln.text.strip()
        if not stripped:
            continue
        md = MD_HEADING.match(ln.text)
        enum = ENUM.match(ln.text)
        sec = SECTION.match(ln.text)
        # a plain-text export (uscode.house.gov's .txt) writes a section's heading as a line of its own, "§ 101.
        # Definitions", where Markdown has "#### § 101."; either way it opens the section
        plain_section = sec and not md and not enum and len(stripped) <= SECTION_HEADING_CHARS
        if (md and not enum) or plain_section:
            if pending is not None:  # a lone enumerator right before a heading stays a passage of its own
                b.add("section_paragraph", pending, pending_end, cited(), path)
                pending = None
            level, title = (len(md.group(1)), md.group(2).strip()) if md else (6, stripped)
            above = headings.enter(level, title)
            if sec:
                opened = _section_cited(sec.group(1))
                if opened != section:  # a section heading repeated above each subsection keeps its enumerators
                    section, stack = opened, []
            b.add("heading", ln.start, ln.end, title, above)
            continue
        start = pending if pending is not None else ln.start
        if enum:
            tag = enum.group(1)
            level = _enum_level(tag, stack)
            # a subsection's heading repeated above each of its paragraphs (a breadcrumb) keeps the ones below it
            if not (md and len(stack) > level and stack[level] == tag):
                _open_enumerator(stack, level, tag)
            title = ln.text[enum.end():].strip()  # what follows "(k)"
            if not title:
                pending, pending_end = start, ln.end
                continue
            if md and pending is None and _subsection_title(title):
                # a subsection's own heading line names what follows: like other headings it is not coded
                b.add("heading", ln.start, ln.end, stripped.lstrip("#").strip(), path)
                continue
        b.add("section_paragraph", start, ln.end, cited(), path)
        pending = None
    if pending is not None:
        b.add("section_paragraph", pending, lines[-1].end, cited(), path)


# A paper's numbered heading standing as a paragraph of its own: "2.1 A network of technology transfer offices"
NUMBERED_HEADING = re.compile(r"^[ \t]*(\d{1,2}(?:\.\d{1,2}){0,3})\.?[ \t]+([A-Z][^\n]*)$")
_NUMBERED = re.compile(r"^[ \t]*(\d{1,2}(?:\.\d{1,2}){0,3})\.?[ \t]")
_HEADING_WORDS = 12
# the levels of a plain English text's headings: a Part or Chapter, and below it a section's, which a numbered
# heading of depth 1 (1 Duty to …) and a statute's section line (Sec. 2. Definitions.) share; 1.1 is one deeper
_PART_LEVEL, _SECTION_LEVEL = 5, 7


def _blocks(lines: list[Line], one_per_line: bool) -> list[tuple[int, int]]:
    """The (first, last) line of each paragraph outside Markdown headings."""
    blocks: list[tuple[int, int]] = []
    for i, ln in enumerate(lines):
        if not ln.text.strip() or MD_HEADING.match(ln.text):
            continue
        if blocks and blocks[-1][1] == i - 1 and not one_per_line and lines[i - 1].text.strip() \
                and not MD_HEADING.match(lines[i - 1].text):
            blocks[-1] = (blocks[-1][0], i)
        else:
            blocks.append((i, i))
    return blocks


def _plain_headings(lines: list[Line], blocks: list[tuple[int, int]]) -> dict[int, tuple[int, int, str]]:
    """The headings of an English text written as plain paragraphs, by their first line: (level, last line,
    title). A "Part 1" / "Chapter 2" paragraph, with its title on the next line or as the next paragraph when it
    has none (Part 1 / Duties of the Secretary of State), is one heading; a numbered one, see _numbered_headings.
    `blocks`: the text's paragraphs (_blocks)."""
    out = {first: (_SECTION_LEVEL + depth - 1, first, lines[first].text.strip())
           for first, depth in _numbered_headings(lines, blocks).items()}
    for k, (first, last) in enumerate(blocks):
        m = EN_HEADING.match(lines[first].text)
        if not m or last - first > 1 or not _chapter_title(lines[first].text):
            continue
        bare = not lines[first].text[m.end():].strip()
        if last > first:  # "Part 1" over its title in one paragraph
            if bare and _chapter_title(lines[last].text) and not EN_HEADING.match(lines[last].text):
                out[first] = (_PART_LEVEL, last, f"{lines[first].text.strip()} {lines[last].text.strip()}")
            continue
        title = lines[first].text.strip()
        nxt = blocks[k + 1][0] if k + 1 < len(blocks) else None
        if (bare and nxt is not None and blocks[k + 1][1] == nxt and nxt - last <= 2 and nxt not in out
                and _chapter_title(lines[nxt].text) and not EN_HEADING.match(lines[nxt].text)
                and not _NUMBERED.match(lines[nxt].text)):
            last, title = nxt, f"{title} {lines[nxt].text.strip()}"
        out[first] = (_PART_LEVEL, last, title)
    return out


def _numbered_headings(lines: list[Line], blocks: list[tuple[int, int]]) -> dict[int, int]:
    """The lines of an English text without Markdown headings that are its numbered headings (1., 1.1, 2.), each
    with its depth: a short phrase, no sentence, standing as a paragraph of its own. An item of a numbered list is
    no heading: the item before or after it is numbered next to it (1. / 2.), where a heading's neighbours are its
    text or a heading of another depth (2. / 2.1)."""
    numbers = [tuple(int(x) for x in m.group(1).split(".")) if (m := _NUMBERED.match(lines[first].text)) else None
               for first, _ in blocks]

    def next_to(a, b) -> bool:
        return b is not None and len(a) == len(b) and a[:-1] == b[:-1] and abs(a[-1] - b[-1]) == 1

    out = {}
    for k, (first, last) in enumerate(blocks):
        stripped = lines[first].text.strip()
        if (first != last or not NUMBERED_HEADING.match(stripped) or len(stripped) > 80
                or re.search(r"[.;:,!?]$", stripped) or len(stripped.split()) > _HEADING_WORDS + 1
                or (k > 0 and next_to(numbers[k], numbers[k - 1]))
                or (k + 1 < len(blocks) and next_to(numbers[k], numbers[k + 1]))):
            continue
        out[first] = len(numbers[k])
    return out


# The numbers of an opinion's or a decision's items, by level: 一、 / （一） / 1. / （1）, also in bold or as a
# Markdown heading. "1.5亿元" is no item, nor is "2021年".
_OUTLINE = re.compile(r"^[ \t\u3000]*(?:#{1,6}[ \t]+)?(?:\*\*|__)?[ \t\u3000]*"
                      r"(?:(?P<l1>[一二三四五六七八九十百零〇]+)、"
                      r"|[（(][ \t]*(?P<l2>[一二三四五六七八九十百零〇]+)[ \t]*[）)]"
                      r"|(?P<l3>\d{1,3})[.．、](?![\d.．])"
                      r"|[（(][ \t]*(?P<l4>\d{1,3})[ \t]*[）)])")
_PART_HEADING = re.compile(rf"^[ \t\u3000]*(?:#+[ \t]*)?(?:\*\*|__)?(第[{CN_NUMERAL}]+(?:部分|[编章节]))(?:[ \t\u3000]|$)")
_OUTLINE_TITLE_CHARS = 30
# the levels of an outline's headings: a part's or an attachment's below any Markdown heading (1-6), and a numbered
# item's (一、 at 11, （一） at 12, …) below the part's
_OUTLINE_PART_LEVEL, _OUTLINE_ITEM_LEVEL = 7, 10
_SENTENCE_MARK = re.compile(r"[。；！？：:;，,]")
# a plan's parts above its 一、 items, numbered in capital numerals (壹、計畫緣起 / 貳、推動策略), as Taiwan's are
_CAPITAL_PART = re.compile(r"^[ \t\u3000]*(?:#{1,6}[ \t]+)?(?:\*\*|__)?[ \t\u3000]*([壹贰貳叁参參肆伍陆陸柒捌玖拾]+、)")


def _part_heading(text: str) -> tuple[int, int] | None:
    """Where the number stands in a line heading a part whose items are numbered afresh: 第二部分 …, or a short
    貳、推動策略; None for any other line."""
    if m := _PART_HEADING.match(text):
        return m.span(1)
    m = _CAPITAL_PART.match(text)
    return m.span(1) if m and _short_title(text, m.end()) else None


def _short_title(text: str, at: int) -> bool:
    """Whether what follows a number in a line (from `at`) reads as a heading's title, 一、总体要求 or 貳、推動策略:
    a few characters, in bold or not, with no sentence in them."""
    rest = text[at:].strip().strip("*_").strip()
    return 0 < len(rest) <= _OUTLINE_TITLE_CHARS and not _SENTENCE_MARK.search(rest)


def _annex(text: str) -> re.Match | None:
    """The name of the attachment (附件1, 附件：…) a short line opens, as after a regulation's articles."""
    return ANNEX.match(text) if len(text.strip()) <= ANNEX_LINE_CHARS else None


def _outline_mark(m: re.Match) -> tuple[int, str]:
    """The level (1-4) of a numbered item and its number as cited: 三、 （二） 1. （3）."""
    level = next(k for k in range(1, 5) if m.group(f"l{k}"))
    n = m.group(f"l{level}")
    return level, (f"{n}、", f"（{n}）", f"{n}.", f"（{n}）")[level - 1]


def _numbered_outline(lines: list[Line]) -> bool:
    """Whether a Chinese text without articles is numbered by items: two of its 一、 (or （一）) items numbered
    one after the other. A paragraph that merely opens on 一、 is not enough."""
    numbers: dict[int, list[int | None]] = {1: [], 2: []}
    for ln in lines:
        m = _OUTLINE.match(ln.text)
        if m and (m.group("l1") or m.group("l2")):
            level = 1 if m.group("l1") else 2
            numbers[level].append(cn_number(m.group(f"l{level}")))
    return any(_numbered_in_turn(seq) for seq in numbers.values())


def _next_text(lines: list[Line], i: int) -> str | None:
    """The text of the first line after line i that is not blank (None at the end)."""
    return next((lines[j].text for j in range(i + 1, len(lines)) if lines[j].text.strip()), None)


def _holds_nothing(lines: list[Line], i: int, level: int) -> bool:
    """Whether the numbered line i is followed by the next of its level (or a part, or the end) with nothing of its
    own between: a measure of a list (二、设立引导基金), no heading. A Markdown heading below it (## 确定工作时间) is
    its subsection."""
    nxt = _next_text(lines, i)
    if nxt is None or _part_heading(nxt) or _annex(nxt):
        return True
    m = _OUTLINE.match(nxt)
    return m is not None and _outline_mark(m)[0] <= level


def _closes_a_list(lines: list[Line], i: int, level: int, after: int | None) -> bool:
    """Whether the numbered line i is the last measure of a list of short lines (三、完善评价机制, the line before a
    measure of its level: `after`), with a paragraph (各地要抓好落实。) after it, not items of its own: read as a
    heading, the measure was never coded."""
    if after != level:
        return False
    nxt = _next_text(lines, i) or ""
    return not (_OUTLINE.match(nxt) or MD_HEADING.match(nxt) or _part_heading(nxt) or _annex(nxt))


def _outline(b: _Builder, lines: list[Line], one_per_line: bool) -> None:
    """An opinion's, notice's or decision's numbered items (see the module's docstring). Paragraphs that no item
    holds (before the first, or under a heading before its first item) are cited as paragraphs of the heading
    above them: ¶ 2, 一、 ¶ 1."""
    headings = _Headings()
    path = headings.path
    marks = [""] * 5  # the numbers of the items open at levels 1-4 (index 0 unused)
    # a plan numbers its items afresh in each part: without the part, 一、（一） named a place in each of them
    in_part = ""  # the open part's number as written (第二部分, 貳、), which the citations open with
    written = _original(b.doc) or b.doc["text"]
    item: tuple[int, str] | None = None  # (start, citation) of the open item
    para: int | None = None  # start of the open paragraph outside any item
    loose = 0  # such paragraphs under the current heading
    end = 0

    def cited(marked: str) -> str:
        joined = in_part.endswith("、") and not marked.startswith("¶")  # 貳、一、（一）, 貳、 ¶ 1, 第二部分 一、
        return f"{in_part}{'' if joined else ' '}{marked}".strip() if in_part else marked

    def close() -> None:
        nonlocal item, para, loose
        if item is not None:
            b.add("item", item[0], end, item[1], path)
        if para is not None:
            loose += 1
            b.add("paragraph", para, end, cited(f"{''.join(marks)} ¶ {loose}".lstrip()), path)
        item = para = None

    listed: int | None = None  # the level of the list the line before was a measure of (see _holds_nothing)
    signed = _signature(lines)
    for i, ln in enumerate(lines[:signed]):
        stripped = ln.text.strip()
        if not stripped:
            if para is not None:
                close()
            continue
        m = _OUTLINE.match(ln.text)
        md = MD_HEADING.match(ln.text)
        was_listed, listed = listed, None
        # a notice's attachment (附件1 …) numbers its own 一、 and 1.: cited as the notice's, a reader looked for
        # them among the notice's items; they are cited with its name, as a part's are
        annex = _annex(ln.text)
        part = annex.span(1) if annex else _part_heading(ln.text)
        if not (m or md or part):
            if item is None and para is None:
                para = ln.start
            end = ln.end
            if one_per_line and item is None:
                close()
            continue
        close()
        if m and not part:
            level, mark = _outline_mark(m)
            marks[level:] = [mark] + [""] * (4 - level)
            # a short line of 1.- or （1）-numbered items is a list (材料清单), not headings
            short = md is None and level <= 2 and _short_title(ln.text, m.end())
            if short and _holds_nothing(lines, i, level):
                listed = level
            heading = md is not None or (short and listed is None and not _closes_a_list(lines, i, level, was_listed))
            if not heading:
                headings.close(_OUTLINE_ITEM_LEVEL + level)  # a heading of its level, （三）共建平台, holds no sibling （四）
                item, end = (ln.start, cited("".join(marks))), ln.end
                continue
            title = stripped.lstrip("#").strip().replace("**", "").replace("__", "")
            b.add("heading", ln.start, ln.end, title, headings.enter(_OUTLINE_ITEM_LEVEL + level, title))
        else:
            # a part or chapter, an attachment, or a Markdown heading with no number, starts the numbering afresh
            marks[:] = [""] * 5
            in_part = written[ln.start + part[0]:ln.start + part[1]] if part else ""
            title = (md.group(2) if md else stripped).strip().replace("**", "").replace("__", "")
            depth = len(md.group(1)) if md else _OUTLINE_PART_LEVEL  # a heading's depth, not an item's level
            b.add("heading", ln.start, ln.end, title, headings.enter(depth, title))
        loose = 0
    close()
    if signed < len(lines):
        b.add("signature", lines[signed].start, lines[-1].end, "", path)


# The end of a notice or an opinion: who issued it and when ("国务院" / "2025年3月1日"), lines of a few words each
# (a Taiwanese signature counts 民国 years: 中华民国一百一十年, 民国110年)
_ISSUED_ON = re.compile(r"[ \t\u3000]*(?:\d{4}|[〇○零一二三四五六七八九]{4}"
                        r"|(?:中华)?民国[ \t]*(?:\d{1,3}|[零〇一二三四五六七八九十百]{1,5}))"
                        r"[ \t]*年[ \t]*[\d一二三四五六七八九十]{1,2}[ \t]*月[ \t]*[\d一二三四五六七八九十]{1,3}[ \t]*日[ \t\u3000]*")
_SIGNATURE_LINES, _SIGNATURE_CHARS = 4, 40
_SIGNATURE_NOTE_LINE = re.compile(rf"[ \t\u3000]*{SIGNATURE_NOTE}[ \t\u3000]*")
_RECORD_LINE = re.compile(RECORD_LINE)


def _signature(lines: list[Line]) -> int:
    """Where an opinion's or a notice's signature starts (its issuer and date, after a blank line at its end), or
    len(lines) where it has none. It was coded as the text of the last item, cited as that item."""
    filled = [i for i, ln in enumerate(lines) if ln.text.strip()]
    # the record below the signature (抄送：…, …印发) is the signature's too
    while len(filled) > 1 and _RECORD_LINE.fullmatch(lines[filled[-1]].text):
        filled.pop()
    if not filled:
        return len(lines)
    # a note under the date (（此件公开发布）, as the standard layout of official documents places it) is the
    # signature's too
    dated = filled[-2] if len(filled) > 1 and _SIGNATURE_NOTE_LINE.fullmatch(lines[filled[-1]].text) else filled[-1]
    if not _ISSUED_ON.fullmatch(lines[dated].text):
        return len(lines)
    first = dated
    while (first - 1 in filled and dated - first + 1 < _SIGNATURE_LINES
           and len(lines[first - 1].text.strip()) <= _SIGNATURE_CHARS
           and not _SENTENCE_MARK.search(lines[first - 1].text) and not _OUTLINE.match(lines[first - 1].text)):
        first -= 1
    # the signature stands apart from the text above it
    return first if first > 0 and not lines[first - 1].text.strip() else len(lines)


# A US state statute's sections, "Sec. 3." / "Section 3." / "SECTION 3.", but not a section named at the start of a
# sentence ("Section 5 of the Act applies...")
STATE_SECTION = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+)?(?:\*\*|__)?((?:Sec\.|SEC\.|Section|SECTION)[ \t]+(\d+)[A-Za-z]?"
                           r"(?:[.\-–]\d+[A-Za-z]?)*)\.?(?:\*\*|__)?(?=[ \t]|$)" + _NAMED_IN_A_SENTENCE)
# what follows "§ 5" when a paragraph names a section rather than opening it: "§ 5 of the Act provides ..."
_REFERS_TO_SECTION = re.compile(r"[ \t]+(?:of|in|to|and|or|through|shall|may|is|are)\b")
# what a section's text has and its title ("Definitions.", "Technology transfer program established.") has not
_STATUTE_SENTENCE = re.compile(r"\b(?:shall|may|must|is|are|will|means|includes)\b|[.;:][ \t]+\S|[，。；]")


# what the text above an Act's first section says of it: Research Act 2025, An Act to …, Be it enacted
_ENACTED = re.compile(r"\b(?:Act|ACT|Bill|BILL|Regulations|REGULATIONS|Order|ORDER|Measure|MEASURE)\b|\b(?:[Ee]nacted|ENACTED)\b")


def _uk_level(tag: str, stack: list[str]) -> int:
    """The level of an Act's enumerator: subsection (1), paragraph (a), sub-paragraph (i), (A) below it."""
    if tag[0].isdigit():
        return 0
    if tag.islower():
        # (i) after (h) continues the letters; below an open (a) it is a sub-paragraph
        return 2 if set(tag) <= _ROMAN and len(stack) > 1 and stack[1] and not _continues_letters(stack, 1, tag) else 1
    return 3


def _statute_sections(lines: list[Line], blocks: list[tuple[int, int]],
                      plain: dict[int, tuple[int, int, str]]) -> tuple[dict[int, tuple[str, bool]], bool]:
    """The lines that open a statute's sections, each with its section as cited and whether the line is a heading,
    and whether the text is a UK-style Act. A UK Act's sections are numbered headings ("1 Duty to promote
    research") whose text opens on subsection (1), cited s. 1(2); two such make an Act, where a paper's numbered
    headings (2 Funding) are followed by prose. A state statute's sections open on "Sec. 3." (cited Sec. 3(a)),
    two of them numbered one after the other, as a review that mentions a section has not; an act's on "§ 2." (cited
    § 2), unless it names the section ("§ 2 of the Act applies")."""
    # a statute saved as Markdown has its sections as headings (## 1 Duty to … / ## Sec. 2. Grants.): read as
    # the same text's plain lines are, it is cited as they are
    md = {i: h.group(2) for i, ln in enumerate(lines) if (h := MD_HEADING.match(ln.text))}
    firsts = sorted({first for first, _ in blocks} | set(md))

    def numbered(i: int) -> re.Match | None:
        """The number of a section heading of depth 1: 1 Duty to …, ## 2 Grants."""
        if i in md:
            h = NUMBERED_HEADING.match(md[i].strip())
            return h if h and "." not in h.group(1) else None
        return _NUMBERED.match(lines[i].text) if plain.get(i, (0,))[0] == _SECTION_LEVEL else None

    sections = [k for k, first in enumerate(firsts) if numbered(first)]
    # a paper's headings may open on (1) lists too; its title names no Act, as an Act's does
    above = [ln.text for ln in lines[:firsts[sections[0]]]] if sections else []
    enacted = not any(t.strip() for t in above) or any(_ENACTED.search(t) for t in above)
    if enacted and sum(1 for k in sections if k + 1 < len(firsts)
                       and re.match(r"[ \t]*\(1\)", lines[firsts[k + 1]].text)) >= 2:
        return {firsts[k]: (f"s. {numbered(firsts[k]).group(1)}", True) for k in sections}, True
    state = {first: m for first in firsts if (m := STATE_SECTION.match(lines[first].text))}
    numbers = [int(m.group(2)) for m in state.values()]
    if not _numbered_in_turn(numbers):
        state = {}
    marked = {first: m for first in firsts if (m := SECTION.match(lines[first].text))
              and not _REFERS_TO_SECTION.match(lines[first].text, m.end())}
    out = {}
    openers = {**state, **marked}
    for k, first in enumerate(firsts):
        if (m := openers.get(first)) is None:
            continue
        rest = lines[first].text[m.end():].strip().strip("*_").strip()
        # a heading has its section's text below it: a line the next section (or the end) follows is that text
        # (Section 2. Universities retain title to inventions.), however much it reads like a title
        text_below = k + 1 < len(firsts) and firsts[k + 1] not in openers
        title = not rest or first in md or (text_below and len(rest) <= 80 and len(rest.split()) <= 10
                                            and not _STATUTE_SENTENCE.search(rest.rstrip(".")))
        out[first] = (_section_cited(m.group(1)), title)
    return out, False


class _OpenSection:
    """The statute's section that paragraphs stand in, and how each is cited as it comes: by the section and its
    enumerators (s. 1(2)(a), Sec. 3(a)), or before any enumerator as the section's next paragraph (Sec. 3 ¶ 2).
    Outside a section a paragraph has no citation ("": it is cited ¶ N)."""

    def __init__(self, level_of):
        self.level_of = level_of  # an enumerator's level: _uk_level in a UK Act, else _enum_level
        self.open("")

    def open(self, citation: str, with_text: bool = False) -> None:
        """Open the section cited `citation` ("" for none); `with_text`: its own line is its first paragraph
        (Sec. 3. The department shall …), cited as the section."""
        self.citation = citation
        self.stack: list[str] = []  # its enumerators by level
        self.loose = 1 if with_text else 0  # its paragraphs without an enumerator

    def cited(self, text: str) -> str:
        """The citation of the section's next paragraph, which opens on `text`."""
        if not self.citation:
            return ""
        enum = ENUM.match(text)
        if enum:
            tag = enum.group(1)
            _open_enumerator(self.stack, self.level_of(tag, self.stack), tag)
        elif not self.stack:
            self.loose += 1
            return self.citation if self.loose == 1 else f"{self.citation} ¶ {self.loose}"
        return _cited_in(self.citation, self.stack)


def _paragraphs(b: _Builder, lines: list[Line], one_per_line: bool) -> None:
    """Paragraphs, cited ¶ N, under the text's Markdown headings; within an English statute's sections (a UK Act's
    1 Duty to …, a state statute's Sec. 3., an act's § 2.) cited by the section and their enumerators: s. 1(2)(a),
    Sec. 3(a). A plain English text's Parts, Chapters and numbered headings are headings too."""
    headings = _Headings()
    path = headings.path
    english = b.doc.get("lang") == "en"
    blocks = _blocks(lines, one_per_line) if english else []
    # below any Markdown heading of the same text (# Title): plain headings nest under it
    plain = _plain_headings(lines, blocks) if english else {}
    sections, uk = _statute_sections(lines, blocks, plain) if english else ({}, False)
    section = _OpenSection(_uk_level if uk else _enum_level)
    skip_to = -1
    start: int | None = None
    label = ""
    end = 0
    n = 0

    def flush():
        nonlocal start, n
        if start is not None:
            n += 1
            b.add("paragraph", start, end, label or f"¶ {n}", path)
        start = None

    for i, ln in enumerate(lines):
        if i <= skip_to:
            continue
        md = MD_HEADING.match(ln.text)
        opener = sections.get(i)
        if md or i in plain or (opener and opener[1]):
            flush()
            if md:
                level, last, title = len(md.group(1)), i, md.group(2).strip()
            elif i in plain:
                level, last, title = plain[i]
            else:
                level, last, title = _SECTION_LEVEL, i, ln.text.strip().strip("*_").strip()
            b.add("heading", ln.start, lines[last].end, title, headings.enter(level, title))
            section.open(opener[0] if opener else "")
            skip_to = last
            continue
        if not ln.text.strip():
            flush()
            continue
        if start is None:
            start = ln.start
            if opener:  # "Sec. 3. The department shall ..." opens its section with its text
                headings.close(_SECTION_LEVEL)
                section.open(opener[0], with_text=True)
                label = opener[0]
            else:
                label = section.cited(ln.text)
        end = ln.end
        if one_per_line:
            flush()
    flush()
