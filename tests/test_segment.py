
from hypothesis import given, settings, strategies as st

from pipeline.segment import segment_document

from conftest import CN_REGULATION, US_CODE


def doc(text, lang="zh"):
    return {"doc_id": "d.md", "text": text, "lang": lang, "region": "R", "content_hash": "h"}


def test_chinese_articles_chapters_and_clauses():
    rows = segment_document(doc(CN_REGULATION))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    assert [r["passage_id"] for r in arts] == [f"d.md#{i}" for i in range(1, 6)]
    third = arts[2]
    assert "联合实验室" in third["text"] and "知识产权归属" in third["text"]  # 款 stays with its article
    assert third["heading_path"] == "第二章 合作方式"
    assert "（二）中试熟化" in arts[3]["text"]
    assert arts[4]["heading_path"] == "第三章 附则"
    for r in rows:
        assert CN_REGULATION[r["start"]:r["end"]] == r["text"]
    assert any(r["kind"] == "header" for r in rows)


def test_chinese_article_numbers_in_bold_are_articles():
    """Markdown made from a Word regulation (pandoc) sets each article's number in bold (**第一条**): every article
    was a paragraph cited ¶ N, as English **Article 1** was before."""
    text = ("某省促进产学研合作条例\n\n**第一条** 为了促进产学研合作，制定本条例。\n\n"
            "__第二条__　鼓励高等学校与企业共建联合实验室。\n\n**第三条　本条例自公布之日起施行。**\n")
    rows = segment_document(doc(text))
    assert [r["label"] for r in rows if r["kind"] == "article"] == ["第一条", "第二条", "第三条"]
    assert "联合实验室" in [r for r in rows if r["label"] == "第二条"][0]["text"]


def test_articles_run_together_on_one_line_are_still_articles():
    """Text copied from a web page or a PDF: every article on one line, joined by full-width spaces. A reference
    inside a sentence and a table row that names articles are not cut."""
    text = ("第一章　总　　则　　第一条　为了促进产学研合作，制定本条例。　　第二条　本条例适用于本省。依照第十条 规定办理。"
            "　　第二章　合作方式　　第三条　鼓励企业与高等学校共建联合实验室；　　第四条　（略）\n"
            "| 第244条 （修正案第4条） | 雇用 |\n")
    rows = segment_document(doc(text))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["第一条", "第二条", "第三条", "第四条"]
    assert "依照第十条 规定办理" in arts[1]["text"] and "| 第244条" in arts[3]["text"]
    assert [r["heading_path"] for r in arts] == ["第一章　总　　则"] * 2 + ["第二章　合作方式"] * 2
    assert all(text[r["start"]:r["end"]] == r["text"] for r in rows)
    covered = sorted((r["start"], r["end"]) for r in rows)
    assert all(a[1] <= b[0] for a, b in zip(covered, covered[1:]))  # no character in two passages


def test_us_code_paragraphs_are_cited():
    rows = segment_document(doc(US_CODE, "en"))
    paras = [r for r in rows if r["kind"] == "section_paragraph"]
    labels = [r["label"] for r in paras]
    assert labels == ["§ 101(a)", "§ 101(a)(1)", "§ 101(a)(2)", "§ 101(a)(2)(A)", "§ 101(a)(2)(B)",
                      "§ 101(b)(1)", "§ 102"]
    assert paras[5]["text"].startswith("(b)") and "Inventors" in paras[5]["text"]  # lone "(b)" merged
    assert paras[1]["heading_path"].endswith("§ 101. Cooperative agreements")


def test_plain_text_us_code_sections_open_their_section():
    """A plain-text export writes "§ 101. Title" as a line of its own (not a Markdown heading): it is the
    section's heading, and its paragraphs are cited under it."""
    text = ("Research Partnerships Act\n\n§ 101. Joint research centers\n\n(a) In general\n\n"
            "(1) The Secretary shall establish joint research centers.\n\n(A) Each center shall include a "
            "university.\n\n§ 102. Technology transfer offices\n\n(a) Offices\n\nEach laboratory shall "
            "maintain an office of technology transfer.\n")
    rows = segment_document(doc(text, "en"))
    headings = [r["label"] for r in rows if r["kind"] == "heading"]
    assert headings == ["§ 101. Joint research centers", "§ 102. Technology transfer offices"]
    cited = [(r["label"], r["text"][:12]) for r in rows if r["kind"] == "section_paragraph" and r["label"]]
    assert cited == [("§ 101(a)", "(a) In gener"), ("§ 101(a)(1)", "(1) The Secre"[:12]),
                     ("§ 101(a)(1)(A)", "(A) Each cen"), ("§ 102(a)", "(a) Offices"),
                     ("§ 102(a)", "Each laborat")]


def test_a_passage_plainly_in_the_other_language_is_read_in_it():
    zh = ("某条例\n\n第一条 为了促进产学研合作，制定本条例。\n\n第二条 Universities shall establish a technology transfer "
          "fund to support patent licensing.\n\n第三条 设立技术转移办公室（Technology Transfer Office），负责专利许可。\n")
    langs = {r["label"]: r["lang"] for r in segment_document(doc(zh)) if r["kind"] == "article"}
    assert langs == {"第一条": "zh", "第二条": "en", "第三条": "zh"}  # an English name inside Chinese stays zh
    en = ("Research Act\n\nSection 1. Universities shall cooperate with firms.\n\n"
          "Section 2. 共建联合研发中心，设立科技企业孵化器，建立知识产权保护制度。\n\nThe 科技成果转化 law applies here.\n")
    langs = [r["lang"] for r in segment_document(doc(en, "en")) if r["kind"] == "paragraph"]
    assert langs == ["en", "en", "zh", "en"]


def test_plain_paragraphs():
    text = "First paragraph about universities.\nStill first.\n\nSecond paragraph.\n\n\nThird."
    rows = segment_document(doc(text, "en"))
    assert [r["text"] for r in rows] == ["First paragraph about universities.\nStill first.", "Second paragraph.",
                                         "Third."]
    assert [r["label"] for r in rows] == ["¶ 1", "¶ 2", "¶ 3"]


EN_TRANSLATION = """Regulations of X Province on Promoting Industry-University-Research Cooperation

Chapter I General Provisions

Article 1 These Regulations are formulated in order to promote cooperation among enterprises, universities and
research institutes.

Article 2 These Regulations apply within the administrative area of the province.

Chapter II Forms of Cooperation

Article 3. Enterprises may jointly build laboratories with universities.
Article 5 of the Patent Law applies to the results of such laboratories.

Article 4: The parties shall agree in writing on:
(1) the ownership of intellectual property;
(2) the sharing of benefits and risks.
"""


def test_english_articles_of_a_translated_regulation_are_cited_as_articles():
    """An English translation of a Chinese regulation is cited by its articles, as the Chinese text is, not by
    paragraph numbers a reader cannot find in it; chapters are headings, and an article named inside a sentence
    (Article 5 of the Patent Law) does not open one."""
    rows = segment_document(doc(EN_TRANSLATION, "en"))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["Article 1", "Article 2", "Article 3", "Article 4"]
    assert "Article 5 of the Patent Law" in arts[2]["text"]
    assert "(2) the sharing of benefits" in arts[3]["text"]
    assert arts[0]["heading_path"] == "Chapter I General Provisions"
    assert arts[2]["heading_path"] == "Chapter II Forms of Cooperation"
    assert [r["text"] for r in rows if r["kind"] == "heading"] == ["Chapter I General Provisions",
                                                                  "Chapter II Forms of Cooperation"]
    _check_cover(EN_TRANSLATION, rows)


