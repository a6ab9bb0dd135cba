"""The date a document gives.

A document's date comes from, in this order: the manifest's `date` column, a "(YYYY-MM-DD)" in the file
name, the text. In the text, adoption and promulgation dates in the header (通过, 批准, 公布, 发布, 印发, 颁布;
English "approved", "enacted", "adopted", "promulgated") come before the effective date (施行 / "Effective Date"), because the
manifest dates researchers write are adoption dates and the two must mean the same thing; a revised text
(修订, 修正 in its header; an English act's "as amended …") is dated by its latest revision, the version it is.
Only the header (text before the first article) is searched for these, and a notice's signature at its end: the
body cites other laws with their dates.
"""
from __future__ import annotations

import datetime
import re
from pathlib import Path

from .article_numbers import ARTICLE_NUMBER, RECORD_LINE, SIGNATURE_NOTE, cn_number
from .text import one_line

# (2015-08-29), and as people name files too, (2015-8-29) or (2015.08.29): the year first, one separator throughout
DATE_IN_NAME = re.compile(r"[（(](\d{4})([-.])(\d{1,2})\2(\d{1,2})[)）]")

EARLIEST_YEAR = 1949
_N = "[0-9〇○零Ｏ一二三四五六七八九十百两]"
# (民國 as written: a manifest's values are not converted to Simplified as a text is)
_CN_DATE = (rf"(?P<roc>(?:中[华華])?民[国國][ \t]*)?(?P<y>{_N}{{2,4}})[ \t]*年[ \t]*(?P<m>{_N}{{1,2}})[ \t]*月"
            rf"[ \t]*(?P<d>{_N}{{1,3}})[ \t]*日")
_CN_PROMULGATED = "通过|批准|公布|发布|印发|颁布"
# a date, then (within the clause, without passing another date) the word saying what happened on it
_CN_DATE_THEN_WORD = re.compile(_CN_DATE + r"(?:(?!" + _N + r"{2,4}[ \t]*年)[^。；;\n]){0,40}?"
                                rf"(?P<form>{_CN_PROMULGATED}|施行|实施)")
# 发布日期：2017年4月20日
# (and Taiwan's law database's 公發布日：民國 98 年 12 月 30 日)
_CN_WORD_THEN_DATE = re.compile(rf"(?P<form>{_CN_PROMULGATED}|施行|实施|成文)(?:日期|时间|日(?=[ \t]*[：:]))[ \t]*[：:]?[ \t]*"
                                + _CN_DATE)
# a revision stated in the header ("2017年12月1日……会议修订", "根据2009年8月27日……《关于修改部分法律的决定》修正"): the
# text is that version, dated by its latest revision as the national database's file names date it
_CN_REVISED = re.compile(_CN_DATE + r"(?:(?!" + _N + r"{2,4}[ \t]*年)[^。；;\n]){0,60}?(?P<form>修订|修正|修改)"
                         r"(?![ \t]*(?:日期|时间))")
# ...where a decision revised it, the decision's name (《关于修改〈…〉的决定》) comes between the date and the word
# saying what was done (修正): from the open 《 on (past a law it names, 《关于修改<…《…法》…>的决定》), the word after the
# name's close
_CN_AFTER_NAME = re.compile(r"(?:[^《》。；;\n]|《[^《》。；;\n]*》)*》[^《。；;\n]{0,10}?(?P<form>修订|修正|修改)")
# ...or named before its date, as Taiwan's law database heads a law (修正日期：民國 105 年 05 月 11 日); that 修正日期 is
# the next date's, not the one before it
_CN_REVISED_LABEL = re.compile(r"(?P<form>修订|修正|修改)(?:日期|时间)[ \t]*[：:]?[ \t]*" + _CN_DATE)
# 本条例自2020年3月1日起施行 (usually the last article)
_CN_IN_FORCE = re.compile(r"自[ \t]*" + _CN_DATE + r"[ \t]*起?[ \t]*(?P<form>施行|实施|生效)")
# a notice's or an opinion's signature, its issuer and the date on lines of their own at its end (上海市科学技术委员会 /
# 2021年3月5日), as segment reads it: the date it was issued, which a notice states nowhere else
# (a note the standard layout of official documents puts under the date, （此件公开发布）, ends it)
_CN_SIGNED = re.compile(r"(?:^|\n)[ \t\u3000]*[^\s。；;：:，,][^\n。；;：:]{1,39}\n(?:[ \t\u3000]*\n)?[ \t\u3000]*"
                        + _CN_DATE + rf"[ \t\u3000]*(?:\n[ \t\u3000]*)*(?:{SIGNATURE_NOTE}[ \t\u3000]*)?$")
