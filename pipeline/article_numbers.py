"""The number of a Chinese article, chapter or item: 第三十二条, 第12条, 第１２条 (full-width digits, as some
exports write them), 第十条之一 (an article an amendment inserted), Taiwan's national law database's spaced numbers,
第 12 条 and 第 一 章, with an inserted article hyphenated, 第 2-1 条, and a Hong Kong ordinance's inserted sections,
第2A条. One pattern for every module that finds them (ingest's wrap joining, the Word reader, the segmenter, the
dates), in a module of its own: the segmenter's cache key covers the code it imports, and editing ingest's text
code must not make every document be segmented again. Also the value of a Chinese numeral."""

CN_NUMERAL = "一二三四五六七八九十百千零〇两0-9０-９"
# the number between 第 and 条/章: also spaced, as Taiwan's database writes articles and chapters (第 1 条, 第 一 章),
# and with the space a few published regulations put before 条 instead of after it (第七十五 条体育运动…)
NUMBER = rf"(?:[{CN_NUMERAL}]+|[0-9]+[A-Z]{{1,2}}|[ \t][{CN_NUMERAL}]+(?:-[0-9]+)?[ \t]|[{CN_NUMERAL}]+[ \t\u3000])"
ARTICLE_NUMBER = rf"第{NUMBER}条(?:之[{CN_NUMERAL}]+)?"
# the same in the original text, before Traditional characters are converted (第 2-1 條), with chapters, 款 and a
# Hong Kong ordinance's parts (第2部)
STRUCTURE_NUMBER = rf"第{NUMBER}[条條章节節编編款部]"
# the note the standard layout of official documents puts under the signature's date, （此件公开发布）
SIGNATURE_NOTE = r"[（(][^\n（）()。]{1,30}[）)]"
# a line of the record an official document carries below its signature (版记): to whom copies go (抄送：…) and who
# printed it when (…办公室 2022年5月7日印发); the segmenter's signature and the dates' 落款 reach past it
RECORD_LINE = (r"[ \t\u3000]*(?:(?:抄送|抄报|分送|发送)[ \t\u3000]*[：:][^\n]*"
               r"|[^\n]{0,40}?\d{4}[ \t]*年[ \t]*\d{1,2}[ \t]*月[ \t]*\d{1,2}[ \t]*日[ \t\u3000]*印发[ \t\u3000]*)")


_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}


def cn_number(s: str) -> int | None:
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