def test_an_english_text_that_names_articles_is_still_paragraphs():
    """A review whose paragraphs open on the articles they discuss is no regulation: read as articles, every
    paragraph between two such openings ran into one passage cited as the article."""
    text = ("Article 5 of the Law is often cited.\n\nChapter 10 of title 5 shall not apply.\n\nArticle 7 says more."
            "\n\nA paragraph on something else.\n\nArticle 12 requires a report.\n\nAnother paragraph.")
    rows = segment_document(doc(text, "en"))
    assert [r["label"] for r in rows] == ["¶ 1", "¶ 2", "¶ 3", "¶ 4", "¶ 5", "¶ 6"]


def _check_cover(text, rows):
    covered = [False] * len(text)
    prev_end = 0
    for r in sorted(rows, key=lambda r: r["start"]):
        assert r["start"] >= prev_end, "passages overlap"
        assert text[r["start"]:r["end"]] == r["text"]
        for i in range(r["start"], r["end"]):
            covered[i] = True
        prev_end = r["end"]
    missing = [c for c, cov in zip(text, covered) if not cov and not c.isspace()]
    assert not missing, f"uncovered characters: {''.join(missing)[:40]!r}"


ALPHABET = st.sampled_from(list("第一二十条章节§()（）ab1 \n\n#。，科技") + ["第三条 ", "## 第一章 总则\n", "(a) ", "\n(1) ",
                                                                     "#### § 1. X\n", "<!-- INFO END -->"])


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, max_size=80).map("".join), st.sampled_from(["zh", "en"]))
def test_passages_cover_any_text(text, lang):
    _check_cover(text, segment_document(doc(text, lang)))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["zh", "en"]))
def test_passages_cover_arbitrary_unicode(text, lang):
    _check_cover(text, segment_document(doc(text, lang)))


def test_long_unstructured_text_is_cut_at_sentence_ends():
    text = ("科技成果转化。" * 2000)
    rows = segment_document(doc(text))
    assert len(rows) > 1 and all(len(r["text"]) <= 4000 for r in rows)
    _check_cover(text, rows)
    # the pieces are cited apart
    assert [r["label"] for r in rows] == [f"¶ 1 [{k}/{len(rows)}]" for k in range(1, len(rows) + 1)]


def test_passages_carry_the_traditional_original_when_offsets_hold_in_both():
    original = "第一條 學校應設置技術移轉專責單位。\n\n第二條 研發成果之收入依規定分配。\n"
    simplified = "第一条 学校应设置技术移转专责单位。\n\n第二条 研发成果之收入依规定分配。\n"
    rows = segment_document({**doc(simplified), "text_original": original})
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["text_original"] for r in arts] == ["第一條 學校應設置技術移轉專責單位。", "第二條 研發成果之收入依規定分配。"]
    for r in rows:
        assert original[r["start"]:r["end"]] == r["text_original"]
    # an original of another length cannot share the offsets: no original passages, rather than wrong ones
    rows = segment_document({**doc(simplified), "text_original": original + "多"})
    assert {r["text_original"] for r in rows} == {""}
    assert {r["text_original"] for r in segment_document(doc(simplified))} == {""}


def test_us_code_exports_that_repeat_their_headings_are_cited_in_full():
    """uscode.house.gov's Markdown repeats the subtitle, the section and the subsection's heading above every
    paragraph (breadcrumbs). A subsection's heading line is a heading, not a passage to code; its paragraphs
    keep the whole path: (c) after a repeated section heading is a subsection, not the roman numeral 100, and
    (aa) sits below (I)."""
    text = ("# Title 15— COMMERCE\n## Subtitle A— General\n### CHAPTER 63— TECHNOLOGY INNOVATION\n"
            "#### § 3704. Program\n##### (b) Coordination\n\nThe Secretary shall coordinate the program.\n\n"
            "## Subtitle A— General\n#### § 3704. Program\n##### (c) Minority Serving Institution program\n\n"
            "(1) In general\n\nThe Secretary shall establish a program.\n\n(2)\n\n"
            "#### § 3704. Program\n##### (c) Minority Serving Institution program\n"
            "######## (A) With respect to the program, the Congress finds\n\n"
            "(i) that institutions lack networks;\n\n(I) in rural areas; and\n\n(aa) on tribal land.\n\n"
            "###### (d) Each agency is authorized to\n\n(1) apply for patents.\n\n"
            "###### (e) In any case when a Federal employee is a coinventor of any invention, the agency may "
            "license the invention to the coinventor and to the firm which employs that inventor.\n")
    rows = segment_document(doc(text, "en"))
    coded = [(r["label"], r["text"][:14]) for r in rows if r["kind"] == "section_paragraph"]
    assert coded == [("§ 3704(b)", "The Secretary "), ("§ 3704(c)(1)", "(1) In general"),
                     ("§ 3704(c)(1)", "The Secretary "), ("§ 3704(c)(2)", "(2)"),
                     ("§ 3704(c)(2)(A)", "######## (A) W"), ("§ 3704(c)(2)(A)(i)", "(i) that insti"),
                     ("§ 3704(c)(2)(A)(i)(I)", "(I) in rural a"), ("§ 3704(c)(2)(A)(i)(I)(aa)", "(aa) on tribal"),
                     ("§ 3704(d)", "###### (d) Eac"), ("§ 3704(d)(1)", "(1) apply for "),
                     ("§ 3704(e)", "###### (e) In ")]
    headings = [r["label"] for r in rows if r["kind"] == "heading"]
    assert "(b) Coordination" in headings and headings.count("(c) Minority Serving Institution program") == 2
    # the repeated "## Subtitle A" is a breadcrumb: the chapter stays in the path
    assert all("CHAPTER 63" in r["heading_path"] for r in rows if r["kind"] == "section_paragraph")


def test_roman_numerals_and_letters_are_told_apart():
    from pipeline.segment import _enum_level
    assert _enum_level("i", ["a", "1", "A"]) == 3  # below (A): a numeral
    assert _enum_level("i", ["h"]) == 0  # after (h): the next letter
    assert _enum_level("c", []) == 0  # opening a section: a letter
    assert _enum_level("ii", ["a", "1", "A", "i", "I"]) == 3  # after (I): the next numeral, not (ii) doubled
    assert _enum_level("bb", ["a", "1", "A", "i", "I", "aa"]) == 5
    assert _enum_level("aa", ["z"]) == 0  # a long section's subsection after (z)


def test_english_articles_written_as_markdown_headings_are_cited_as_articles():
    """A translation saved as Markdown gives each article a heading line of its own (### Article 1) and its text
    below: read as a heading, the article's text was a passage without a citation, coded as preamble."""
    text = ("# Measures of X Municipality\n\n## Chapter I General Provisions\n\n### Article 1\n\n"
            "These Measures build a system of technology transfer intermediaries.\n\n### Article 2 Brokers\n\n"
            "Technology brokers shall register.\n\n## Chapter II Support\n\n### Article 3\n\n"
            "The Municipality shall set up a guidance fund.\n")
    rows = segment_document(doc(text, "en"))
    content = [r for r in rows if r["kind"] not in ("heading", "header")]
    assert [(r["kind"], r["label"]) for r in content] == [("article", "Article 1"), ("article", "Article 2"),
                                                          ("article", "Article 3")]
    assert content[0]["text"].endswith("technology transfer intermediaries.")
    assert content[2]["heading_path"] == "Measures of X Municipality > Chapter II Support"
    _check_cover(text, rows)


EU_STYLE = """REGULATION (EU) 2025/1 on research collaboration

HAVE ADOPTED THIS REGULATION:

CHAPTER I
GENERAL PROVISIONS

Article 1
Subject matter

1. This Regulation lays down rules on knowledge transfer.

Article 2
Definitions

(a) 'knowledge transfer office' means a unit that manages intellectual property.

CHAPTER II
SUPPORT MEASURES

Article 3
Financing

Member States may grant tax incentives.

Chapter III

Final provisions

Article 4
Entry into force

This Regulation shall enter into force on the twentieth day.
"""