# the record below the signature (抄送：…, …印发), which ends the text after it
_RECORD = re.compile(rf"(?:\n(?:{RECORD_LINE}|[ \t\u3000]*))+\Z")
_MONTHS = {m: i for i, names in enumerate(
    (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
     ("december", "dec")), start=1) for m in names}
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_EN_DATE = (rf"(?:(?P<mn>{_MONTH})[ \t]+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?[ \t]+(?P<y>\d{{4}})"
            rf"|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?[ \t]+(?P<mn2>{_MONTH}),?[ \t]+(?P<y2>\d{{4}})"
            r"|(?P<y3>\d{4})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2}))\b")
# ...also a header line of its own, "Effective: January 1, 2024"
_EN_EFFECTIVE = re.compile(r"(?:\b(?P<form>effective[ \t]+date)\b|^[ \t]*effective\b)[ \t]*[:：\-–—]?[ \t]*\n?[ \t]*"
                           r"(?:is[ \t]+|on[ \t]+)?" + _EN_DATE, re.IGNORECASE | re.MULTILINE)
# a text's own entry into force, anywhere in it, as a Chinese one's 本条例自…起施行 ("This Act shall take effect on
# July 1, 2025", "These Regulations come into force on 1 April 2025"); another law's ("the 1980 Act, which took
# effect on …") is not its date
_EN_IN_FORCE = re.compile(r"\b(?:this|these)[ \t]+(?:act|regulations?|measures|rules|law|order|decision|provisions|"
                          r"policy|strategy|plan|programme|program|guidelines|chapter|section|title)\b[^.\n]{0,60}?"
                          r"\b(?:takes?\s+effect|comes?\s+into\s+force|enters?\s+into\s+force|"
                          r"(?:is|are|be|becomes?)\s+effective)\b(?:\s+(?:on|as\s+of|from|beginning))?[ \t,]*\n?[ \t]*"
                          + _EN_DATE, re.IGNORECASE)
# a translated regulation's note says where it was adopted before when ("Adopted at the 12th Meeting of the
# Standing Committee of the … People's Congress on 20 March 2021", "Promulgated by Decree No. 5 … on"), over a
# line break where its text is wrapped
_EN_PROMULGATED = re.compile(r"\b(?P<form>approved|enacted|adopted|promulgated|published|issued)\b[ \t]*[:：\-–—]?"
                             r"(?:[^.\n]|\.(?=[ \t]*\d)|\n(?![ \t]*\n)){0,160}?" + _EN_DATE, re.IGNORECASE)
# an amended act's version says so as a Chinese revised law does (…修正): "Enacted March 3, 2010, as amended June 1,
# 2018", "Last amended on 5 May 2020 by …"; the text is that version, dated by its latest amendment
# (an amending act's number, "by Act No. 5 of June 1, 2018", does not end the sentence)
_EN_AMENDED = re.compile(r"(?:\b(?:as|last)[ \t]+|^[ \t(]*)(?P<form>amended)\b(?:[^.\n]|(?<=\bNo)\.){0,80}?" + _EN_DATE,
                         re.IGNORECASE | re.MULTILINE)