def test_chapters_of_an_eu_style_regulation_are_headings():
    """An EU-style text writes its chapters in capitals with their titles on the next line (CHAPTER II / SUPPORT
    MEASURES): read as text, the chapter ran into the article before it and no article had a chapter; a title
    under a chapter line was a passage of its own, coded as preamble."""
    rows = segment_document(doc(EU_STYLE, "en"))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["Article 1", "Article 2", "Article 3", "Article 4"]
    assert arts[1]["text"].endswith("manages intellectual property.")
    assert [r["heading_path"] for r in arts] == ["CHAPTER I GENERAL PROVISIONS", "CHAPTER I GENERAL PROVISIONS",
                                                 "CHAPTER II SUPPORT MEASURES", "Chapter III Final provisions"]
    assert [r["label"] for r in rows if r["kind"] == "heading"] == [
        "CHAPTER I GENERAL PROVISIONS", "CHAPTER II SUPPORT MEASURES", "Chapter III Final provisions"]
    assert not [r for r in rows if r["kind"] == "preamble" and "PROVISIONS" in r["text"].upper()]
    _check_cover(EU_STYLE, rows)


def test_english_articles_in_bold_in_capitals_or_inserted_are_articles():
    """Markdown made from a Word file bolds the article markers (**Article 1**), some translations write them in
    capitals (ARTICLE 2), and an amended EU text has articles an amendment inserted (Article 2a): each was read as
    plain paragraphs cited ¶ N, or ran into the article before it."""
    bold = "Measures\n\n**Article 1** These Measures are formulated.\n\n**Article 2.** Brokers shall register.\n"
    caps = "MEASURES\n\nARTICLE 1\nThese Measures are formulated.\n\nARTICLE 2\nBrokers shall register.\n"
    inserted = ("Regulation\n\nArticle 1\nSubject matter.\n\nArticle 2\nDefinitions.\n\nArticle 2a\nTransfer offices."
                "\n\nArticle 3\nFinancing.\n")
    for text, labels in ((bold, ["Article 1", "Article 2"]), (caps, ["ARTICLE 1", "ARTICLE 2"]),
                         (inserted, ["Article 1", "Article 2", "Article 2a", "Article 3"])):
        rows = segment_document(doc(text, "en"))
        assert [r["label"] for r in rows if r["kind"] == "article"] == labels, text
        _check_cover(text, rows)
    rows = segment_document(doc(inserted, "en"))
    assert [r["text"] for r in rows if r["kind"] == "article"][1] == "Article 2\nDefinitions."
    named = "Review\n\nARTICLE 5 OF THE LAW is often cited.\n\nArticle 6 says more.\n\nArticle 7 too."
    assert "ARTICLE 5" not in [r["label"] for r in segment_document(doc(named, "en"))]


WHITE_PAPER = """Knowledge Exchange White Paper

1. Why knowledge exchange matters

Universities hold knowledge that businesses need.

1.1 The current position

The number of university spin-outs has fallen since 2019.

2. Our proposals

2.1 A network of technology transfer offices

We will create regional technology transfer offices.

Our three commitments:

1. Create a network of transfer offices

2. Fund business incubators

3. Open research infrastructures

2.2 Incubators

We will fund business incubators on campuses.
"""


def test_numbered_headings_of_a_plain_english_paper_are_headings():
    """A white paper saved as text (or from Word or a web page) numbers its headings (1., 1.1, 2.): each was a
    paragraph coded as content, '2.2 Incubators' a passage on incubators of its own, where the same paper in
    Markdown (## 2.2 Incubators) had it as a heading. A numbered list's items stay paragraphs."""
    rows = segment_document(doc(WHITE_PAPER, "en"))
    heads = [r["label"] for r in rows if r["kind"] == "heading"]
    assert heads == ["1. Why knowledge exchange matters", "1.1 The current position", "2. Our proposals",
                     "2.1 A network of technology transfer offices", "2.2 Incubators"]
    paras = [r for r in rows if r["kind"] == "paragraph"]
    assert [r["text"] for r in paras] == [
        "Knowledge Exchange White Paper", "Universities hold knowledge that businesses need.",
        "The number of university spin-outs has fallen since 2019.",
        "We will create regional technology transfer offices.", "Our three commitments:",
        "1. Create a network of transfer offices", "2. Fund business incubators", "3. Open research infrastructures",
        "We will fund business incubators on campuses."]
    assert paras[-1]["heading_path"] == "2. Our proposals > 2.2 Incubators"
    assert paras[2]["heading_path"] == "1. Why knowledge exchange matters > 1.1 The current position"
    _check_cover(WHITE_PAPER, rows)
    # a Chinese text's numbered lines are left as they are
    zh = "某办法\n\n1. GB/T 1234 标准\n\n鼓励高校设立技术转移机构。\n"
    assert not [r for r in segment_document(doc(zh, "zh")) if r["kind"] == "heading"]


def test_parts_of_a_plain_english_act_are_headings():
    """An Act saved from Word has its Parts as paragraphs of their own, the title as the next one (Part 1 /
    Duties of the Secretary of State), or on the next line in a plain text: each was a paragraph coded as content,
    and the sections after Part 2 stood under the section before it. A sentence opening on a Part is no heading."""
    text = ("Research Collaboration Act 2025\n\nPart 1\n\nDuties of the Secretary of State\n\n"
            "1 Duty to promote research collaboration\n\n(1) The Secretary of State must promote research.\n\n"
            "(2) The Secretary of State must have regard to the needs of industry.\n\nPart 2\nIntellectual property\n\n"
            "3 Ownership of results\n\n(1) A provider must publish a policy.\n\nPart 3 sets out the funding.\n")
    rows = segment_document(doc(text, "en"))
    assert [r["label"] for r in rows if r["kind"] == "heading"] == [
        "Part 1 Duties of the Secretary of State", "1 Duty to promote research collaboration",
        "Part 2 Intellectual property", "3 Ownership of results"]
    paras = [r for r in rows if r["kind"] == "paragraph"]
    # an Act's subsections are cited as the Act is: s. 1(2) (a paragraph after them continues the last one)
    assert [r["label"] for r in paras] == ["¶ 1", "s. 1(1)", "s. 1(2)", "s. 3(1)", "s. 3(1)"]
    assert paras[3]["heading_path"] == "Part 2 Intellectual property > 3 Ownership of results"
    assert paras[4]["text"] == "Part 3 sets out the funding."
    _check_cover(text, rows)


def test_an_articles_own_title_heading_stays_in_the_article():
    """Markdown made from an EU text gives an article's number and its title headings of their own (### Article 1
    / #### Subject matter): the article was its number alone, its text a preamble without a citation, and the
    title stood in the heading path of the next article."""
    text = ("# Regulation\n\n## Chapter I\n\n### Article 1\n\n#### Subject matter\n\n1. This Regulation lays down "
            "rules.\n\n### Article 2\n\n#### Definitions\n\n(a) 'office' means a unit.\n\n## Chapter II\n\n"
            "### Article 3\n\nFunding.\n")
    rows = segment_document(doc(text, "en"))
    content = [r for r in rows if r["kind"] not in ("heading", "header")]
    assert [(r["kind"], r["label"]) for r in content] == [("article", "Article 1"), ("article", "Article 2"),
                                                          ("article", "Article 3")]
    assert content[0]["text"].endswith("lays down rules.") and "Subject matter" in content[0]["text"]
    assert [r["heading_path"] for r in content] == ["Regulation > Chapter I", "Regulation > Chapter I",
                                                    "Regulation > Chapter II"]
    _check_cover(text, rows)


def test_an_article_named_at_the_start_of_a_wrapped_line_opens_none():
    """A translation exported as text wrapped at 70 characters can start a line on an article its sentence names
    ('… laid down in the following' / 'Article 2 applies to …'): it opened an article there, Article 1 was cut in
    two and two passages were cited 'Article 2'."""
    text = ("Regulations of X\n\nArticle 1 These Regulations are formulated to promote cooperation among\n"
            "enterprises and universities. The procedure laid down in the following\n"
            "Article 2 applies to every joint research centre set up under them.\n\n"
            "Article 2 Enterprises are encouraged to set up joint research centres:\n"
            "(1) in every district;\n(2) with the universities of the province\n"
            "Article 3 Disputes may be settled through arbitration.\n")
    rows = segment_document(doc(text, "en"))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["Article 1", "Article 2", "Article 3"]
    assert arts[0]["text"].endswith("set up under them.")
    _check_cover(text, rows)


OPINION = """某省人民政府关于深化产学研合作的若干意见

各市人民政府，省政府各部门：
为推动高校、科研院所与企业协同创新，现提出如下意见。

一、总体要求

（一）指导思想。以企业为主体、市场为导向，推动产学研深度融合。

（二）主要目标。到2030年，建成一批校企联合研发平台。

二、重点任务

（三）共建研发平台。支持高校与企业共建联合实验室：
1.对新认定的省级平台给予1.5亿元以内的支持；
2．平台的知识产权归属由合作各方约定。
（1）成果转化收益可用于奖励科研人员。

（四）促进人才流动
鼓励科研人员到企业兼职。

三、保障措施
各市要加强组织领导。

本意见自印发之日起施行。
"""


def test_opinions_numbered_by_items_are_cited_by_their_numbers():
    """An opinion (意见) numbered 一、/（一）/1. has no 第X条: it was cut into paragraphs cited ¶ 7, which a reader
    must count; its items are cited 二、（三）1. as Chinese readers cite them, its short numbered lines are headings."""
    rows = segment_document(doc(OPINION))
    for r in rows:
        assert OPINION[r["start"]:r["end"]] == r["text"]
    items = {r["label"]: r for r in rows if r["kind"] == "item"}
    assert list(items) == ["一、（一）", "一、（二）", "二、（三）", "二、（三）1.", "二、（三）2.", "二、（三）2.（1）"]
    assert items["二、（三）"]["heading_path"] == "二、重点任务"
    assert "1.5亿元" in items["二、（三）1."]["text"]  # a decimal opens no item
    headings = [r["text"] for r in rows if r["kind"] == "heading"]
    assert headings == ["一、总体要求", "二、重点任务", "（四）促进人才流动", "三、保障措施"]
    loose = [(r["label"], r["text"]) for r in rows if r["kind"] == "paragraph"]
    assert [label for label, _ in loose] == ["¶ 1", "¶ 2", "二、（四） ¶ 1", "三、 ¶ 1", "三、 ¶ 2"]
    assert "兼职" in loose[2][1]
    assert "印发之日" in loose[-1][1]  # the paragraphs under a heading stay apart, as no item holds them


def test_a_decision_numbered_by_items_keeps_each_items_paragraphs():
    text = ("为了促进科技成果转化，作出如下决定：\n\n一、支持高等学校设立技术转移机构。\n\n"
            "技术转移机构可以聘用专职人员。\n\n二、本决定自公布之日起施行。\n")
    rows = segment_document(doc(text))
    assert [(r["kind"], r["label"]) for r in rows] == [("paragraph", "¶ 1"), ("item", "一、"), ("item", "二、")]
    assert "专职人员" in rows[1]["text"]


def test_a_paragraph_opening_on_a_number_does_not_make_items():
    """One 一、 (or numbers out of sequence) is a sentence's enumeration, not a numbered text: paragraphs as before."""
    text = "一、二类医疗器械的研发可以享受补助。\n\n三、四线城市另行规定。\n\n高校应当加强合作。\n"
    assert [r["label"] for r in segment_document(doc(text))] == ["¶ 1", "¶ 2", "¶ 3"]
    english = "Guidance\n\n一、 means one.\n\n二、 means two.\n"
    assert all(r["kind"] == "paragraph" for r in segment_document(doc(english, lang="en")))


def test_sections_of_a_uk_act_are_cited_as_the_act_is():
    """A UK Act as text (legislation.gov.uk): sections are numbered headings, subsections (1), paragraphs (a),
    sub-paragraphs (i). Each was cited ¶ N, which a reader of the Act cannot look up."""
    text = ("Science and Industry Act 2026\n\n1 Duty to promote collaboration\n\n"
            "(1) The Secretary of State must promote collaboration between universities and industry.\n\n"
            "(2) In doing so the Secretary of State may—\n\n(a) fund joint research centres, and\n\n"
            "(b) support the exchange of staff, including—\n\n(i) secondments, and\n\n(ii) joint appointments.\n\n"
            "2 Ownership of results\n\n(1) A research organisation must publish its policy on results.\n\n"
            "3 Commencement\n\nThis Act comes into force on the day it is passed.\n")
    paras, headings = _cited(text)
    assert paras == ["¶ 1", "s. 1(1)", "s. 1(2)", "s. 1(2)(a)", "s. 1(2)(b)", "s. 1(2)(b)(i)", "s. 1(2)(b)(ii)",
                     "s. 2(1)", "s. 3"]
    assert headings == ["1 Duty to promote collaboration", "2 Ownership of results", "3 Commencement"]


def _cited(text):
    """The labels of an English text's paragraphs and of its headings, its passages checked to cover it."""
    rows = segment_document(doc(text, "en"))
    _check_cover(text, rows)
    return ([r["label"] for r in rows if r["kind"] == "paragraph"],
            [r["label"] for r in rows if r["kind"] == "heading"])


def test_sections_of_a_state_statute_are_cited_as_the_statute_is():
    """A US state statute: "Sec. 1." opening its section with its text, or as a heading of its own ("Sec. 2.
    Definitions."), subsections (a), (1). Each was cited ¶ N."""
    text = ("AN ACT relating to research partnerships\n\n"
            "Sec. 1. Short title. This Act may be cited as the Research Partnership Act.\n\n"
            "Sec. 2. Definitions.\n\n(a) \"Institution\" means a public university.\n\n"
            "(b) \"Partner\" means a business that funds research.\n\n"
            "SECTION 3. The department shall establish a grant program for joint research.\n\n"
            "(a) Grants shall be matched by the partner.\n\n(1) Matching may be in kind.\n\n"
            "The department shall report each year.\n")
    paras, headings = _cited(text)
    assert paras == ["¶ 1", "Sec. 1", "Sec. 2(a)", "Sec. 2(b)", "SECTION 3", "SECTION 3(a)", "SECTION 3(a)(1)",
                     "SECTION 3(a)(1)"]
    assert headings == ["Sec. 2. Definitions."]


def test_a_review_that_names_sections_stays_in_paragraphs():
    text = ("Review\n\nSection 3 of the Act sets up grants.\n\nSection 4. It was repealed in 2020.\n\n"
            "(a) One finding.\n\n2 Findings\n\n(1) First, the grants were small.\n")
    paras, _ = _cited(text)
    assert all(label.startswith("¶") for label in paras), paras