# ...read above its first provision only: a section citing another law "as amended June 1, 1984" dates that law
_EN_PROVISION = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+)?(?:\*\*|__)?(?:section|sec\.|§|article|part|chapter|\(?\d+[.)])",
                           re.IGNORECASE | re.MULTILINE)
_HEAD_CHARS = 1500
# (an English translation's articles too: its Article 2 cites the laws it follows with their dates)
_FIRST_ARTICLE = re.compile(rf"^[ \t\u3000]*(?:{ARTICLE_NUMBER}|(?:#{{1,6}}[ \t]+)?Article[ \t]+1\b)",
                            re.MULTILINE)


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


def _cn_parts(m: re.Match) -> tuple[int | None, int | None, int | None]:
    year = cn_number(m.group("y"))
    if year is not None and m.group("roc"):
        year += 1911  # 民国 (Republic of China) years
    elif len(m.group("y")) != 4:
        year = None
    return year, cn_number(m.group("m")), cn_number(m.group("d"))


def _cn_match_date(m: re.Match) -> str:
    return plausible_date(*_cn_parts(m))


def _en_match_date(m: re.Match) -> str:
    g = m.groupdict()
    if g["y3"]:
        return plausible_date(int(g["y3"]), int(g["m3"]), int(g["d3"]))
    year, day, month = (g["y"], g["d"], g["mn"]) if g["y"] else (g["y2"], g["d2"], g["mn2"])
    return plausible_date(int(year), _MONTHS.get(month.lower().rstrip(".")), int(day))


def _revision_word(m: re.Match, head: str) -> str:
    """The word a revision's date was read with: the one after the name of the decision that made it, where the
    match ended inside that name (关于修改…); the date is the match's either way."""
    if m.group(0).count("《") > m.group(0).count("》") and (after := _CN_AFTER_NAME.match(head, m.end())):
        return after.group("form")
    return m.group("form")


def date_from_text(text: str, lang: str) -> tuple[str, str]:
    """(ISO date, the form it was read from) for a document's promulgation, adoption or effective date as its
    text states it, or ("", "") when it states none that is plausible. A text that states none in its language
    is read in the other one: a Chinese regulation with its English translation under each article is detected
    as English, and only its Chinese adoption note may be there."""
    found = _date_in(text, lang)
    return found if found[0] else _date_in(text, "en" if lang == "zh" else "zh")


def _date_in(text: str, lang: str) -> tuple[str, str]:
    first = _FIRST_ARTICLE.search(text)
    head = text[: min(first.start(), _HEAD_CHARS)] if first else text[:_HEAD_CHARS]
    found: list[tuple[int, int, str, str]] = []  # (rank, position, date, form); lowest first wins
    if lang == "zh":
        # the record below a notice's signature (…2022年5月7日印发) says when it was printed, the signature when it
        # was issued: a short notice's record fell within its head and dated it
        signed = _RECORD.sub("", text.rstrip())
        head = head[:len(signed)]
        revised = [(date, _revision_word(m, head)) for rx in (_CN_REVISED, _CN_REVISED_LABEL)
                   for m in rx.finditer(head) if (date := _cn_match_date(m))]
        if revised:
            return max(revised)
        for rx in (_CN_DATE_THEN_WORD, _CN_WORD_THEN_DATE):
            for m in rx.finditer(head):
                form = m.group("form")
                found.append((1 if form in ("施行", "实施") else 0, m.start(), _cn_match_date(m), form))
        for m in _CN_IN_FORCE.finditer(text):
            found.append((1, m.start(), _cn_match_date(m), m.group("form")))
        if m := _CN_SIGNED.search(signed[-200:]):
            found.append((0, len(text), _cn_match_date(m), "落款"))
        # a record without a signature above it still dates the text
        for m in _CN_DATE_THEN_WORD.finditer(text, len(signed)):
            found.append((2, m.start(), _cn_match_date(m), m.group("form")))
    else:
        provision = _EN_PROVISION.search(head)
        note = head[:provision.start()] if provision else head
        amended = [(date, "amended") for m in _EN_AMENDED.finditer(note) if (date := _en_match_date(m))]
        if amended:
            return max(amended)
        for m in _EN_PROMULGATED.finditer(head):
            found.append((0, m.start(), _en_match_date(m), m.group("form").lower()))
        for m in _EN_EFFECTIVE.finditer(text):
            found.append((1, m.start(), _en_match_date(m), "Effective Date"))
        for m in _EN_IN_FORCE.finditer(text):
            found.append((1, m.start(), _en_match_date(m), "in force"))
    for _, _, date, form in sorted(found):
        if date:
            return date, form
    return "", ""