def test_section_paragraphs_without_subsections_are_cited_by_their_section():
    """An act whose sections are single paragraphs ("§ 2. Grants. The Secretary shall ...", no (a) below them)
    is read as paragraphs; each one opening with its section mark is cited by it, not as "¶ 3" beside a "§ 2"."""
    text = ("Technology Partnership Act\n§ 1. Agreements. Each Federal laboratory may enter into cooperative "
            "research agreements with universities.\n§ 2. Grants. The Secretary shall award grants to "
            "technology transfer offices.\nThis paragraph has no section mark.\n§ 2 of the Act applies to "
            "grants made before its enactment.\n")
    rows = segment_document(doc(text, "en"))
    assert [(r["label"], r["text"][:4]) for r in rows] == [
        ("¶ 1", "Tech"), ("§ 1", "§ 1."), ("§ 2", "§ 2."), ("§ 2 ¶ 2", "This"), ("§ 2 ¶ 3", "§ 2 ")]


def test_text_before_the_first_article_is_cited_as_the_preamble():
    """A .txt regulation opens on its title line, with no manifest title: that line (or a preamble paragraph) was
    a passage cited by nothing, so a label on it showed an empty citation in gaps.csv, coded_passages.csv and
    report.md ('title : text'), where a reader needs to find it. It is cited as the document's preamble."""
    rows = segment_document(doc("广东省科技企业孵化器管理办法\n第一条 各级人民政府应当支持建设科技企业孵化器。\n"
                                "第二条 本办法自公布之日起施行。\n"))
    assert [(r["kind"], r["label"]) for r in rows] == [("preamble", "序言"), ("article", "第一条"), ("article", "第二条")]
    rows = segment_document(doc("Regulations on Technology Transfer\n\nArticle 1 These Regulations govern transfer.\n\n"
                                "Article 2 The State supports incubators.\n", "en"))
    assert [(r["kind"], r["label"]) for r in rows] == [("preamble", "Preamble"), ("article", "Article 1"),
                                                        ("article", "Article 2")]


def _ingested_and_segmented(tmp_path, rel, text):
    """A document written to `rel`, as ingest reads it (Traditional converted, its original kept), and its passages."""
    from conftest import write
    from pipeline.ingest import ingest

    write(tmp_path / rel, text)
    docs, _ = ingest(tmp_path)
    d = docs.set_index("doc_id").loc[rel]
    return d, segment_document({**doc(d["text"]), "text_original": d["text_original"]})


def test_taiwan_database_articles_spaced_and_hyphenated_are_articles(tmp_path):
    """Taiwan's national law database writes each article's number on a line of its own, spaced, and an inserted
    article with a hyphen: "第 1 條", "第 2-1 條". None was an article: the number and its text were paragraphs of
    their own, evidence was cited "¶ 7", and the first number ran on into the date line above it (訂定發布第 1 條)."""
    d, rows = _ingested_and_segmented(
        tmp_path, "tw/rules.txt",
        "臺東縣研發成果運用辦法\n民國111年3月2日府產字第1110012345號令訂定發布\n第 1 條\n本辦法依自治條例第四條規定訂定之。\n"
        "第 2 條\n本縣補助之研究計畫(民國112年5月1日修正)所產生之研發成果，歸屬執行單位所有。\n第 2-1 條\n"
        "執行單位得將研發成果以授權或作價投資方式移轉予企業。\n第 10 條\n本辦法自發布日施行。\n")
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["第 1 条", "第 2 条", "第 2-1 条", "第 10 条"]
    assert [r["text_original"].split("\n")[0] for r in arts] == ["第 1 條", "第 2 條", "第 2-1 條", "第 10 條"]
    assert arts[2]["text_original"] == "第 2-1 條\n執行單位得將研發成果以授權或作價投資方式移轉予企業。"
    assert d["text_original"].split("\n")[1] == "民國111年3月2日府產字第1110012345號令訂定發布"
    # the header, where the document's own date stands, ends at the first article: a date article 2 cites is not it
    assert (d["date"], d["date_source"]) == ("2022-03-02", "text:发布")


def test_an_annex_after_the_articles_is_not_the_last_articles_text():
    """A regulation's annex (附件：术语对照, a bilingual glossary) ran on in its last article: the glossary's words
    were coded and cited as 第三条, where a reader finds nothing of them. Each annex is a passage of its own, cited
    by its name, outside the chapters; a sentence naming an annex (附件所列…) stays in its article."""
    text = ("江东省技术转移条例\n第一章　总则\n第一条　为了规范技术转移活动，制定本条例。\n"
            "第二条　技术转移服务机构应当提供交易撮合服务。\n附件所列机构名单每年更新。\n第三条　本条例自公布之日起施行。\n\n"
            "附件：术语对照 Glossary\n\n技术转移 Technology transfer: the movement of technology from universities to firms.\n\n"
            "附件2\n合作协议示范文本（略）\n")
    rows = segment_document(doc(text))
    content = [r for r in rows if r["kind"] in ("article", "paragraph")]
    assert [r["label"] for r in content] == ["第一条", "第二条", "第三条", "附件", "附件2"]
    assert content[1]["text"].endswith("附件所列机构名单每年更新。")
    assert content[2]["text"] == "第三条　本条例自公布之日起施行。"
    assert content[3]["text"].startswith("附件：术语对照 Glossary") and "Technology transfer" in content[3]["text"]
    assert content[3]["heading_path"] == "" and content[2]["heading_path"] == "第一章　总则"
    assert content[4]["text"] == "附件2\n合作协议示范文本（略）"
    assert all(text[r["start"]:r["end"]] == r["text"] for r in rows)


def test_hong_kong_ordinance_sections_inserted_sections_and_parts(tmp_path):
    """A Hong Kong ordinance's Chinese text numbers its sections 第1條, inserts 第2A條, and groups them in parts, 第1部
    with the part's title on the next line. 第2A條 was no section: it and the part heading after it ran on in 第2條,
    and the parts were no headings (第2部 資助 was text of the section before it)."""
    d, rows = _ingested_and_segmented(
        tmp_path, "hk/ord.txt",
        "創新及科技合作條例\n第1部\n導言\n第1條 簡稱\n本條例可引稱為《創新及科技合作條例》。\n第2條 釋義\n在本條例中——\n"
        "大學指根據本港法例成立的專上院校；\n第2A條 合作協議\n大學與企業可訂立合作協議，共同進行研究及開發。\n"
        "第2部\n資助\n第1分部\n一般條文\n第3條 設立合作基金\n政府須設立產學研合作基金。\n")
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["第1条", "第2条", "第2A条", "第3条"]
    assert arts[1]["text_original"] == "第2條 釋義\n在本條例中——\n大學指根據本港法例成立的專上院校；"
    assert arts[2]["text_original"] == "第2A條 合作協議\n大學與企業可訂立合作協議，共同進行研究及開發。"
    assert [r["heading_path"] for r in arts] == ["第1部 导言"] * 3 + ["第2部 资助 > 第1分部 一般条文"]


def test_taiwan_database_chapters_spaced_are_headings(tmp_path):
    """The same database spaces its chapters' numerals too, 第 一 章 總則: they were no headings, the first stood in
    the preamble and the next ran on in the article before it, and no article had a chapter."""
    d, rows = _ingested_and_segmented(
        tmp_path, "tw/rules.txt",
        "科學技術基本法施行細則（測試）\n第 一 章 總則\n第 1 條\n本細則依科學技術基本法訂定之，並適用於各研究機構及學校\n"
        "第 二 章 研究發展\n第 2 條\n政府補助之研究發展成果，得授權企業實施。\n")
    assert [(r["kind"], r["text_original"]) for r in rows if r["kind"] != "preamble"] == [
        ("heading", "第 一 章 總則"), ("article", "第 1 條\n本細則依科學技術基本法訂定之，並適用於各研究機構及學校"),
        ("heading", "第 二 章 研究發展"), ("article", "第 2 條\n政府補助之研究發展成果，得授權企業實施。")]
    assert [r["heading_path"] for r in rows if r["kind"] == "article"] == ["第 一 章 总则", "第 二 章 研究发展"]


def test_a_bilingual_regulation_codes_each_articles_chinese_and_english_apart():
    """A regulation published with its English translation under each article (第一条 … / Article 1 …), as
    Shenzhen's and Hainan's are: each Chinese article ran on into its translation, the passage read as English
    (its letters outnumber its Han characters three to one), so no Chinese term matched and an article the
    Chinese-only text had coded with three nodes got none. The translation is an article of its own, cited as it
    is written (Article 1), each read in its language; an English chapter heading under the Chinese one is a heading
    that leaves the Chinese chapter the articles' context."""
    text = ("深圳经济特区科技创新条例（测试）\nRegulations of Shenzhen Special Economic Zone on Technological Innovation\n"
            "第一章 总则\nChapter I General Provisions\n"
            "第一条 为了促进产学研合作，鼓励企业与高等学校共建联合实验室，制定本条例。\n"
            "Article 1 These Regulations are formulated to promote cooperation between enterprises and universities.\n"
            "第二条 市政府设立科技成果转化引导基金。\n"
            "Article 2 The municipal government shall establish a fund and give subsidies to joint projects.\n")
    rows = segment_document(doc(text))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [(r["label"], r["lang"]) for r in arts] == [("第一条", "zh"), ("Article 1", "en"), ("第二条", "zh"),
                                                       ("Article 2", "en")]
    assert arts[0]["text"] == "第一条 为了促进产学研合作，鼓励企业与高等学校共建联合实验室，制定本条例。"
    assert {r["heading_path"] for r in arts} == {"第一章 总则"}
    assert [r["text"] for r in rows if r["kind"] == "heading"] == ["第一章 总则", "Chapter I General Provisions"]
    assert all(text[r["start"]:r["end"]] == r["text"] for r in rows)


def test_a_bilingual_regulations_preamble_before_an_english_chapter_heading_is_cited_as_a_preamble():
    """The English title above a translated regulation's first chapter, whose heading comes in English alone, was
    cited by nothing (label ""), where the same text under a Chinese chapter heading is cited 序言."""
    text = ("某省促进产学研合作条例\n\nRegulations of X Province on Cooperation\n\nChapter I General Provisions\n\n"
            "第一条 鼓励企业与高等学校合作。\n\nArticle 1 Enterprises and universities are encouraged to cooperate.\n\n"
            "第二条 设立成果转化基金。\n\nArticle 2 A fund for the transformation of results is established.\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    assert [(r["kind"], r["label"]) for r in rows if r["kind"] != "heading"] == [
        ("preamble", "序言"), ("article", "第一条"), ("article", "Article 1"), ("article", "第二条"),
        ("article", "Article 2")]


def test_a_plans_capital_numbered_parts_are_headings_that_restart_its_items():
    """A Taiwanese plan (計畫) numbers its parts 壹、貳、參 above 一、 and （一）: 壹、計畫緣起 was a coded paragraph,
    and 參's title and text ran into the last item of 貳, cited 二、（一）, where a reader finds other text."""
    text = ("推动产学合作实施计划\n\n壹、计划缘起\n\n为强化大学与产业之连结，特订定本计划。\n\n贰、推动策略\n\n"
            "一、建立产学合作平台\n\n（一）补助大学设立产学合作中心。\n\n（二）鼓励教师参与企业研发。\n\n"
            "二、完善智慧财产管理\n\n（一）研发成果归属依法办理。\n\n参、经费需求\n\n本计划所需经费由年度预算支应。\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    assert [r["label"] for r in rows if r["kind"] == "heading"] == [
        "壹、计划缘起", "贰、推动策略", "一、建立产学合作平台", "二、完善智慧财产管理", "参、经费需求"]
    cited = [(r["label"], r["heading_path"], r["text"][:4]) for r in rows if r["kind"] != "heading"]
    assert cited == [("¶ 1", "", "推动产学"), ("壹、 ¶ 1", "壹、计划缘起", "为强化大"),
                     ("贰、一、（一）", "贰、推动策略 > 一、建立产学合作平台", "（一）补"),
                     ("贰、一、（二）", "贰、推动策略 > 一、建立产学合作平台", "（二）鼓"),
                     ("贰、二、（一）", "贰、推动策略 > 二、完善智慧财产管理", "（一）研"),
                     ("参、 ¶ 1", "参、经费需求", "本计划所")]