# what an ingest note about a value of the researcher's manifest begins with (ingest says those on stderr too)
MANIFEST_PROBLEM = "manifest.csv: "
# what ingest_report says of a manifest date it could not read, which the report quotes beside the undated document
# (the researcher gave a date: "no date in the manifest" would send them to look for one they wrote)
_DATE_USED_INSTEAD = ": the file name's or the text's date is used"
REFUSED_MANIFEST_DATE = re.compile(re.escape(MANIFEST_PROBLEM) + r"date '(?P<value>.*?)' (?P<why>.*?)"
                                   + re.escape(_DATE_USED_INSTEAD))
# a manifest date: a year, a year and month, or a whole date, with -, /, . or 年月日 between the parts
# (a year alone as Chinese writers type it, 2021年; a day with the spoken 号, 3月5号)
_MANIFEST_DATE = re.compile(r"(\d{4})(?:\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*(\d{1,2})\s*[日号]?)?\s*月?|\s*年)?")
# ...or without separators, as databases export it (20210305): a year of four figures first reads one way only
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
# a Taiwanese date in 民國 years without the word (110年3月5日, 110/03/05): a year of three figures is no Gregorian one
# in a policy's range, while one of two (99/03/05) might be 1999's or a day's, and is not read
_ROC_DATE = re.compile(r"(\d{3})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?|([-/.])\s*(\d{1,2})\s*\4\s*(\d{1,2}))")


# a time of day after the date: a spreadsheet's date-and-time cell saved as CSV ("2019-03-02 00:00:00")
_TIME_OF_DAY = re.compile(r"(?<=\d)[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_CN_WHOLE_DATE = re.compile(_CN_DATE)
_DAY_MONTH_YEAR = re.compile(r"\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{4}")
_SERIAL_DAY = re.compile(r"\d{5}(?:\.0+)?")
# a month and day with the year left out (3月5日, March 5, 5 March)
_NO_YEAR = re.compile(r"[\d一二三四五六七八九十]{1,2}[ \t]*月[ \t]*[\d一二三四五六七八九十]{1,3}[ \t]*[日号]?"
                      rf"|{_MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+{_MONTH}", re.IGNORECASE)
# an English date with the month's name (March 5, 2021; 5 March 2021), as a text's header is read
_EN_WHOLE_DATE = re.compile(_EN_DATE, re.IGNORECASE)


def _manifest_parts(value: str) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) of a manifest date written in figures, in Chinese numerals or with an English month's
    name, or None."""
    m = _MANIFEST_DATE.fullmatch(value) or _COMPACT_DATE.fullmatch(value)
    if m:
        year, month, day = (int(g) if g else None for g in m.groups())
        return year, month, day
    roc = _ROC_DATE.fullmatch(value)
    if roc:
        y, m1, d1, _, m2, d2 = roc.groups()
        return int(y) + 1911, int(m1 or m2), int(d1 or d2)
    # in Chinese numerals, read over the manifest's years (a text's start at 1949)
    cn = _CN_WHOLE_DATE.fullmatch(value)
    if cn:
        year, month, day = _cn_parts(cn)
        return (year, month, day) if year is not None and month and day else None
    en = _EN_WHOLE_DATE.fullmatch(value)
    if not en or en.group("y3"):
        return None
    g = en.groupdict()
    year, day, month = (g["y"], g["d"], g["mn"]) if g["y"] else (g["y2"], g["d2"], g["mn2"])
    return int(year), _MONTHS[month.lower().rstrip(".")], int(day)


def manifest_date(value: str) -> str:
    """A manifest's date as ISO (2021-03-04, or 2021-03 / 2021 when that is all it gives), or "" when it is no
    calendar date from FIRST_YEAR to next year (2021-13-45, 2099-02-30, 1800-01-01). A time of day after it is
    ignored; a date in Chinese numerals (二〇一九年三月二日) or with an English month's name (March 2, 2019) is read
    as in a document's header."""
    value = _TIME_OF_DAY.sub("", value.strip())
    parts = _manifest_parts(value)
    if parts is None:
        return ""
    year, month, day = parts
    if not plausible_year(f"{year:04d}"):
        return ""
    try:
        datetime.date(year, month or 1, day or 1)
    except ValueError:
        return ""
    return f"{year:04d}" + (f"-{month:02d}" if month else "") + (f"-{day:02d}" if day else "")


def _refused(given: str) -> str:
    """Why a manifest value is no date manifest_date reads, in what the researcher can change."""
    parts = _manifest_parts(_TIME_OF_DAY.sub("", given))
    year = re.search(r"(?<!\d)\d{4}(?!\d)", given)
    # a year in range with a day the calendar lacks (2019-02-29) is a slip in the day, not in the year
    if parts and plausible_year(f"{parts[0]:04d}"):
        return "is not a date on the calendar (no such month or day)"
    # 05/03/2021 is 5 March or May 3 depending on who typed it, so it is not guessed at
    if _DAY_MONTH_YEAR.fullmatch(given):
        return "has the day and month before the year, which reads two ways (write YYYY-MM-DD)"
    # an unformatted date column of a spreadsheet saves the date's day number (44260 for 2021-03-05)
    if _SERIAL_DAY.fullmatch(given):
        return ("looks like a spreadsheet's day number, saved from a date column without its date format "
                "(format the column as a date, or write YYYY-MM-DD)")
    # a month and day typed without their year (3月5日) are not out of range either
    if _NO_YEAR.fullmatch(given):
        return "has no year (write YYYY-MM-DD)"
    # a year in range in a form not read (2021年春) is not out of range
    if year and not parts and plausible_year(year.group(0)):
        return "is not written in a form read as a date (write YYYY-MM-DD, YYYY-MM or YYYY)"
    return f"is not a date from {FIRST_YEAR} to {last_year()} (write YYYY-MM-DD)"


def document_repeal(meta: dict, date: str) -> tuple[str, str]:
    """(the manifest's `repealed` as manifest_date reads it, or "", what was wrong with it). A value that is no
    date, or a repeal before the document's `date` (compared as far as both go: 2019 is not before 2019-05-01),
    is not used: the document is taken as not repealed, and the problem is said."""
    given = (meta.get("repealed") or "").strip()
    if not given:
        return "", ""
    repealed = manifest_date(given)
    shown = one_line(given)[:40]
    if not repealed:
        return "", f"{MANIFEST_PROBLEM}repealed '{shown}' {_refused(given)}{_NOT_REPEALED}"
    n = min(len(repealed), len(date))
    if date and repealed[:n] < date[:n]:
        return "", f"{MANIFEST_PROBLEM}repealed '{shown}' is before the document's date {date}{_NOT_REPEALED}"
    return repealed, ""


_NOT_REPEALED = ": the document is taken as not repealed"


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
        # (no ';' before the consequence: ingest says a reason's manifest parts, split at '; ', on stderr)
        problem = f"{MANIFEST_PROBLEM}date '{one_line(given)[:40]}' {_refused(given)}{_DATE_USED_INSTEAD}"
    m = DATE_IN_NAME.search(Path(rel).name)
    if m:
        date = plausible_date(int(m.group(1)), int(m.group(3)), int(m.group(4)))
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