def test_a_notices_attachment_items_are_cited_with_its_name():
    """A notice (通知) numbered 一、二、 ends with its attachments (附件1 …), which number their own 一、: the list of
    attachments and the signature were cited 三、2., and the attachment's paragraphs 一、 ¶ 1, under the notice's
    own 一、, where a reader finds other text. An attachment's items are cited with its name, as a part's are."""
    text = ("关于印发合作项目管理办法的通知\n\n各有关单位：\n\n一、高度重视项目管理工作，落实项目法人责任制。\n\n"
            "二、规范资金使用，专款专用。\n\n附件：1.项目申报书\n      2.经费预算表\n\n某市科学技术局\n2025年5月10日\n\n"
            "附件1\n\n项目申报书\n\n一、项目基本情况\n\n项目名称、承担单位、起止时间。\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    cited = [(r["kind"], r["label"], r["heading_path"], r["text"].lstrip()[:4]) for r in rows]
    assert cited == [("paragraph", "¶ 1", "", "关于印发"), ("paragraph", "¶ 2", "", "各有关单"),
                     ("item", "一、", "", "一、高度"), ("item", "二、", "", "二、规范"),
                     ("heading", "附件：1.项目申报书", "", "附件：1"), ("item", "附件 2.", "附件：1.项目申报书", "2.经费"),
                     ("heading", "附件1", "", "附件1"), ("paragraph", "附件1 ¶ 1", "附件1", "项目申报"),
                     ("heading", "一、项目基本情况", "附件1", "一、项目"),
                     ("paragraph", "附件1 一、 ¶ 1", "附件1 > 一、项目基本情况", "项目名称")]
    # a notice whose own text has no items, its Markdown title above it, the attached plan the items
    text = ("# 关于印发实施方案的通知\n\n现将实施方案印发给你们。\n\n附件：实施方案\n\n附件\n\n实施方案\n\n"
            "一、总体要求\n\n（一）指导思想。坚持企业主体。\n\n（二）主要目标。建成一批平台。\n")
    assert [r["label"] for r in segment_document(doc(text)) if r["kind"] == "item"] == ["附件 一、（一）", "附件 一、（二）"]


def test_a_section_opening_with_its_text_leaves_the_section_heading_above_it():
    """"Sec. 1. Definitions." is a heading; "Sec. 2. The Office shall …" opens the next section with its text: its
    passages were shown under Sec. 1's heading (Sec. 1. Definitions. > Sec. 2(a)), a section they are not in."""
    text = ("AN ACT relating to partnerships\n\nSec. 1. Definitions.\n\n(a) \"Office\" means the Office.\n\n"
            "Sec. 2. The Office shall establish a grant program.\n\n(a) Grants may fund joint research.\n")
    rows = segment_document(doc(text, "en"))
    _check_cover(text, rows)
    assert [(r["label"], r["heading_path"]) for r in rows if r["kind"] == "paragraph"] == [
        ("¶ 1", ""), ("Sec. 1(a)", "Sec. 1. Definitions."), ("Sec. 2", ""), ("Sec. 2(a)", "")]


def test_an_item_after_a_numbered_heading_of_its_level_is_not_under_it():
    """（三）共建平台 standing alone is a heading; the item （四）人才流动。… after it is its sibling, but was shown
    under it (二、重点任务 > （三）共建平台), with its 1. and 2., in every output naming the passage's heading."""
    text = ("关于促进产学研合作的意见\n\n一、总体要求\n\n（一）指导思想。推动深度融合。\n\n（二）主要目标。建成一批平台。\n\n"
            "二、重点任务\n\n（三）共建平台\n\n支持高校与企业共建联合实验室。\n\n（四）人才流动。鼓励科研人员兼职。\n\n"
            "1.兼职取酬按规定执行；\n\n三、保障措施\n\n各市要加强组织领导。\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    assert [(r["label"], r["heading_path"]) for r in rows if r["kind"] != "heading"][-4:] == [
        ("二、（三） ¶ 1", "二、重点任务 > （三）共建平台"), ("二、（四）", "二、重点任务"), ("二、（四）1.", "二、重点任务"),
        ("三、 ¶ 1", "三、保障措施")]


def test_a_one_sentence_section_with_no_text_below_it_is_coded():
    """"Section 2. Universities retain title to inventions." is short and has none of shall/may/is: it was taken
    for a section heading, so it was never coded, though no text below it is its section's. A section line that
    the next section (or the end) follows is the section's text."""
    text = ("AN ACT relating to research partnerships.\n\nSection 1. Legislative findings.\n\n"
            "The legislature finds that partnerships create jobs.\n\n"
            "Section 2. Universities retain title to inventions made under partnership grants.\n\n"
            "Section 3. This Act takes effect July 1, 2025.\n")
    paras, headings = _cited(text)
    assert headings == ["Section 1. Legislative findings."]
    assert paras == ["¶ 1", "Section 1", "Section 2", "Section 3"]


def test_an_acts_inserted_subsection_is_cited_by_its_own_number():
    """An amended UK Act inserts subsection (1A) after (1): it was cited s. 1(1), the subsection before it, whose
    text a reader then finds instead."""
    text = ("Innovation Act 2025\n\n1 Duty to promote collaboration\n\n(1) The Secretary of State must promote it.\n\n"
            "(1A) The duty in subsection (1) includes charities.\n\n(a) medical research charities, and\n\n"
            "(2) The Secretary of State may issue guidance.\n\n2 Grants\n\n(1) Grants may be made.\n")
    paras, _ = _cited(text)
    assert paras == ["¶ 1", "s. 1(1)", "s. 1(1A)", "s. 1(1A)(a)", "s. 1(2)", "s. 2(1)"]


def test_a_plans_items_are_cited_with_their_part():
    """A plan (规划) numbers its items afresh in each part (第一部分 … 一、（一） / 第二部分 … 一、（一）): both were cited
    一、（一）, and report.md and gaps.csv, which show no heading beside a citation, named two places at once."""
    text = ("某省科技创新发展规划\n\n第一部分 发展基础\n\n研发投入持续增长。\n\n一、主要成绩\n\n（一）企业创新能力提升。\n\n"
            "第二部分 主要任务\n\n一、强化企业主体\n\n（一）支持企业建设研发中心。\n\n"
            "（二）推进产学研协同攻关。\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    assert [r["label"] for r in rows if r["kind"] != "heading"] == [
        "¶ 1", "第一部分 ¶ 1", "第一部分 一、（一）", "第二部分 一、（一）", "第二部分 一、（二）"]
    tw = "計畫\n\n壹、緣起\n\n本計畫旨在推動合作。\n\n貳、策略\n\n一、建立平臺\n\n（一）補助大學。\n\n（二）鼓勵教師。\n"
    rows = segment_document({**doc(tw.replace("計畫", "计划").replace("貳", "贰").replace("臺", "台")
                                     .replace("補助大學", "补助大学").replace("鼓勵教師", "鼓励教师")),
                             "text_original": tw})
    # cited as written, as a Traditional regulation's 第四條
    assert [r["label"] for r in rows if r["kind"] != "heading"] == ["¶ 1", "壹、 ¶ 1", "貳、一、（一）", "貳、一、（二）"]


def test_a_white_paper_with_numbered_lists_under_its_headings_is_no_act():
    """A white paper whose numbered headings open on (1) lists was read as a UK Act: its introduction cited s. 1
    and its recommendations s. 3(1), sections of an Act that does not exist. Text above the first section that
    names no Act (Bill, Regulations, Order, enacted) is a paper's, and its paragraphs are cited ¶ N."""
    text = ("Strengthening University-Industry Collaboration: A White Paper\n\n1 Introduction\n\n"
            "Collaboration drives innovation.\n\n2 Barriers\n\n(1) High transaction costs.\n\n(2) Low awareness.\n\n"
            "3 Recommendations\n\n(1) Funding should be long-term.\n\n(2) Offices should be evaluated.\n")
    paras, headings = _cited(text)
    assert paras == ["¶ 1", "¶ 2", "¶ 3", "¶ 4", "¶ 5", "¶ 6"]
    assert headings == ["1 Introduction", "2 Barriers", "3 Recommendations"]
    act = text.replace("Strengthening University-Industry Collaboration: A White Paper", "Collaboration Act 2025")
    assert _cited(act)[0] == ["¶ 1", "s. 1", "s. 2(1)", "s. 2(2)", "s. 3(1)", "s. 3(2)"]


def test_short_numbered_measures_with_nothing_below_them_are_items():
    """A list of measures one short line each (一、设立产学研合作引导基金 / 二、…) was read as headings with nothing
    under them: not one measure was coded. A numbered line followed by the next of its level is an item."""
    text = ("若干措施\n\n为促进产学研合作，制定以下措施。\n\n一、支持企业与高校共建联合实验室\n\n二、设立产学研合作引导基金\n\n"
            "三、保障措施\n\n（一）加强组织领导\n\n（二）加大资金投入\n\n各区要落实配套资金。\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    assert [(r["kind"], r["label"]) for r in rows][2:] == [
        ("item", "一、"), ("item", "二、"), ("heading", "三、保障措施"), ("item", "三、（一）"), ("item", "三、（二）")]
    # a numbered line over a Markdown subheading holds that subsection: a heading, as before
    text = "指引\n\n一、存在加班事实\n\n## 确定工作时间\n\n先确定正常工作时间。\n\n二、申请仲裁。向仲裁委提出。\n"
    assert [r["kind"] for r in segment_document(doc(text))][:3] == ["paragraph", "heading", "heading"]


def test_a_statute_as_markdown_is_cited_as_the_same_text_as_plain_text():
    """The same Act saved as Markdown, its sections as headings (## 1 Duty to … / ## Sec. 2. Grant program.),
    had its subsections cited ¶ 1, ¶ 2, where the .txt cites s. 1(1) and Sec. 2(a)."""
    uk = ("Research Act 2025\n\n1 Duty to promote collaboration\n\n(1) The Secretary of State must promote it.\n\n"
          "(2) The Secretary of State may issue guidance.\n\n2 Grants\n\n(1) Grants may be made.\n")
    state = ("AN ACT relating to research partnerships\n\nSec. 1. Definitions.\n\n(a) \"Office\" means the Office.\n\n"
             "Sec. 2. Grant program.\n\n(a) The Office shall award grants.\n\n(1) Grants may fund joint research.\n")
    for text in (uk, state):
        md = "# " + text.replace("\n\n1 ", "\n\n## 1 ").replace("\n\n2 ", "\n\n## 2 ").replace("\n\nSec.", "\n\n## Sec.")
        assert _cited(md)[0] == _cited(text)[0][1:]  # the title is a heading in Markdown


def test_an_opinions_signature_is_not_its_last_items_text():
    """国务院 / 2025年3月1日 at the end of an opinion, apart from its last item: it was that item's text, coded and
    cited as （二）. A date on the item's own last line, with no blank line before it, stays in it."""
    text = ("关于加快校企合作的意见\n\n一、总体要求\n\n（一）坚持需求导向。企业出题。\n\n（二）坚持协同。共建平台。\n\n"
            "国务院\n2025年3月1日\n")
    rows = segment_document(doc(text))
    assert [(r["kind"], r["label"]) for r in rows][-2:] == [("item", "一、（二）"), ("signature", "")]
    assert rows[-2]["text"] == "（二）坚持协同。共建平台。" and rows[-1]["text"] == "国务院\n2025年3月1日"
    kept = text.replace("共建平台。\n\n国务院\n", "共建平台，自此日起实施：\n")
    assert segment_document(doc(kept))[-1]["kind"] == "item"


def test_a_signature_with_its_note_is_not_the_last_items_text():
    """A note under the signature's date (（此件公开发布）, as the standard layout of official documents places it)
    made the signature, note and all, the last item's text, coded and cited as that item."""
    text = "关于加快校企合作的意见\n\n一、坚持需求导向。\n\n二、共建平台。\n\n国务院办公厅\n2025年3月1日\n\n（此件公开发布）\n"
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    assert [(r["kind"], r["label"]) for r in rows][-2:] == [("item", "二、"), ("signature", "")]
    assert rows[-2]["text"] == "二、共建平台。" and rows[-1]["text"].startswith("国务院办公厅\n2025年3月1日")


def test_a_signature_dated_in_taiwanese_years_is_not_the_last_items_text():
    """A Taiwanese notice signs 中華民國一百一十年三月五日 (110年 with figures too): ingest dated it by that signature
    (text:落款), but segment read the signature as the last item's text, coded and cited as that item."""
    for signed in ("中华民国一百一十年三月五日", "民国110年3月5日"):
        text = f"丁市科学技术局关于推动产学合作的通知\n\n一、鼓励大学与企业共建研发中心\n\n二、建立技术交易平台\n\n丁市科学技术局\n{signed}\n"
        rows = segment_document(doc(text))
        assert [(r["kind"], r["label"]) for r in rows][-2:] == [("item", "二、"), ("signature", "")], signed
        assert rows[-2]["text"] == "二、建立技术交易平台"


def test_the_last_measure_of_a_list_before_a_closing_paragraph_is_an_item():
    """The last line of a list of short measures (三、完善评价机制) has a paragraph after it, not the next measure:
    it was read as a heading, so the list's last measure was never coded. After a measure of its level, it is
    the list's last measure; a short line over items of its own (二、重点任务 / （一）…) stays a heading."""
    text = ("关于推进校企合作的通知\n\n各区人民政府：\n\n一、设立校企合作引导基金\n\n二、建设技术转移共享平台\n\n"
            "三、完善合作项目评价机制\n\n请各区抓好落实。\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    got = [(r["kind"], r["label"]) for r in rows]
    assert ("item", "三、") in got and not [k for k, _ in got if k == "heading"][1:], got
    measure = next(r for r in rows if r["label"] == "三、")
    assert text[measure["start"]:measure["end"]].startswith("三、完善合作项目评价机制")
    # a list's last line with items of its own below it is still their heading
    text = ("实施方案\n\n一、总体要求\n\n二、基本原则\n\n三、重点任务\n\n（一）共建研发平台。支持高校与企业共建平台。\n\n"
            "（二）促进人才流动。鼓励科研人员到企业兼职。\n")
    got = [(r["kind"], r["label"]) for r in segment_document(doc(text))]
    assert ("heading", "三、重点任务") in got and ("item", "三、（一）") in got, got


def test_a_signature_with_its_record_below_is_not_the_last_items_text():
    """An official document's record below its signature (抄送：…, and the line of who printed it and when, …印发)
    made the signature and the record the last item's text, coded and cited as that item."""
    text = ("某市科学技术局关于推进校企合作的通知\n\n一、支持高校与企业共建研发中心。\n\n二、建立技术交易平台。\n\n"
            "某市科学技术局\n2022年5月6日\n\n抄送：省科技厅，市政府办公室。\n某市科学技术局办公室　　2022年5月7日印发\n")
    rows = segment_document(doc(text))
    _check_cover(text, rows)
    assert [(r["kind"], r["label"]) for r in rows][-2:] == [("item", "二、"), ("signature", "")]
    assert rows[-2]["text"] == "二、建立技术交易平台。" and rows[-1]["text"].endswith("印发")
    # a closing paragraph that names whom a copy goes to inside a sentence is no record
    kept = text.replace("抄送：省科技厅，市政府办公室。\n", "请将落实情况抄送省科技厅。\n")
    assert segment_document(doc(kept))[-1]["kind"] != "signature"


WRAPPED_TITLES = """某省科技成果转化条例

## 第一章 总则

第一条 为了促进科技成果转化，制定本条例。

## 第二章 高等学校、科研机构和

企业的合作

第二条 高等学校可以与企业共建研发平台。

## 第三章 服务机构

一般规定

第三条 技术转移机构应当为成果转化提供服务。

## 第四章 附则

本章规定条例的施行。

第四条 本条例自2025年1月1日起施行。
"""


def test_a_chinese_chapter_title_wrapped_onto_the_next_line_is_the_chapters_title():
    """A chapter's title wrapped onto the next line (第二章 高等学校、科研机构和 / 企业的合作), or its first part's
    subtitle (第三章 服务机构 / 一般规定), was a passage of its own in mid-document, coded and cited as 序言 (31
    such passages in the shared corpus's regulations). A line that is a sentence stays the chapter's text, and like
    any text under a heading after the first article (an annex's or a schedule's items) it was cited 序言 too."""
    rows = segment_document(doc(WRAPPED_TITLES, "zh"))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["第一条", "第二条", "第三条", "第四条"]
    assert [r["heading_path"] for r in arts] == ["第一章 总则", "第二章 高等学校、科研机构和 企业的合作",
                                                 "第三章 服务机构 一般规定", "第四章 附则"]
    # the document's title line comes before the first article; text under a heading after it is no preamble, and
    # is cited by its heading
    assert [r["text"] for r in rows if r["kind"] == "preamble"] == ["某省科技成果转化条例"]
    assert [(r["kind"], r["label"]) for r in rows if r["text"] == "本章规定条例的施行。"] == [("paragraph", "第四章 附则")]
    _check_cover(WRAPPED_TITLES, rows)


def test_an_article_whose_source_put_the_space_before_its_character_is_an_article():
    """A few regulations as published write 第七十五 条体育运动… (the space before 条, none after it). The
    article was no article: its text ran on in the article before it, or under a heading it was cited by the
    heading; in a plain-text file ingest ran its line into the line before. It is an article cited by its number
    as the document writes it; a line naming an article in a sentence without the misplaced space is still no
    article."""
    text = ("江东省海上交通条例\n第一章　总则\n第七十四条　海事管理机构负责监督管理。\n"
            "第七十五 条体育运动船艇的安全管理由体育行政部门负责。\n第七十六条　本条例自公布之日起施行。\n"
            "第七十五条规定的船艇，应当登记。\n")
    rows = segment_document(doc(text))
    arts = [r for r in rows if r["kind"] == "article"]
    assert [r["label"] for r in arts] == ["第七十四条", "第七十五 条", "第七十六条"]
    assert arts[1]["text"] == "第七十五 条体育运动船艇的安全管理由体育行政部门负责。"
    assert arts[2]["text"].endswith("第七十五条规定的船艇，应当登记。")
    # ingest's wrap joining reads the same number: a plain-text file's article is not run into the line before
    from pipeline.text import unwrap_lines
    wrapped = "某省海上交通条例\n第七十四条　海事管理机构负责监督管理本行政区域内的海上交通安全工作并依法查处违法行为\n第七十五 条体育运动船艇的安全管理由体育行政部门负责。\n"
    assert unwrap_lines(wrapped) == wrapped
