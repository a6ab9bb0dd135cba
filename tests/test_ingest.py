
import pytest

from pipeline.ingest import ingest
from pipeline.text import DecodeError, decode_bytes, normalise
from pipeline.io import ConfigError

from conftest import CN_REGULATION, edit_code, write

ZH = "第一条 国家鼓励高等学校与企业开展技术转移，促进科技成果转化。"


@pytest.mark.parametrize("encoding,expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gbk"), ("gb18030", "gbk"),
    ("utf-16", "utf-16-le"), ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"),
])
def test_decode_encodings(encoding, expected):
    text = ZH + "\n第二条 本条例自公布之日起施行。\n"
    d = decode_bytes(text.encode(encoding))
    assert d.text.replace("\ufeff", "") == text
    assert d.encoding == expected


def test_gb18030_only_characters():
    text = "第一条 科技成果转化𠀀条例。\n"  # U+20000 exists in GB18030 but not GBK
    d = decode_bytes(text.encode("gb18030"))
    assert d.text == text and d.encoding == "gb18030"


@pytest.mark.parametrize("text,encoding", [
    ("Section 1. The Secretary’s programme shouldn’t limit the university’s centres—filed annually.", "cp1252"),
    ("Section 1. The Département of Innovation and the Générale réseau; Müller Institut, Zürich.", "latin-1"),
    ("Naïve Act\n\nSection 1. Naïve approaches are discouraged, as are résumé requirements.", "latin-1"),
    ("Section 2. Le financement est accordé à l’université et à la région.", "cp1252"),
])
def test_western_text_is_not_read_as_gbk_or_guessed(text, encoding):
    """Western bytes that happen to be valid GBK read as Han characters standing alone between Latin letters
    ("Secretary抯", "D閜artement"); others were left to a guesser that took Latin-1 for cp775 ("Na’ve")."""
    d = decode_bytes(text.encode(encoding))
    assert d.text == text and d.encoding == "cp1252" and "Windows-1252" in d.note


def test_mostly_english_gbk_is_gbk_not_damaged_utf8():
    text = "".join(f"Section {i}. Universities and firms shall cooperate on research and transfer.\n" for i in range(60))
    text += "Signed in 北京.\n"
    d = decode_bytes(text.encode("gbk"))
    assert d.text == text and d.encoding == "gbk" and not d.note


def test_cjk_encodings_of_english_and_damaged_utf8_are_read_as_before():
    # English in GB18030 with typographic punctuation (a narrow no-break space is not in GBK): its quotes and
    # dashes stand between letters but are no Han characters
    text = "Title 10—Armed Forces\n§\u202f4301. The Secretary’s “programme” shan’t end.\n" * 20
    d = decode_bytes(text.encode("gb18030"))
    assert d.text == text and d.encoding == "gb18030" and not d.note
    trad = "第一條 國家鼓勵高等學校與企業開展技術轉移，促進科技成果轉化。\n"
    d = decode_bytes(trad.encode("big5"))
    assert d.text == trad and d.encoding == "big5"
    # UTF-8 with a stray byte stays UTF-8, with its good multi-byte characters
    english = "".join(f"Section {i}. The Secretary’s report on research.\n" for i in range(30))
    d = decode_bytes(english.encode() + b"\xff")
    assert d.encoding == "utf-8" and d.text == english + "\ufffd" and "1 undecodable" in d.note
    d = decode_bytes(ZH.encode() * 20 + b"\xe4\xb8" + ZH.encode())
    assert d.encoding == "utf-8" and d.text == ZH * 20 + "\ufffd" + ZH


def test_binary_and_undecodable_are_rejected_with_reason():
    with pytest.raises(DecodeError, match="binary"):
        decode_bytes(bytes(range(256)) * 8)
    with pytest.raises(DecodeError, match="undecodable"):
        decode_bytes(b"\x81\xff\x80\xfe" * 100)


def test_normalise_keeps_fullwidth_punctuation_and_folds_fullwidth_letters():
    assert normalise("第一条　ＡＢＣ１２３，科技（成果）。") == "第一条　ABC123，科技（成果）。"
    assert normalise("a\r\nb\x07c") == "a\nbc"


def test_normalise_equals_nfkc_between_kept_punctuation_on_tricky_text():
    """normalise skips NFKC when a quick check says it would change nothing; the result must be NFKC applied to
    each piece between runs of kept punctuation, whatever the text: combining marks, Hangul jamo that compose,
    Indic vowel signs, compatibility characters, kept punctuation between them."""
    import random
    import unicodedata

    from pipeline.text import _CONTROLS, _FW_SPLIT

    def reference(text: str) -> str:
        parts = _FW_SPLIT.split(text)
        parts[::2] = [unicodedata.normalize("NFKC", p) for p in parts[::2]]
        return "".join(parts)

    ranges = [(0x20, 0x250), (0x300, 0x370), (0x900, 0x980), (0xB00, 0xB80), (0x1100, 0x1200), (0x2000, 0x2100),
              (0x3000, 0x3100), (0x4E00, 0x4E40), (0xAC00, 0xAC40), (0xFB00, 0xFB50), (0xFF00, 0xFFF0)]
    # (without the control and format characters normalise drops: tested above)
    pool = [chr(c) for a, b in ranges for c in range(a, b) if not _CONTROLS.match(chr(c))]
    pool += list("\u00a0\u00b4\u0958\u09cb\u0dda\u3099\u309a\u1b3b\n")
    rng = random.Random(5)
    texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]
    texts += ["第一条　ＡＢＣ，e\u0301。\u1100，\u1161", "가\u11a8（）\u0301", "ﬁ，ﬀ。Ａ"]
    for t in texts:
        assert normalise(t) == reference(t), repr(t)


def test_ingest_formats_manifest_and_report(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus / "zh/SD/reg.md", CN_REGULATION)
    write(corpus / "zh/SD/gbk.txt", ZH, encoding="gbk")
    write(corpus / "zh/TW/trad.txt", "第一條 國家鼓勵高等學校與企業開展技術轉移。")
    write(corpus / "en/US/page.html", "<html><head><title>Act</title><script>alert('x')</script>"
          "<style>p{}</style></head><body><p onclick=\"evil()\">Federal laboratories shall transfer technology.</p>"
          "</body></html>")
    write(corpus / "en/US/copy.html", (corpus / "en/US/page.html").read_bytes())
    write(corpus / "empty.txt", b"")
    write(corpus / "zh/SD/extra.txt", "not in the manifest")
    write(corpus / "manifest.csv", "path,region,region_name,lang,title,date,source\n"
          "zh/SD/reg.md,CN-SD,Shandong,zh,某省条例,2020-01-01,demo\n"
          "zh/SD/gbk.txt,CN-SD,Shandong,,,,\n"
          "zh/TW/trad.txt,TW,Taiwan,zh,,,\n"
          "en/US/page.html,US,United States,en,,,\n"
          "en/US/copy.html,US,United States,en,,,\n"
          "empty.txt,US,United States,en,,,\n"
          "missing.txt,US,United States,en,,,\n")
    docs, rep = ingest(corpus)
    status = dict(zip(rep["path"], rep["status"]))
    assert status == {"zh/SD/reg.md": "ingested", "zh/SD/gbk.txt": "ingested", "zh/TW/trad.txt": "ingested",
                      "en/US/copy.html": "ingested", "en/US/page.html": "duplicate_of", "empty.txt": "skipped",
                      "missing.txt": "failed", "zh/SD/extra.txt": "skipped"}
    reasons = dict(zip(rep["path"], rep["reason"]))
    assert "not found" in reasons["missing.txt"] and "not listed" in reasons["zh/SD/extra.txt"]
    assert rep.set_index("path").loc["en/US/page.html", "duplicate_of"] == "en/US/copy.html"
    d = docs.set_index("doc_id")
    assert d.loc["zh/SD/gbk.txt", "encoding"] == "gbk" and d.loc["zh/SD/gbk.txt", "lang"] == "zh"
    assert d.loc["zh/TW/trad.txt", "converted_t2s"]
    assert "国家鼓励高等学校与企业开展技术转移" in d.loc["zh/TW/trad.txt", "text"]
    assert "國家鼓勵" in d.loc["zh/TW/trad.txt", "text_original"]
    html = d.loc["en/US/copy.html"]
    assert "alert" not in html["text"] and "p{}" not in html["text"] and "Federal laboratories" in html["text"]
    assert html["title"] == "Act"
    assert d.loc["zh/SD/reg.md", "title"] == "某省条例" and d.loc["zh/SD/reg.md", "date"] == "2020-01-01"
    assert '"source": "demo"' in d.loc["zh/SD/reg.md", "extra"]


def test_region_from_folder_and_language_detection_without_manifest(tmp_path):
    write(tmp_path / "CN-ZJ/a.txt", ZH)
    write(tmp_path / "UK/b.txt", "Universities and firms shall cooperate on research.")
    docs, rep = ingest(tmp_path)
    d = docs.set_index("doc_id")
    assert d.loc["CN-ZJ/a.txt", "region"] == "CN-ZJ" and d.loc["CN-ZJ/a.txt", "lang"] == "zh"
    assert d.loc["UK/b.txt", "region"] == "UK" and d.loc["UK/b.txt", "lang"] == "en"


def test_docx_and_textless_pdf(tmp_path):
    import docx
    from pypdf import PdfWriter

    doc = docx.Document()
    doc.add_paragraph("第一条 鼓励企业与高等学校共建研发机构。")
    # measures in a table are text of the document too, row by row, a merged cell once
    table = doc.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "措施", "主体"
    table.cell(1, 0).text, table.cell(1, 1).text = "设立技术转移机构", "高等学校"
    table.cell(0, 0).merge(table.cell(0, 1))
    doc.add_paragraph("第二条 本办法自发布之日起施行。")
    doc.save(tmp_path / "a.docx")
    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    with open(tmp_path / "scan.pdf", "wb") as fh:
        w.write(fh)
    docs, rep = ingest(tmp_path)
    status = dict(zip(rep["path"], rep["status"]))
    assert status == {"a.docx": "ingested", "scan.pdf": "failed"}
    assert "text layer" in rep.set_index("path").loc["scan.pdf", "reason"]
    assert docs.iloc[0]["text"] == ("第一条 鼓励企业与高等学校共建研发机构。\n\n措施 主体\n\n设立技术转移机构 | 高等学校\n\n"
                                    "第二条 本办法自发布之日起施行。")




def _pdf_with_text(text: str):
    """A one-page PDF whose text layer is `text` (ASCII), as a pypdf writer."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    page = w.add_blank_page(width=300, height=200)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): w._add_object(font)})})
    content = DecodedStreamObject()
    content.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = w._add_object(content)
    return w


def _pdf_pages(pages: list[list[str]]) -> bytes:
    """A PDF whose page i holds the lines pages[i] (ASCII), top to bottom."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    font_ref = w._add_object(font)
    for lines in pages:
        page = w.add_blank_page(width=600, height=800)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})})
        content = DecodedStreamObject()
        shown = " T* ".join(f"({line}) Tj" for line in lines)
        content.set_data(f"BT /F1 10 Tf 14 TL 40 760 Td {shown} ET".encode())
        page[NameObject("/Contents")] = w._add_object(content)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_pdf_running_heads_and_page_numbers_stay_out_of_the_text(tmp_path):
    """A PDF prints a running head and a page number on every page. They were read as text: page numbers became
    passages, the head ran into the paragraph it interrupted, and the pages, joined by a blank line, made one
    paragraph each (a three-page report was three "passages", each cut mid-sentence at the page break). The head
    on the first page, the title there, stays."""
    from pipeline.segment import segment_document

    head = "Knowledge Exchange Partnerships Framework"
    body = ["1. Purpose",
            "This framework sets out how universities and businesses work together on applied",
            "research projects and encourages joint research centres with industry.",
            "2. Funding",
            "The Council will provide matched funding of up to fifty per cent of the cost of each",
            "partnership, and universities may license inventions to the business partner.",
            "3. Talent exchange",
            "Academic staff may spend up to two days a week working with a business partner and",
            "businesses are encouraged to host graduate placements and doctoral students."]
    pages = [[head, *body[:2], "Page 1 of 3"], [head, *body[2:5], "Page 2 of 3"], [head, *body[5:], "Page 3 of 3"]]
    write(tmp_path / "UK/framework.pdf", _pdf_pages(pages))
    docs, rep = ingest(tmp_path)
    doc = docs.set_index("doc_id").loc["UK/framework.pdf"]
    assert doc["text"].count(head) == 1 and "Page " not in doc["text"]
    assert doc["title"] == head
    texts = [p["text"] for p in segment_document({**doc, "doc_id": "UK/framework.pdf"}) if p["kind"] == "paragraph"]
    # the sentence running over each page break is one passage
    assert ("This framework sets out how universities and businesses work together on applied research projects "
            "and encourages joint research centres with industry.") in texts
    assert ("The Council will provide matched funding of up to fifty per cent of the cost of each partnership, and "
            "universities may license inventions to the business partner.") in texts
    # a line at a page's edge that does not repeat is the text's, and one page has no running head to find
    from pipeline.formats import pdf_pages_text

    assert pdf_pages_text(["Title\nfirst line", "second page\n2"]) == "Title\nfirst line\nsecond page\n2"
    assert pdf_pages_text(["Page 1\nonly page"]) == "Page 1\nonly page"
    assert pdf_pages_text(["— 1 —\nfirst page", "— 2 —\nsecond page"]) == "first page\nsecond page"


def test_a_clipped_pages_links_after_the_document_are_not_its_last_article(tmp_path):
    """A regulation clipped from a web page to Markdown ends on a rule and the site's links, "[打印本页](…) |
    [关闭窗口](…)": they ran on in the last article, cited as it. A text that ends on its own words keeps them,
    and links inside it stay."""
    write(tmp_path / "JD/clip.md", "# 某省条例\n\n第一条 依照[促进法](https://x.gov/law)制定本条例。\n\n"
                                   "第二条 本条例自公布之日起施行。\n\n---\n\n[打印本页](javascript:window.print()) | "
                                   "[关闭窗口](javascript:window.close())\n\n【字体：大 中 小】\n")
    docs, _ = ingest(tmp_path)
    text = docs.set_index("doc_id").loc["JD/clip.md", "text"]
    assert text.rstrip().endswith("本条例自公布之日起施行。") and "[促进法](https://x.gov/law)" in text


def test_what_a_browser_prints_at_a_pages_edges_is_no_text_of_the_document():
    """A regulation's web page printed to PDF by a browser: the date and time with the page's title at the top,
    the page's address and "1/1" at the bottom. On one page it repeats nowhere, so the address ran into the last
    article and the header stood above the title. A date inside the text stays."""
    from pipeline.formats import pdf_pages_text

    page = ("12/7/26, 11:23 AM 某省促进产学研合作条例\n某省促进产学研合作条例\n第一条 为了促进合作，制定本条例。\n"
            "第二条 本条例自公布之日起施行。\nfile:///home/me/某省条例.html 1/1")
    assert pdf_pages_text([page]) == "某省促进产学研合作条例\n第一条 为了促进合作，制定本条例。\n第二条 本条例自公布之日起施行。"
    two = ["2026/12/7 11:23 Research Act\nResearch Act\n(a) Grants.", "(b) Reports by 12/7/2026.\nhttps://x.gov/act 2/2"]
    assert pdf_pages_text(two) == "Research Act\n(a) Grants.\n(b) Reports by 12/7/2026."


def test_an_aes_encrypted_pdf_that_opens_without_a_password(tmp_path):
    """Many PDFs are encrypted with an owner password only (no printing, no copying) and open without one; pypdf
    decrypts AES with the cryptography package, pinned for it. Where it is missing, the reason says so."""
    import io

    from pipeline.formats import extract_text

    w = _pdf_with_text("Technology Transfer Act")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        # pypdf cannot write AES without it either: an RC4 file whose encryption dictionary says AES fails the
        # same way when read
        from pypdf.generic import DictionaryObject, NameObject, NumberObject

        w.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
        enc = w._encrypt_entry
        enc[NameObject("/V")], enc[NameObject("/R")] = NumberObject(4), NumberObject(4)
        enc[NameObject("/CF")] = DictionaryObject({NameObject("/StdCF"): DictionaryObject(
            {NameObject("/CFM"): NameObject("/AESV2"), NameObject("/Length"): NumberObject(16)})})
        enc[NameObject("/StmF")] = enc[NameObject("/StrF")] = NameObject("/StdCF")
        data = io.BytesIO()
        w.write(data)
        with pytest.raises(DecodeError, match=r"needs the 'cryptography' package.*install it \(pip install "
                                              r"cryptography"):
            extract_text(data.getvalue(), "pdf")
    else:
        w.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
        data = io.BytesIO()
        w.write(data)
        assert "Technology Transfer Act" in extract_text(data.getvalue(), "pdf")[0].text

_WORD_NS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
            'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
            'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
            'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
            'xmlns:v="urn:schemas-microsoft-com:vml"')


def _word_xml(fragment: str):
    from docx.oxml import parse_xml

    return parse_xml(f"<w:body {_WORD_NS}>{fragment}</w:body>")


def test_docx_text_word_shows_is_read_in_order(tmp_path):
    """Content controls, tracked insertions (not deletions), fields, smart tags and text boxes hold text Word
    shows; python-docx's paragraph list leaves it out. A text box Word writes twice (DrawingML and its VML
    fallback) is read once; a title left in the file's properties by a template is not the document's."""
    import docx

    d = docx.Document()
    d.core_properties.title = "Microsoft Word - 模板.doc"
    d.add_paragraph("某市促进产学研合作办法")
    box = "<w:txbxContent><w:p><w:r><w:t>第四条 鼓励企业牵头组建产业技术创新战略联盟。</w:t></w:r></w:p></w:txbxContent>"
    blocks = _word_xml(
        "<w:sdt><w:sdtPr><w:alias w:val=\"条款\"/></w:sdtPr><w:sdtContent>"
        "<w:p><w:r><w:t>第一条 支持企业与高等学校共建联合实验室。</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        "<w:p><w:r><w:t xml:space=\"preserve\">第二条 </w:t></w:r>"
        "<w:del w:id=\"1\" w:author=\"a\"><w:r><w:delText>删去的文字。</w:delText></w:r></w:del>"
        "<w:ins w:id=\"2\" w:author=\"a\"><w:r><w:t>鼓励科研人员到企业兼职。</w:t></w:r></w:ins></w:p>"
        "<w:p><w:r><w:t xml:space=\"preserve\">第三条 </w:t></w:r>"
        "<w:fldSimple w:instr=\"HYPERLINK x\"><w:r><w:t>共建研发中心，</w:t></w:r></w:fldSimple>"
        "<w:smartTag w:uri=\"u\" w:element=\"e\"><w:r><w:t>促进产学研合作，</w:t></w:r></w:smartTag>"
        "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText>REF 条款</w:instrText></w:r>"
        "<w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>转化科技成果。</w:t></w:r>"
        "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>"
        f"<w:p><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:drawing><wp:anchor><a:graphic>"
        f"<a:graphicData><wps:wsp><wps:txbx>{box}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor>"
        f"</w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict>"
        f"</mc:Fallback></mc:AlternateContent></w:r></w:p>"
        "<w:p><w:r><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>第五条 本办法自发布之日起施行。"
        "</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></w:r></w:p>")
    sect = d.element.body[-1]
    for el in list(blocks):
        sect.addprevious(el)
    # a content control around a cell's text
    cell = d.add_table(rows=1, cols=2).cell(0, 0)
    cell._tc.remove(cell._tc.p_lst[0])
    cell._tc.append(_word_xml("<w:sdt><w:sdtContent><w:p><w:r><w:t>措施</w:t></w:r></w:p></w:sdtContent></w:sdt>")[0])
    d.tables[0].cell(0, 1).text = "主体"
    d.save(tmp_path / "a.docx")
    docs, rep = ingest(tmp_path)
    assert rep.iloc[0]["status"] == "ingested"
    assert docs.iloc[0]["text"] == ("某市促进产学研合作办法\n\n第一条 支持企业与高等学校共建联合实验室。\n\n"
                                    "第二条 鼓励科研人员到企业兼职。\n\n第三条 共建研发中心，促进产学研合作，转化科技成果。\n\n"
                                    "第四条 鼓励企业牵头组建产业技术创新战略联盟。\n\n第五条 本办法自发布之日起施行。\n\n"
                                    "措施 | 主体")
    assert docs.iloc[0]["title"] == "某市促进产学研合作办法"


@pytest.mark.parametrize("title,own", [
    ("Microsoft Word - 模板.doc", False), ("Microsoft Word - 科技条例", False), ("政策汇编.docx", False),
    ("template.dotx", False), ("Document1", False), ("文档1", False), ("某市科技成果转化条例", True),
    ("Technology Transfer Act", True)])
def test_a_leftover_file_name_is_no_title(title, own):
    from pipeline.text import own_title

    assert own_title(title) == (title if own else "")


def test_fatal_configuration_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ingest(tmp_path / "nope")
    write(tmp_path / "manifest.csv", "file,area\nx.txt,CN\n")
    with pytest.raises(ConfigError, match=r"manifest.csv.*lacks required column\(s\) path, region, lang"):
        ingest(tmp_path)


def test_dates_from_manifest_file_name_and_text(tmp_path):
    """Where each date comes from: the manifest overrides, then a (YYYY-MM-DD) in the file name, then the text
    (adoption/promulgation in the header before the effective date); implausible years are ignored."""
    corpus = tmp_path / "corpus"
    header = "# 某省促进科技成果转化条例\n\n2017年4月20日某省第十二届人民代表大会常务委员会第二十八次会议通过\n\n"
    write(corpus / "zh/A/adopted.md", header + "第一条 为了促进成果转化，制定本条例。\n\n第九条 本条例自2017年7月1日起施行。\n")
    write(corpus / "zh/A/in_force.md", "某办法\n\n第一条 为了规范管理，制定本办法。\n\n第八条 本办法自2018年10月1日起施行。\n")
    write(corpus / "zh/A/chinese_numerals.md", "某规定\n（二〇一九年三月五日发布）\n\n第一条 依据1990年5月1日通过的某法制定。\n")
    write(corpus / "zh/A/old_year.md", "某条例\n1890年1月1日通过\n\n第一条 鼓励企业与高等学校合作。\n")
    write(corpus / "zh/A/far_future.md", "某条例\n2999年1月1日通过\n\n第一条 鼓励企业与高等学校合作。\n")
    write(corpus / "zh/A/named (2015-06-01).md", header + "第一条 鼓励企业与高等学校合作。\n")
    write(corpus / "zh/A/revised.md", "某条例\n（2001年10月28日某省人民代表大会常务委员会通过　2017年12月1日某省人民代表"
                                      "大会常务委员会第三十三次会议修订）\n\n第一条 鼓励企业与高等学校合作。\n")
    write(corpus / "zh/TW/trad.txt", "某辦法\n2016年5月3日行政院會議通過\n\n第一條 鼓勵企業與學校合作研發，促進技術移轉與成果運用。\n")
    write(corpus / "en/B/effective.txt", "Partnership Guidance\n\nEffective Date: January 1, 2020\n\n"
                                         "Universities and firms shall cooperate on research.\n")
    write(corpus / "en/B/approved.txt", "Research Framework\n\nApproved by the Council on 12 March 2019.\n\n"
                                        "Universities may license patents to firms.\n")
    write(corpus / "en/B/undated.txt",
          "Research Framework\n\nNot later than March 31 of each year the Council reports.\n")
    docs, _ = ingest(corpus)
    d = docs.set_index("doc_id")
    expect = {
        "zh/A/adopted.md": ("2017-04-20", "text:通过"),
        "zh/A/in_force.md": ("2018-10-01", "text:施行"),
        "zh/A/chinese_numerals.md": ("2019-03-05", "text:发布"),
        "zh/A/old_year.md": ("", ""),
        "zh/A/far_future.md": ("", ""),
        "zh/A/named (2015-06-01).md": ("2015-06-01", "filename"),
        "zh/A/revised.md": ("2017-12-01", "text:修订"),  # the version it is, not its first adoption
        "zh/TW/trad.txt": ("2016-05-03", "text:通过"),
        "en/B/effective.txt": ("2020-01-01", "text:Effective Date"),
        "en/B/approved.txt": ("2019-03-12", "text:approved"),
        "en/B/undated.txt": ("", ""),
    }
    assert {k: (d.loc[k, "date"], d.loc[k, "date_source"]) for k in expect} == expect

    # the manifest overrides the text; an empty manifest date falls back to the text
    write(corpus / "manifest.csv", "path,region,lang,date\nzh/A/adopted.md,A,zh,2017-05-01\nzh/A/in_force.md,A,zh,\n")
    docs, _ = ingest(corpus)
    d = docs.set_index("doc_id")
    assert (d.loc["zh/A/adopted.md", "date"], d.loc["zh/A/adopted.md", "date_source"]) == ("2017-05-01", "manifest")
    assert (d.loc["zh/A/in_force.md", "date"], d.loc["zh/A/in_force.md", "date_source"]) == ("2018-10-01", "text:施行")

    # a manifest date in another common form is read as ISO; one that is no date is not used (the text's is) and
    # the problem is said on stderr, naming the file
    write(corpus / "manifest.csv", "path,region,lang,date\nzh/A/adopted.md,A,zh,2017/5/1\n"
                                   "zh/A/in_force.md,A,zh,2021-13-45\nzh/A/old_year.md,A,zh,2099-02-30\n"
                                   "zh/A/chinese_numerals.md,A,zh,2019年3月\nzh/A/far_future.md,A,xx,\n")
    proc, d = _ingest_in_a_process(corpus, tmp_path / "out")
    got = {k: (d.loc[k, "date"], d.loc[k, "date_source"]) for k in
           ("zh/A/adopted.md", "zh/A/in_force.md", "zh/A/old_year.md", "zh/A/chinese_numerals.md")}
    assert got == {"zh/A/adopted.md": ("2017-05-01", "manifest"), "zh/A/in_force.md": ("2018-10-01", "text:施行"),
                   "zh/A/old_year.md": ("", ""), "zh/A/chinese_numerals.md": ("2019-03", "manifest")}
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:")]
    assert any("zh/A/in_force.md: manifest.csv: date '2021-13-45' is not a date" in w for w in warnings), warnings
    assert any("zh/A/old_year.md: manifest.csv: date '2099-02-30'" in w for w in warnings), warnings
    assert any("zh/A/far_future.md: manifest.csv: lang 'xx' is not zh or en" in w for w in warnings), warnings
    assert not any("adopted.md" in w or "chinese_numerals" in w for w in warnings), warnings


def _ingest_in_a_process(corpus, out):
    """`python -m pipeline ingest` as a user runs it (its warnings on stderr), and the documents table it wrote."""
    import subprocess
    import sys

    import pandas as pd

    from conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "pipeline", "ingest", "--corpus", str(corpus), "--out", str(out),
                           "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc, pd.read_parquet(out / "documents.parquet").set_index("doc_id")


def test_a_manifests_repealed_column_is_read_as_its_date_column_is(tmp_path):
    """A regulation repealed in 2019 (废止) could not be said to be: a `repealed` column was carried along as any
    other (in `extra`) and nothing read it. It is now read with the manifest date's parser, into the documents'
    `repealed` column; a value that is no date, or a repeal before the document's own date, is said on stderr,
    naming the file and the value (and the document's date), and not used."""
    corpus = tmp_path / "corpus"
    for name in ("a", "b", "c", "d", "e", "f"):
        write(corpus / f"zh/A/{name}.md", f"某办法{name}\n\n第一条 鼓励企业与高等学校合作。\n")
    write(corpus / "manifest.csv", "path,region,lang,date,Repealed\nzh/A/a.md,A,zh,2014-01-15,2019-06-30\n"
                                   "zh/A/b.md,A,zh,2015-06-01,2020年1月1日\nzh/A/c.md,A,zh,2015-06-01,2015\n"
                                   "zh/A/d.md,A,zh,2015-06-01,05/03/2021\nzh/A/e.md,A,zh,2015-06-01,2012-03-01\n"
                                   "zh/A/f.md,A,zh,2015-06-01,\n")
    proc, d = _ingest_in_a_process(corpus, tmp_path / "out")
    assert d["repealed"].to_dict() == {"zh/A/a.md": "2019-06-30", "zh/A/b.md": "2020-01-01", "zh/A/c.md": "2015",
                                       "zh/A/d.md": "", "zh/A/e.md": "", "zh/A/f.md": ""}
    assert (d["extra"] == "{}").all()
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:")]
    assert any("zh/A/d.md: manifest.csv: repealed '05/03/2021' has the day and month before the year" in w
               for w in warnings), warnings
    assert any("zh/A/e.md: manifest.csv: repealed '2012-03-01' is before the document's date 2015-06-01" in w
               for w in warnings), warnings
    assert not any(f"zh/A/{n}.md" in w for w in warnings for n in "abcf"), warnings


def test_ingest_cache_of_another_version_is_not_used(tmp_path, monkeypatch):
    """Documents taken from an earlier run's table must have what this version records (date_source, ...):
    a cache written by another version is read past, and every file read again."""
    import json

    from pipeline import cli

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write(corpus / "zh/A/a.md", CN_REGULATION)
    write(corpus / "zh/A/b.md", ZH)

    def reused():
        assert cli.main(["ingest", "--corpus", str(corpus), "--out", str(out), "--quiet"]) == 0
        return json.loads((out / "run.json").read_text())["stages"]["ingest"]["reused_files"]

    assert reused() == 0
    assert reused() == 2
    edit_code(monkeypatch, "ingest")
    assert reused() == 0


def test_files_at_the_corpus_root_are_region_root_and_the_run_says_so(tmp_path, capsys):
    from pipeline import cli

    corpus = tmp_path / "corpus"
    write(corpus / "loose.txt", ZH)
    write(corpus / "CN-ZJ/a.txt", ZH + "\n第二条 鼓励企业与高等学校共建实验室。")
    docs, rep = ingest(corpus)
    assert docs.set_index("doc_id").loc["loose.txt", "region"] == "(root)"
    reasons = rep.set_index("path")["reason"]
    assert "corpus root" in reasons["loose.txt"] and "'(root)'" in reasons["loose.txt"]
    assert "root" not in reasons["CN-ZJ/a.txt"]
    assert cli.main(["ingest", "--corpus", str(corpus), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "1 document(s) at the corpus root are in region '(root)': loose.txt" in err
    # a manifest that gives the region: no note
    write(corpus / "manifest.csv", "path,region,lang\nloose.txt,CN,zh\nCN-ZJ/a.txt,CN-ZJ,zh\n")
    docs, rep = ingest(corpus)
    assert docs.set_index("doc_id").loc["loose.txt", "region"] == "CN"
    assert "root" not in rep.set_index("path").loc["loose.txt", "reason"]


def test_semicolon_or_tab_separated_manifest_is_read_and_a_bad_one_names_the_delimiter(tmp_path):
    write(tmp_path / "zh/a.txt", ZH)
    for sep in (";", "\t"):
        write(tmp_path / "manifest.csv", sep.join(("path", "region", "lang", "title")) + "\n"
              + sep.join(("zh/a.txt", "CN-SD", "zh", "条例, 修订版")) + "\n")
        docs, _ = ingest(tmp_path)
        assert docs.iloc[0]["region"] == "CN-SD" and docs.iloc[0]["title"] == "条例, 修订版"
    write(tmp_path / "manifest.csv", "path;area;lang\nzh/a.txt;CN;zh\n")
    with pytest.raises(ConfigError,
                       match=r"lacks required column\(s\) region \(read as ';'-separated; its first line has 3 field\(s\); known columns among them: path, lang"):
        ingest(tmp_path)
    write(tmp_path / "manifest.csv", "path,area,lang\nzh/a.txt,CN,zh\n")
    with pytest.raises(ConfigError, match=r"lacks required column\(s\) region \(read as comma-separated; its first line has"):
        ingest(tmp_path)


def test_one_reading_of_the_separator_for_manifests_and_review_sheets():
    """Manifests and coded review sheets are read with the same separator: ';', tab or '|' only when the first
    line, read with commas, is one field holding it; a ';' inside a quoted comma-separated header is text."""
    from pipeline.io import csv_delimiter

    assert csv_delimiter("path;region;lang\nzh/a.txt;CN;zh\n") == ";"
    assert csv_delimiter("id\tlabels\tcoder\n") == "\t"
    assert csv_delimiter('path,region,"title; en"\n') == ","
    # more ';' than ',' in a comma-separated header (the old rule of the review sheets read it as ';')
    assert csv_delimiter('id,"labels;a;b;c",coder\n') == ","
    assert csv_delimiter("") == ","


def test_notes_beside_the_documents_raise_no_warning(tmp_path, caplog):
    """The demo corpus's README.md and expected_coverage.csv are skipped quietly; an unlisted file that may be a
    document left out of the manifest is still warned about. Without a manifest a README is not a document."""
    import logging

    write(tmp_path / "zh/a.txt", ZH)
    write(tmp_path / "README.md", "# Demo corpus\n\nNotes.\n")
    write(tmp_path / "expected_coverage.csv", "region,node\nCN,x\n")
    write(tmp_path / "manifest.csv", "path,region,lang\nzh/a.txt,CN,zh\n")
    with caplog.at_level(logging.WARNING):
        _, rep = ingest(tmp_path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    reasons = rep.set_index("path")["reason"]
    assert "not listed in manifest.csv" in reasons["README.md"] and "notes on the corpus" in reasons["README.md"]
    assert "'.csv' is no document type" in reasons["expected_coverage.csv"]
    write(tmp_path / "zh/forgotten.txt", ZH + "另")
    with caplog.at_level(logging.WARNING):
        ingest(tmp_path)
    assert "1 file(s) not listed in the manifest were skipped" in caplog.text

    (tmp_path / "manifest.csv").unlink()
    docs, rep = ingest(tmp_path)
    assert "README.md" not in set(docs["doc_id"])
    assert rep.set_index("path").loc["README.md", "status"] == "skipped"


def test_pdf_library_messages_name_the_file(tmp_path, caplog):
    """pypdf logs "EOF marker not found" naming no file: the message goes into that file's report line."""
    import io
    import logging

    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    buf = io.BytesIO()
    w.write(buf)
    data = buf.getvalue()
    write(tmp_path / "zh/broken.pdf", data[: data.rfind(b"%%EOF")])
    with caplog.at_level(logging.WARNING):
        _, rep = ingest(tmp_path)
    reason = rep.set_index("path").loc["zh/broken.pdf", "reason"]
    assert "EOF marker not found" in reason
    lines = [r.getMessage() for r in caplog.records if "EOF marker" in r.getMessage()]
    assert lines and all("zh/broken.pdf" in line for line in lines), lines
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_traditional_conversion_keeps_every_offset(monkeypatch):
    """OpenCC converts phrase by phrase; where a phrase changes length, the line is converted character by
    character, so offsets into the converted text are offsets into the original."""
    from pipeline import text as text_mod

    class Converter:  # a phrase that shortens, as some OpenCC phrase conversions could
        chars = {"臺": "台", "灣": "湾", "學": "学", "術": "术", "轉": "转", "移": "移"}

        def convert(self, s):
            s = s.replace("臺灣", "台")
            return "".join(self.chars.get(c, c) for c in s)

    monkeypatch.setattr(text_mod, "_t2s", Converter())
    original = "臺灣大學技術移轉\n學術合作"
    converted = text_mod._same_length_t2s(original)
    assert converted == "台湾大学技术移转\n学术合作" and len(converted) == len(original)


def test_traditional_titles_and_offsets(tmp_path):
    write(tmp_path / "zh/TW/a.txt", "產學合作研發成果管理辦法\n\n第一條 學校應設置技術移轉專責單位，辦理專利申請及授權等事項。\n")
    docs, _ = ingest(tmp_path)
    d = docs.iloc[0]
    assert d["converted_t2s"] and d["title"] == "產學合作研發成果管理辦法"  # the title as written
    assert len(d["text"]) == len(d["text_original"]) and "专利申请" in d["text"]


def test_hard_wrapped_lines_are_joined_so_terms_match_across_them(tmp_path):
    """A PDF's text layer or a plain-text export wraps lines inside words (孵\\n化器, joint\\nresearch centres): the
    break is joined, so the term is found; titles, headings and article starts keep their lines."""
    import subprocess
    import sys

    import pandas as pd

    from conftest import ROOT
    from pipeline.text import unwrap_lines

    zh_text = ("某省促进科技企业孵化条例\n第一章　总则\n第一条　为了促进科技成果转化，鼓励建设科技企业孵\n化器，并设立产业投资引导\n"
               "基金。\n第二条　（略）\n")
    assert unwrap_lines(zh_text) == ("某省促进科技企业孵化条例\n第一章　总则\n第一条　为了促进科技成果转化，鼓励建设科技企业孵化器，"
                                     "并设立产业投资引导基金。\n第二条　（略）\n")
    en_text = ("Research partnerships act\nUniversities and firms shall work together and may establish joint\n"
               "research centres with federal laboratories.\nThe Secretary shall report.\n")
    assert unwrap_lines(en_text) == ("Research partnerships act\nUniversities and firms shall work together and may "
                                     "establish joint research centres with federal laboratories.\n"
                                     "The Secretary shall report.\n")
    assert unwrap_lines("短\n行\n") == "短\n行\n" and unwrap_lines("no break") == "no break"

    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write(corpus / "zh/A/wrapped.txt", zh_text)
    write(corpus / "en/B/wrapped.txt", en_text)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--corpus", str(corpus), "--out", str(out),
                           "--model", "lexicon", "--jobs", "1", "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    labels = pd.read_parquet(out / "labels.parquet")
    by_doc = labels.groupby("doc_id")["node"].agg(set)
    assert {"model.incubator", "measure.government.guidance_fund"} <= by_doc["zh/A/wrapped.txt"]
    assert "model.joint_research_center" in by_doc["en/B/wrapped.txt"]



def test_a_word_hyphenated_at_a_line_end_is_joined_as_the_document_writes_it(tmp_path):
    """A typeset PDF breaks words at line ends with a hyphen ("technology trans-" / "fer"): left so, no term matched
    across the break. A hyphen the document also writes elsewhere (industry-university), or between two words it
    writes on their own and never joined, stays; a hyphen that only breaks a word goes."""
    from pipeline.text import unwrap_lines

    text = ("Promoting technology transfer between industry and universities\n"
            "Each university shall set up an office for technology trans-\n"
            "fer and report on industry-university cooperation. The office shall support industry-\n"
            "university projects and research-based firms, and support commer-\n"
            "cialization of results of research that is based on public funds, including research-\n"
            "based spin-offs.\n")
    joined = unwrap_lines(text)
    assert "office for technology transfer and report" in joined
    assert "support industry-university projects" in joined
    assert "support commercialization of results" in joined
    assert "research-based spin-offs." in joined
    assert joined.startswith("Promoting technology transfer between industry and universities\n")


def test_a_compound_broken_before_a_capital_keeps_its_hyphen_and_its_line(tmp_path):
    """"Anti-" / "Corruption" at a line's end: the line stayed broken ("Anti- Corruption" to the classifier and in
    every quote), as wraps are joined only before a lower-case letter. After a hyphen a capital continues the
    compound; a line opening on a capital after a full stop still stands (a list, a new sentence)."""
    from pipeline.text import unwrap_lines

    text = ("A Framework for Cooperation\n"
            "The Department shall support Sino-American and European Anti-\n"
            "Corruption programmes for research partnerships and joint laboratories.\n"
            "Universities may apply.\n")
    joined = unwrap_lines(text)
    assert "European Anti-Corruption programmes" in joined
    assert "laboratories.\nUniversities may apply." in joined


def test_an_article_numbered_in_full_width_digits_keeps_its_line_after_a_wrapped_length_line():
    """Ingest's wrap joining, segmentation and the Word reader share one article-number pattern: 第１２条 (full-width
    digits, as some exports write them) is an article to the segmenter, so joining must not run it into the line
    before, as it did while the wrap check knew only half-width digits."""
    from pipeline.segment import ARTICLE
    from pipeline.text import unwrap_lines

    text = "某省科技条例\n第１１条　鼓励高等学校与企业联合建立研究开发机构并共享科研设施\n第１２条　（略）\n"
    assert unwrap_lines(text) == text
    assert ARTICLE.match("第１２条　（略）") and ARTICLE.match("第十条之一 （略）")

def test_a_quote_never_closed_in_the_manifest_is_an_error_naming_its_line(tmp_path, caplog):
    """A stray quote swallowed every later row into one cell: their files were reported as not listed, and the
    only hint was a field count. A cell holding a line break between closed quotes (Excel writes those) is
    read; a row whose quoted cell runs over lines and has the wrong field count says where the cell ends."""
    import logging

    write(tmp_path / "CN/a.txt", ZH)
    write(tmp_path / "CN/b.txt", ZH + "乙")
    write(tmp_path / "US/c.txt", "The Secretary shall report on technology transfer.")
    write(tmp_path / "manifest.csv", "path,region,lang,title,date\nCN/a.txt,CN,zh,甲,2021-01-01\n"
          'CN/b.txt,CN,zh,"Made in China 2025 plan,2015-05-08\nUS/c.txt,US,en,Innovation Act,2019-01-01\n')
    with pytest.raises(ConfigError, match=r"manifest.csv line 3: manifest has a quote \(\"\) that is never closed"):
        ingest(tmp_path)
    write(tmp_path / "manifest.csv", 'path,region,lang\nCN/a.txt,CN,"zh\nCN/b.txt,CN,zh\nUS/c.txt,US,en\n')
    with pytest.raises(ConfigError, match=r"manifest.csv line 2: .*never closed"):
        ingest(tmp_path)

    write(tmp_path / "manifest.csv", 'path,region,lang,title\nCN/a.txt,CN,zh,"two\nlines"\nCN/b.txt,CN,"zh\n'
          'US/c.txt,US,en,"x"\n')
    with caplog.at_level(logging.WARNING):
        docs, _ = ingest(tmp_path)
    assert docs.set_index("doc_id").loc["CN/a.txt", "title"].split() == ["two", "lines"]
    assert "manifest.csv line 4: 3 fields where the header has 4 (a quoted cell runs on to line 5" in caplog.text


def test_a_listed_file_that_is_not_read_is_warned_about_with_the_true_reason(tmp_path, caplog):
    """Each of these was reported "listed in manifest.csv but not found", or skipped without a warning."""
    import logging

    write(tmp_path / "CN/a.txt", ZH)
    write(tmp_path / "CN/b.txt", ZH + "乙")
    write(tmp_path / ".hidden/h.txt", ZH + "丙")
    write(tmp_path / "CN/sub/c.txt", ZH + "丁")
    write(tmp_path / "CN/old.doc", b"\xd0\xcf\x11\xe0")
    write(tmp_path / "CN/doc.rtf", "{\\rtf1 x}")
    write(tmp_path / "manifest.csv", "path,region,lang,date\nCN/b.txt,CN,zh,2019-02-29\n.hidden/h.txt,CN,zh,\n"
          f"CN/sub,CN,zh,\nCN/sub/c.txt,CN,zh,\nCN/old.doc,CN,zh,\nCN/doc.rtf,CN,zh,\n{tmp_path / 'CN/a.txt'},CN,zh,\n")
    with caplog.at_level(logging.WARNING):
        _, rep = ingest(tmp_path)
    rep = rep.set_index("path")
    warned = {r.getMessage().split(": ", 1)[0]: r.getMessage() for r in caplog.records}
    assert "is not a date on the calendar (no such month or day)" in rep.loc["CN/b.txt", "reason"]
    assert rep.loc[".hidden/h.txt", "status"] == "skipped"
    assert "not read: it is in '.hidden', a folder not entered (hidden folder" in warned[".hidden/h.txt"]
    assert rep.loc["CN/sub", "status"] == "failed" and "is a folder" in warned["CN/sub"]
    for name in ("CN/old.doc", "CN/doc.rtf"):
        assert rep.loc[name, "status"] == "skipped"
        assert "unsupported file type" in warned[name] and "the types read are .txt, .md" in warned[name]
    absolute = str(tmp_path / "CN/a.txt")
    assert rep.loc[absolute, "status"] == "failed"
    assert warned[absolute].endswith("with an absolute path; paths there are relative to the corpus folder "
                                     "(write 'CN/a.txt')")


def test_titles_and_manifest_values_are_cleaned_as_text_is(tmp_path):
    """An HTML title kept ESC, a zero-width space and the U+FFFD of &#0;; a manifest title kept its line break,
    tab and ESC, a region name its BEL: all reached the CSVs and the reports."""
    write(tmp_path / "CN/page.html", "<html><head><title>实体&#0;&#x1b;&#x200b;标题</title></head>"
                                     f"<body><p>{ZH}</p></body></html>")
    write(tmp_path / "CN/a.txt", ZH + "甲")
    write(tmp_path / "manifest.csv", 'path,region,region_name,lang,title,note\nCN/page.html,CN,,zh,,\n'
          'CN/a.txt,CN\u200b,\x07bell  name,zh,"甲\n第二行\t标题\x1b",a\x1bb\n')
    docs, _ = ingest(tmp_path)
    docs = docs.set_index("doc_id")
    assert docs.loc["CN/page.html", "title"] == "实体标题"
    a = docs.loc["CN/a.txt"]
    assert (a["title"], a["region"], a["region_name"]) == ("甲 第二行 标题", "CN", "bell name")
    assert a["extra"] == '{"note": "ab"}'



def test_a_region_code_written_over_two_lines_is_one_line_and_said(tmp_path, caplog):
    """A quoted manifest cell holding a line break made region "T\nW" a region of its own, kept with the line
    break in the CSVs; a region or lang code is read as one line, and the run says so, naming the line."""
    import logging

    write(tmp_path / "TW/a.txt", ZH)
    write(tmp_path / "manifest.csv", 'path,region,lang\nTW/a.txt,"T\nW",zh\n')
    with caplog.at_level(logging.WARNING):
        docs, _ = ingest(tmp_path)
    assert docs["region"].tolist() == ["T W"]
    assert "manifest.csv line 2: region 'T\\nW' holds a line break" in caplog.text

def test_terminal_escape_sequences_go_whole():
    """A text or title holding a terminal's colour code kept '[31m' once its ESC was dropped."""
    from pipeline.text import normalise

    assert normalise("科技\x1b[31m红色\x1b[0m条例 \x1b[2J清屏") == "科技红色条例 清屏"
    assert normalise("[31m is text without its ESC") == "[31m is text without its ESC"


def test_an_empty_file_of_any_type_is_skipped_as_empty(tmp_path):
    """A 0-byte .docx or .pdf (a download that failed) was 'failed: not a readable .docx (BadZipFile)' or 'not a
    readable PDF (EmptyFileError: ...)', where an empty .txt is 'skipped: empty file'."""
    for name in ("a.txt", "b.html", "c.docx", "d.pdf"):
        write(tmp_path / "CN" / name, b"")
    write(tmp_path / "CN/e.txt", ZH)
    _, rep = ingest(tmp_path)
    rep = rep.set_index("path")
    for name in ("a.txt", "b.html", "c.docx", "d.pdf"):
        assert tuple(rep.loc["CN/" + name, ["status", "reason"]]) == ("skipped", "empty file"), name


def test_a_doc_or_protected_docx_named_docx_says_what_it_is(tmp_path):
    """A Word 97-2003 .doc renamed .docx, or a .docx saved with a password (both OLE compound files), was
    'not a readable .docx (BadZipFile)': nothing said what the file was or what to do."""
    write(tmp_path / "CN/protected.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)
    write(tmp_path / "CN/a.txt", ZH)
    _, rep = ingest(tmp_path)
    status, reason = rep.set_index("path").loc["CN/protected.docx", ["status", "reason"]]
    assert status == "failed"
    assert "Word 97-2003" in reason and "password-protected" in reason and "save it as .docx" in reason


def test_a_docx_cut_off_says_it_is_damaged(tmp_path):
    """A .docx whose download or save did not finish (the zip archive without its end) was only 'not a readable
    .docx (BadZipFile)'."""
    import io

    import docx

    buf = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("第一条 为了促进科技成果转化，制定本条例。")
    d.save(buf)
    write(tmp_path / "CN/cut.docx", buf.getvalue()[: len(buf.getvalue()) // 2])
    write(tmp_path / "CN/other.docx", b"plain bytes, not a zip archive at all" * 10)
    write(tmp_path / "CN/a.txt", ZH)
    _, rep = ingest(tmp_path)
    rep = rep.set_index("path")
    assert rep.loc["CN/cut.docx", "status"] == "failed" and "cut off" in rep.loc["CN/cut.docx", "reason"]
    assert "not a zip archive" in rep.loc["CN/other.docx", "reason"]


def _numbered_docx(path, paragraphs):
    """A .docx whose paragraphs (ilvl, numId, text) are numbered by Word: list 1 numbers chapters 第%1章 at level 0
    and articles 第%2条 at level 1, on through the chapters; list 2 is list 1 with its articles restarted at 1."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    d = docx.Document()
    numbering = d.part.numbering_part.element
    numbering.insert(0, parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="70"><w:multiLevelType w:val="multilevel"/>'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="第%1章"/>'
        '<w:suff w:val="space"/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlRestart w:val="0"/>'
        '<w:lvlText w:val="第%2条"/><w:suff w:val="space"/></w:lvl></w:abstractNum>'))
    numbering.insert(0, parse_xml(  # a list whose level shows nothing (Word adds no number and no tab)
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="80"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
        '<w:numFmt w:val="decimal"/><w:lvlText w:val=""/></w:lvl></w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="71"><w:abstractNumId w:val="70"/></w:num>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="73"><w:abstractNumId w:val="80"/></w:num>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="72"><w:abstractNumId w:val="70"/>'
                               '<w:lvlOverride w:ilvl="1"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'))
    for ilvl, num_id, text in paragraphs:
        p = d.add_paragraph(text)
        if num_id is not None:
            p._p.get_or_add_pPr().append(parse_xml(
                f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>'))
    d.save(path)


def test_docx_articles_numbered_by_word_keep_their_numbers(tmp_path):
    """A regulation drafted in Word often numbers its articles with a list (第%1条): the number is not in the
    paragraph's text, and python-docx reads none. The document had no articles: every passage was cited ¶ n."""
    from pipeline.segment import segment_document

    (tmp_path / "CN-X").mkdir()
    _numbered_docx(tmp_path / "CN-X/条例.docx", [
        (0, None, "某市促进产学研合作条例"),
        (0, 71, "总则"),
        (1, 71, "为了促进产学研合作，制定本条例。"),
        (1, 71, "鼓励企业与高等学校共建联合实验室。"),
        (0, 71, "保障措施"),
        (1, 71, "市人民政府设立专项资金，对产学研合作项目给予补助。"),
        (0, 0, "（numId 0: numbering switched off）"),
        (1, 72, "附件的第一条，重新编号。"),
        (0, 73, "不显示编号的段落"),
    ])
    docs, _ = ingest(tmp_path)
    doc = docs.iloc[0]
    assert doc["text"].split("\n\n") == [
        "某市促进产学研合作条例", "第一章 总则", "第一条 为了促进产学研合作，制定本条例。",
        "第二条 鼓励企业与高等学校共建联合实验室。", "第二章 保障措施", "第三条 市人民政府设立专项资金，对产学研合作项目给予补助。",
        "（numId 0: numbering switched off）", "第一条 附件的第一条，重新编号。", "不显示编号的段落"]
    articles = [(p["label"], p["heading_path"]) for p in segment_document(doc.to_dict()) if p["kind"] == "article"]
    assert articles[:3] == [("第一条", "第一章 总则"), ("第二条", "第一章 总则"), ("第三条", "第二章 保障措施")]


def test_a_web_pages_menu_and_footer_are_not_the_documents_text(tmp_path):
    """A government site's page: its menu (<nav>) was read as the document's preamble and coded (the menu item
    联合实验室 labelled the document), and the page's footer of links ran on in the last article. An article's own
    footer (its issuer) is the document's."""
    write(tmp_path / "CN/page.html", """<html><head><meta charset="utf-8"><title>某市科技局</title></head><body>
<nav><ul><li>首页</li><li>产学研合作</li><li>联合实验室</li></ul></nav>
<article><h1>某市促进科技成果转化若干规定</h1>
<p>第一条 为促进科技成果转化，制定本规定。</p>
<p>第二条 本规定自2021年1月1日起施行。</p>
<footer>某市人民政府</footer></article>
<aside>相关链接：校企共建联合实验室申报</aside>
<footer><p>相关链接：产学研合作专栏</p><p>版权所有 某市科技局</p></footer>
</body></html>""")
    docs, _ = ingest(tmp_path)
    assert docs.iloc[0]["text"].split("\n\n") == [
        "某市促进科技成果转化若干规定", "第一条 为促进科技成果转化，制定本规定。", "第二条 本规定自2021年1月1日起施行。", "某市人民政府"]


def test_manifest_column_names_in_any_case(tmp_path):
    """A manifest typed in Excel as "Path,Region,Lang,Title" stopped the run: 'lacks required column(s) path,
    region, lang (... known columns among them: none)'. Other columns keep their names."""
    write(tmp_path / "docs/a.txt", ZH)
    write(tmp_path / "manifest.csv", "Path,Region,LANG,Title,Source URL\ndocs/a.txt,CN-BJ,zh,甲办法,http://x\n")
    docs, rep = ingest(tmp_path)
    doc = docs.iloc[0]
    assert (doc["region"], doc["lang"], doc["title"]) == ("CN-BJ", "zh", "甲办法")
    assert doc["extra"] == '{"Source URL": "http://x"}'


def test_markdown_front_matter_gives_the_title_and_is_not_text(tmp_path):
    """Markdown saved from a web page opens with YAML front matter: its title was '---' and 'title: …' / 'source:
    …' were the document's preamble. A '---' rule that opens a text without YAML between stays text."""
    write(tmp_path / "CN/clipped.md", "---\r\ntitle: 某市促进产学研合作办法\r\nsource: http://example.gov.cn/1.html\r\n"
                                      "---\r\n\r\n" + ZH + "\r\n")
    write(tmp_path / "CN/rule.md", "---\n\n某规定\n\n---\n\n第一条 鼓励高等学校设立技术转移机构。\n")
    docs, _ = ingest(tmp_path)
    docs = docs.set_index("doc_id")
    assert docs.loc["CN/clipped.md", "title"] == "某市促进产学研合作办法"
    assert docs.loc["CN/clipped.md", "text"] == ZH
    assert docs.loc["CN/rule.md", "text"].startswith("---\n\n某规定")


def test_a_manifest_path_differing_in_letter_case_says_so(tmp_path):
    """A manifest written on Windows or macOS (file names there ignore case) lists a/one.txt for a/One.txt: the
    row was 'listed in manifest.csv but not found', and with no row matching, the run stopped saying the manifest
    lists no file that is there, although every file was."""
    write(tmp_path / "a/One.txt", ZH)
    write(tmp_path / "manifest.csv", "path,region,lang\na/one.txt,CN,zh\n")
    with pytest.raises(ConfigError, match=r"'a/one.txt' differs only in letter case from the file 'a/One.txt'"):
        ingest(tmp_path)
    write(tmp_path / "a/two.txt", ZH + "\n第二条 本办法自公布之日起施行。")
    write(tmp_path / "manifest.csv", "path,region,lang\na/one.txt,CN,zh\na/two.txt,CN,zh\n")
    _, rep = ingest(tmp_path)
    status, reason = rep.set_index("path").loc["a/one.txt", ["status", "reason"]]
    assert status == "failed" and "letter case differs from the file 'a/One.txt'" in reason


def test_pdf_lines_wrapped_before_a_capitalised_word_are_joined(tmp_path):
    """A PDF's text layer breaks lines where the page did; a break before a lowercase word was joined, one before
    a capitalised word was not: § 3710(b)(1) was three passages cited alike, and "Office of Research and
    Technology / Applications" matched no term. A heading or a paragraph's last line, shorter, stays a line."""
    from pipeline.segment import segment_document

    page = ["Sec. 3710. Utilization of Federal technology",
            "(a) Policy",
            "(1) It is the continuing responsibility of the Federal Government to ensure the full",
            "use of the results of the Nation's Federal investment in research and development.",
            "(b) Establishment of Research and Technology Applications Offices",
            "(1) Each Federal laboratory shall establish an Office of Research and Technology",
            "Applications. Laboratories having existing organizational structures which perform",
            "the functions of this section may elect to combine the Office of Research and",
            "Technology Applications within the existing organization."]
    write(tmp_path / "US/3710.pdf", _pdf_pages([[line.replace("Sec.", "\\247") for line in page]]))
    docs, _ = ingest(tmp_path)
    doc = docs.iloc[0].to_dict()
    cited = [(p["label"], p["text"]) for p in segment_document(doc) if p["label"] == "§ 3710(b)(1)"]
    assert cited == [("§ 3710(b)(1)", (
        "(1) Each Federal laboratory shall establish an Office of Research and Technology Applications. Laboratories "
        "having existing organizational structures which perform the functions of this section may elect to combine "
        "the Office of Research and Technology Applications within the existing organization."))]
    assert "(b) Establishment of Research and Technology Applications Offices\n(1)" in doc["text"]
    # a heading, shorter than the page's lines, is not joined to the paragraph under it
    from pipeline.formats import pdf_pages_text

    report = ["Knowledge Exchange Partnerships Framework", "2. Funding",
              "The Council will provide matched funding of up to fifty per cent of the cost of each",
              "partnership. Applications are assessed on the quality of the collaboration plan."]
    assert pdf_pages_text(["\n".join(report)]) == "\n".join(report)
    # nor is the first line of the first page, the title, however long
    long_title = ["A Framework for Knowledge Exchange Partnerships between Universities and Businesses",
                  "Department for Science, Innovation and Technology"]
    assert pdf_pages_text(["\n".join(long_title)]) == "\n".join(long_title)


def test_a_web_page_saved_as_pdf_or_docx_says_so(tmp_path):
    """A download that returned a web page (an error or login page) saved as .docx was 'not a readable .docx
    (BadZipFile)', and as .pdf a pypdf stream error: neither said what the file was."""
    page = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
    write(tmp_path / "CN/a.docx", page)
    write(tmp_path / "CN/b.pdf", b'<?xml version="1.0"?>\n' + page)
    write(tmp_path / "CN/c.txt", ZH)
    _, rep = ingest(tmp_path)
    rep = rep.set_index("path")
    for name, kind in (("a.docx", ".docx"), ("b.pdf", "PDF")):
        status, reason = rep.loc["CN/" + name, ["status", "reason"]]
        assert status == "failed" and reason.startswith(f"not a readable {kind}: the file is a web page (HTML)"), name


def _pdf_glyph_by_glyph(lines: list[str], next_line: bool = False) -> bytes:
    """A one-page PDF that draws each character of `lines` (Chinese) as a text object of its own, as some PDF
    producers do, in the Adobe CJK font STSong-Light (not embedded; its UCS-2 encoding maps codes to text); with
    `next_line`, each also moves to the next line after its glyph (T*), which pypdf reads as a line break."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import (ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject,
                               TextStringObject)

    w = PdfWriter()
    cid = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/CIDFontType0"),
        NameObject("/BaseFont"): NameObject("/STSong-Light"),
        NameObject("/CIDSystemInfo"): DictionaryObject({
            NameObject("/Registry"): TextStringObject("Adobe"), NameObject("/Ordering"): TextStringObject("GB1"),
            NameObject("/Supplement"): NumberObject(0)})})
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type0"),
        NameObject("/BaseFont"): NameObject("/STSong-Light"), NameObject("/Encoding"): NameObject("/UniGB-UCS2-H"),
        NameObject("/DescendantFonts"): ArrayObject([w._add_object(cid)])})
    page = w.add_blank_page(width=600, height=800)
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F2"): w._add_object(font)})})
    ops = []
    for row, line in enumerate(lines):
        for col, ch in enumerate(line):
            ops.append(f"BT 1 0 0 1 {72 + 14 * col} {760 - 24 * row} Tm /F2 12 Tf 14 TL <{ch.encode('utf-16-be').hex()}> Tj"
                       + (" T* ET" if next_line else " ET"))
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode())
    page[NameObject("/Contents")] = w._add_object(content)
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_a_pdf_drawing_each_chinese_character_on_its_own_is_read_line_by_line(tmp_path):
    """pypdf gives each character of such a PDF a line ("第\\n一\\n条\\n……"): every character was a passage of its
    own, no article was found, and the file was reported 'ok'."""
    from pipeline.segment import segment_document

    lines = ["某市促进产学研合作办法", "第一条　鼓励企业与高等学校共建联合实验室。", "第二条　本办法自2020年1月1日起施行。"]
    write(tmp_path / "CN/spaced.pdf", _pdf_glyph_by_glyph(lines))
    write(tmp_path / "CN/one_a_line.pdf", _pdf_glyph_by_glyph([line.replace("某市", "某县") for line in lines],
                                                             next_line=True))
    docs, _ = ingest(tmp_path)
    for doc in docs.to_dict("records"):
        assert doc["text"] == "\n".join(lines).replace("某市", "某县" if "line" in doc["doc_id"] else "某市")
        assert [p["label"] for p in segment_document(doc) if p["kind"] == "article"] == ["第一条", "第二条"]
    assert len(docs) == 2


def test_html_article_numbers_set_apart_by_markup_are_articles(tmp_path):
    """<b>第二条</b>鼓励……: the page sets the number apart in bold, with no space after it. Read as "第二条鼓励……" it
    was no article, and 第二条 and 第三条 ran on in 第一条. A number in bold inside a sentence stays as it is."""
    from pipeline.segment import segment_document

    write(tmp_path / "CN/page.html", "<html><body><h1>某市促进产学研合作办法</h1>"
                                     "<p><strong>第一条</strong>为了促进产学研合作，制定本办法。</p>"
                                     "<p><b>第二条</b>鼓励企业与高等学校共建联合实验室，依照<b>第十条</b>规定给予补助。</p>"
                                     "<div><span class=\"num\">第三条</span><span>　本办法自发布之日起施行。</span></div>"
                                     "</body></html>")
    docs, _ = ingest(tmp_path)
    doc = docs.iloc[0].to_dict()
    assert [p["text"] for p in segment_document(doc) if p["kind"] == "article"] == [
        "第一条 为了促进产学研合作，制定本办法。", "第二条 鼓励企业与高等学校共建联合实验室，依照第十条规定给予补助。",
        "第三条\u3000本办法自发布之日起施行。"]


def test_docx_article_numbers_in_runs_of_their_own_are_articles(tmp_path):
    """A Word paragraph whose number is a bold run of its own, with no space after it ("第二条" + "鼓励……"), was
    no article: the articles after it ran on in the one before. A number inside a sentence stays as it is."""
    import docx

    from pipeline.segment import segment_document

    d = docx.Document()
    d.add_paragraph("某市促进产学研合作办法")
    for number, body in (("第一条", "为了促进产学研合作，制定本办法。"), ("第二条", "鼓励企业与高等学校共建联合实验室。"),
                         ("第三条", "依照")):
        p = d.add_paragraph()
        p.add_run(number).bold = True
        p.add_run(body)
    p.add_run("第十条")
    p.add_run("规定给予补助。")
    (tmp_path / "CN").mkdir()
    d.save(tmp_path / "CN/measures.docx")
    docs, _ = ingest(tmp_path)
    doc = docs.iloc[0].to_dict()
    assert [p["text"] for p in segment_document(doc) if p["kind"] == "article"] == [
        "第一条 为了促进产学研合作，制定本办法。", "第二条 鼓励企业与高等学校共建联合实验室。", "第三条 依照第十条规定给予补助。"]


def test_manifest_dates_as_spreadsheets_and_chinese_writers_give_them():
    """A spreadsheet saves a date cell with its time ("2019-03-02 00:00:00"), and a Chinese manifest may write the
    date in numerals as the document's header does: both were refused as no date."""
    from pipeline.dates import manifest_date

    assert manifest_date("2019-03-02 00:00:00") == "2019-03-02"
    assert manifest_date("2019/3/2 12:30") == "2019-03-02"
    assert manifest_date("二〇一九年三月二日") == "2019-03-02"
    assert manifest_date("2019年3月") == "2019-03"
    assert manifest_date("二〇一九年十三月二日") == manifest_date("12:30") == manifest_date("2019-13-01 00:00") == ""


def test_manifest_dates_typed_as_people_write_them():
    """A year typed as a Chinese writer types it (2021年), a day with 号, and an English date with the month's
    name (March 5, 2021; 5 March 2021), which a text's header is read in: each was refused as "not a date from 1900
    to next year", which it is, and the document went undated."""
    from pipeline.dates import document_date, manifest_date

    assert manifest_date("2021年") == "2021"
    assert manifest_date("2021年3月5号") == "2021-03-05"
    assert manifest_date("March 5, 2021") == manifest_date("5 March 2021") == "2021-03-05"
    assert manifest_date("Mar. 5 2021") == "2021-03-05"
    assert manifest_date("1936年") == "1936" and manifest_date("5 May 1936") == "1936-05-05"  # the manifest's range
    assert manifest_date("February 30, 2021") == manifest_date("1890年") == manifest_date("March 5, 2099") == ""
    # a value in no form read, with a year in range, is not said to be out of range
    problem = document_date({"date": "2021年春"}, "a.md", "", "zh")[2]
    assert "not a date from" not in problem and "YYYY-MM-DD" in problem, problem


def test_a_manifest_date_before_1949_in_chinese_numerals_is_read_as_in_figures():
    """The manifest takes dates from 1900 on (a text's are read from 1949, where earlier years are citations):
    1936年5月1日 was read, but the same date in numerals (一九三六年五月一日, 民国二十五年五月一日) was refused as "not a
    date from 1900 to next year", which it is."""
    from pipeline.dates import document_date, manifest_date

    assert manifest_date("一九三六年五月一日") == manifest_date("民国二十五年五月一日") == manifest_date("1936年5月1日") == "1936-05-01"
    assert manifest_date("一八九〇年五月一日") == manifest_date("二〇二一年二月三十日") == ""
    assert "not a date on the calendar" in document_date({"date": "二〇二一年二月三十日"}, "a.md", "", "zh")[2]


def test_a_manifest_date_in_a_taiwanese_year_written_in_traditional_characters_is_read():
    """A manifest typed in Taiwan writes 民國110年3月5日 (or 中華民國…): the manifest's values are not converted to
    Simplified as a text is, so only 民国 was read and 民國 was refused as "not a date from 1900 to next year"."""
    from pipeline.dates import manifest_date

    assert manifest_date("民國110年3月5日") == manifest_date("中華民國110年3月5日") == manifest_date("民国110年3月5日") \
        == "2021-03-05"


def test_a_manifest_date_written_day_first_or_as_a_spreadsheet_number_is_named_for_what_it_is():
    """A manifest typed in Europe writes 05/03/2021, and a date column Excel saves unformatted holds its day number
    (44260): both were refused as "not a date from 1900 to next year", which they are, and the researcher was not
    told what to change. The message now says what the value looks like; neither is guessed at (05/03 is 5 March
    or May 3)."""
    from pipeline.dates import document_date

    for value, says in (("05/03/2021", "day and month before the year"), ("5.3.2021", "day and month before the year"),
                        ("44260", "a spreadsheet's day number")):
        date, source, problem = document_date({"date": value}, "zh/A/a.md", "某办法\n\n第一条 鼓励合作。\n", "zh")
        assert (date, source) == ("", "")
        assert says in problem and "YYYY-MM-DD" in problem and "not a date from" not in problem, problem
    assert "not a date from 1900" in document_date({"date": "2099-01-01"}, "a.md", "", "zh")[2]


def test_a_manifest_date_without_a_year_is_said_to_have_none():
    """A manifest cell typed 3月5日 or March 5 (the year left out) was refused as "not a date from 1900 to 2027",
    which reads as a year out of range the researcher never wrote; it now says the value has no year."""
    from pipeline.dates import document_date

    for value in ("3月5日", "3月5号", "三月五日", "March 5", "5 March"):
        date, source, problem = document_date({"date": value}, "zh/A/a.md", "某办法\n\n第一条 鼓励合作。\n", "zh")
        assert (date, source) == ("", "")
        assert "has no year" in problem and "YYYY-MM-DD" in problem and "not a date from" not in problem, problem


def test_a_chinese_line_wrapped_at_punctuation_is_joined():
    """A PDF wraps a Chinese line wherever the page ends, also after a comma and before a comma: such breaks stayed,
    so a term could be cut ("有关法律\\n、行政法规") and a sentence split across two passages' worth of lines."""
    from pipeline.text import unwrap_lines

    text = ("某省促进科技成果转化条例\n第一条　为了促进科技成果转化，加速科学技术进步，推动经济建设和社会发展，\n"
            "根据国家和本省有关法律\n、行政法规，结合本省实际，制定本条例。\n第二条　本条例下列用语的含义：\n（一）科技成果；\n")
    assert unwrap_lines(text) == ("某省促进科技成果转化条例\n第一条　为了促进科技成果转化，加速科学技术进步，推动经济建设和社会发展，"
                                  "根据国家和本省有关法律、行政法规，结合本省实际，制定本条例。\n第二条　本条例下列用语的含义：\n（一）科技成果；\n")


def test_an_html_table_row_is_one_paragraph_as_a_word_table_row_is(tmp_path):
    """A web page's table of measures was read cell by cell, one paragraph (and passage) per cell, where a Word
    table's row is one, its cells joined by ' | '."""
    from pipeline.formats import extract_text

    page = ("<html><body><p>第一条 为了促进产学研合作，制定本办法。</p><table><tr><th>措施</th><th>内容</th></tr>"
            "<tr><td>联合实验室</td><td><p>企业与高等学校共建</p><p>给予  资助</p></td></tr>"
            "<tr><td>a<table><tr><td>inner 1</td><td>inner 2</td></tr></table></td><td>b</td></tr></table>"
            "<p>第二条 本办法自公布之日起施行。</p></body></html>")
    decoded, _ = extract_text(page.encode("utf-8"), "html")
    assert decoded.text.split("\n\n") == ["第一条 为了促进产学研合作，制定本办法。", "措施 | 内容",
                                          "联合实验室 | 企业与高等学校共建 给予 资助", "a", "inner 1 | inner 2", "b",
                                          "第二条 本办法自公布之日起施行。"]


def test_a_web_pages_title_is_the_documents_not_the_sites(tmp_path):
    """A saved government web page's <title> carries the site's name ("…条例_某市人民政府门户网站"), and a
    report named the document so. The page's own ArticleTitle (the meta tag Chinese government sites carry), its
    heading where the <title> holds it, or the <title> without the SiteName meta's site name is the title."""
    pages = {
        "a.html": "<html><head><title>某市促进产学研合作条例_某市人民政府门户网站</title></head><body>"
                  "<h1>某市人民政府</h1><h1>某市促进产学研合作条例</h1><p>第一条 为了促进产学研合作，制定本条例。</p></body></html>",
        "b.html": '<html><head><meta name="ArticleTitle" content="某市科技成果转化若干规定"><title>某市科技局</title>'
                  "</head><body><p>第一条 为促进科技成果转化，制定本规定。</p></body></html>",
        "c.html": '<html><head><meta name="SiteName" content="某省科学技术厅"><title>关于推进校企联合实验室建设的通知 - '
                  "某省科学技术厅</title></head><body><p>各有关单位：请推进校企联合实验室建设。</p></body></html>",
        "d.html": "<html><head><title>Technology Partnerships Act | Example Agency</title></head><body>"
                  "<h1>Technology Partnerships Act</h1><p>Universities and firms may form joint research centres.</p>"
                  "</body></html>",
    }
    for name, page in pages.items():
        write(tmp_path / "CN" / name, page)
    docs, _ = ingest(tmp_path)
    titles = dict(zip(docs["doc_id"].str.rsplit("/", n=1).str[-1], docs["title"]))
    assert titles == {"a.html": "某市促进产学研合作条例", "b.html": "某市科技成果转化若干规定",
                      "c.html": "关于推进校企联合实验室建设的通知", "d.html": "Technology Partnerships Act"}


def test_the_ingest_report_names_the_region_each_document_file_was_for(tmp_path):
    """A region whose only file could not be read has no document; the report names its region, so that the
    run can say the region is missing from the audit rather than leave it out unsaid."""
    write(tmp_path / "CN-ZJ/a.txt", ZH)
    write(tmp_path / "EMPTY/empty.txt", "")
    write(tmp_path / "BAD/broken.pdf", "%PDF-1.4\nnot a pdf\n")
    write(tmp_path / "CN-ZJ/README.md", "notes")
    _, rep = ingest(tmp_path)
    region = rep.set_index("path")["region"]
    assert region["CN-ZJ/a.txt"] == "CN-ZJ" and region["EMPTY/empty.txt"] == "EMPTY"
    assert region["BAD/broken.pdf"] == "BAD"
    assert region["CN-ZJ/README.md"] == ""  # notes are no document of any region
    write(tmp_path / "manifest.csv", "path,region,lang\nEMPTY/empty.txt,ZZ,zh\nCN-ZJ/a.txt,CN-ZJ,zh\nGONE/x.txt,GONE,zh\n")
    _, rep = ingest(tmp_path)
    region = rep.set_index("path")["region"]
    assert region["EMPTY/empty.txt"] == "ZZ" and region["GONE/x.txt"] == "GONE" and region["BAD/broken.pdf"] == ""


def test_a_title_hard_wrapped_with_its_text_is_read_whole(tmp_path):
    """A plain-text export wrapped at 70 characters breaks a long title too: the title was its first line,
    'Regulations of Shenzhen Municipality on Promoting', in every table and the report. A short title over a
    line of its own, and a title followed by its adoption note, stay as they are."""
    body = ("Article 1 These Regulations are formulated in order to promote coopera-\n"
            "tion among enterprises, universities and research institutes, and to\n"
            "speed up the transformation of scientific and technological results.\n")
    write(tmp_path / "SZ/wrapped.txt", "Regulations of Shenzhen Municipality on Promoting\n"
                                       "Industry-University-Research Cooperation\n\n" + body)
    write(tmp_path / "SZ/short.txt", "Knowledge Exchange White Paper\nDepartment for Science, March 2024\n\n" + body)
    write(tmp_path / "SZ/noted.txt", "Regulations of Shenzhen Municipality on Promoting Cooperation\n"
                                     "(Adopted on 20 March 2021)\n\n" + body)
    docs, _ = ingest(tmp_path)
    titles = docs.set_index("doc_id")["title"]
    assert titles["SZ/wrapped.txt"] == ("Regulations of Shenzhen Municipality on Promoting "
                                        "Industry-University-Research Cooperation")
    assert titles["SZ/short.txt"] == "Knowledge Exchange White Paper"
    assert titles["SZ/noted.txt"] == "Regulations of Shenzhen Municipality on Promoting Cooperation"


def test_an_english_translations_adoption_note_dates_it(tmp_path):
    """An English translation of a Chinese regulation states its adoption as the original does (通过: 'Adopted at
    the … Meeting … on 20 March 2021'), a note longer than 60 characters, in a plain-text export wrapped over two
    lines: the translation was undated where its original was dated. As in Chinese, only the header before the
    first article is read for it."""
    write(tmp_path / "SZ/adopted.txt",
          "Regulations of Shenzhen Municipality on Promoting Cooperation\n\n"
          "(Adopted at the 12th Meeting of the Standing Committee of the Seventh\n"
          "Shenzhen Municipal People's Congress on 20 March 2021)\n\n"
          "Article 1 These Regulations are formulated to promote cooperation.\n\n"
          "Article 2 These Regulations shall come into force on 1 July 2021.\n")
    write(tmp_path / "SZ/promulgated.txt",
          "Measures of Shenzhen Municipality for Technology Transfer\n\n"
          "(Promulgated by Decree No. 5 of the Shenzhen Municipal People's Government on June 1, 2020)\n\n"
          "Article 1 These Measures are formulated to build a system of intermediaries.\n")
    write(tmp_path / "SZ/cites.txt", "Measures of Shenzhen Municipality\n\nArticle 1 These Measures follow the "
                                     "Regulations adopted on 3 May 2010.\n\nArticle 2 Brokers shall register.\n")
    docs, _ = ingest(tmp_path)
    d = docs.set_index("doc_id")
    assert (d.loc["SZ/adopted.txt", "date"], d.loc["SZ/adopted.txt", "date_source"]) == ("2021-03-20", "text:adopted")
    assert (d.loc["SZ/promulgated.txt", "date"], d.loc["SZ/promulgated.txt", "date_source"]) == (
        "2020-06-01", "text:promulgated")
    assert d.loc["SZ/cites.txt", "date"] == ""  # a law its articles cite is not its date


def test_a_notice_dated_by_its_signature_is_dated(tmp_path):
    """A notice or an opinion states its date once, in its signature at the end (上海市科学技术委员会 / 2021年3月5日),
    as segment reads it: no header line says 印发 or 发布 with a date, so such a document, the commonest form of a
    policy, was undated and left out of the view over time. A date in the body, or a last line that is a sentence,
    dates nothing."""
    body = "关于印发《科技成果转化行动方案》的通知\n\n沪科规〔2021〕3号\n\n各区科委：\n\n一、支持建设中试基地。\n\n"
    write(tmp_path / "SH/notice.txt", body + "上海市科学技术委员会\n2021年3月5日\n")
    write(tmp_path / "SH/apart.txt", body.replace("中试", "孵化") + "上海市科学技术委员会\n\n二〇二一年三月六日\n")
    write(tmp_path / "SH/sentence.txt", body.replace("中试", "转移") + "本方案自发布之日起实施，有效期至2025年3月5日\n")
    write(tmp_path / "SH/header.txt", "某条例\n\n2017年4月20日某省人大常委会通过\n\n第一条 鼓励合作。\n\n某省人大常委会\n2018年1月1日\n")
    docs, _ = ingest(tmp_path)
    got = {k: (d, s) for k, d, s in zip(docs["doc_id"], docs["date"], docs["date_source"])}
    assert got == {"SH/notice.txt": ("2021-03-05", "text:落款"), "SH/apart.txt": ("2021-03-06", "text:落款"),
                   "SH/sentence.txt": ("", ""), "SH/header.txt": ("2017-04-20", "text:通过")}


def test_a_signature_followed_by_its_note_dates_the_notice(tmp_path):
    """The standard layout of an official document puts a note under the signature's date, （此件公开发布） or
    （此件主动公开）: such a notice was undated, as its date line was not the last, and left out of the view over
    time. The note is part of the signature; a sentence after the date still dates nothing."""
    body = "关于推进校企合作的意见\n\n一、支持高校与企业共建研发中心。\n\n"
    write(tmp_path / "SH/note.txt", body + "某市人民政府办公厅\n2022年12月30日\n\n（此件公开发布）\n")
    write(tmp_path / "SH/close.txt", body + "某市人民政府办公厅\n2022年12月30日\n（此件主动公开）\n")
    write(tmp_path / "SH/later.txt", body + "某市人民政府办公厅\n2022年12月30日\n\n本意见自发布之日起实施。\n")
    docs, _ = ingest(tmp_path)
    got = {k: (d, s) for k, d, s in zip(docs["doc_id"], docs["date"], docs["date_source"])}
    assert got == {"SH/note.txt": ("2022-12-30", "text:落款"), "SH/close.txt": ("2022-12-30", "text:落款"),
                   "SH/later.txt": ("", "")}


def test_an_amended_english_act_is_dated_by_its_latest_amendment(tmp_path):
    """An act's versions head their text as a Chinese revised law does (…修正): "Enacted March 3, 2010, as amended
    June 1, 2018". The amended version was dated by its enactment, the original's date, so the view over time took
    the two for versions of one year and kept the original in force for good: what the amendment added was never
    counted in coverage_by_year, though first_year gave it that year."""
    act = "# Technology Transfer Act\n\n{}\n\nSection 1. Universities shall license patents.\n"
    write(tmp_path / "US-MA/act.md", act.format("Enacted March 3, 2010."))
    write(tmp_path / "US-MA/act (amended).md", act.format("Enacted March 3, 2010, as amended June 1, 2018."))
    write(tmp_path / "US-MA/act (2020).md", act.format("Enacted March 3, 2010. Last amended on 5 May 2020 by "
                                                       "Chapter 12 of the Acts of 2020, and as amended 1 July 2014."))
    # another law its sections cite "as amended" on a date does not date it
    write(tmp_path / "US-MA/cites.md", "# Patent Use Act\n\nEnacted April 1, 2012.\n\nSection 1. The Patent Act, as "
                                       "amended June 1, 1984, applies to universities.\n")
    docs, _ = ingest(tmp_path)
    got = {k: (d, s) for k, d, s in zip(docs["doc_id"], docs["date"], docs["date_source"])}
    assert got == {"US-MA/act.md": ("2010-03-03", "text:enacted"),
                   "US-MA/act (amended).md": ("2018-06-01", "text:amended"),
                   "US-MA/act (2020).md": ("2020-05-05", "text:amended"),
                   "US-MA/cites.md": ("2012-04-01", "text:enacted")}


def test_an_act_amended_by_a_numbered_act_is_dated_by_that_amendment(tmp_path):
    """"Approved March 3, 2010; as amended by Act No. 5 of June 1, 2018" above an act's first section dated it by
    its approval: the full stop of "No." ended the search for the amendment's date."""
    act = "# Innovation Partnership Act\n\n{}\n\nSection 1. Universities shall license patents.\n"
    write(tmp_path / "US-MA/act.md", act.format("Approved March 3, 2010; as amended by Act No. 5 of June 1, 2018."))
    write(tmp_path / "US-MA/end.md", act.format("Approved March 3, 2011; as amended. Printed June 1, 2018."))
    docs, _ = ingest(tmp_path)
    got = {k: (d, s) for k, d, s in zip(docs["doc_id"], docs["date"], docs["date_source"])}
    assert got == {"US-MA/act.md": ("2018-06-01", "text:amended"), "US-MA/end.md": ("2011-03-03", "text:approved")}


def test_an_english_texts_own_entry_into_force_dates_it(tmp_path):
    """A state statute ends "This Act shall take effect on July 1, 2025", a UK-style regulation "These Regulations
    come into force on 1 April 2025", a strategy's header says "Published: 3 March 2024" or "Effective: January 1,
    2024": each was undated, where a Chinese text's 本条例自…起施行 dates it. Another law's entry into force does
    not date the text that mentions it."""
    write(tmp_path / "US-WA/act.txt", "AN ACT relating to research partnerships\n\nSec. 1. Grants are made.\n\n"
                                      "Sec. 2. This Act shall take effect on July 1, 2025.\n")
    write(tmp_path / "UK/regs.txt", "The Research Regulations 2025\n\n1. These Regulations come into force on\n"
                                    "1 April 2025.\n\n2. Universities must publish a policy.\n")
    write(tmp_path / "UK/strategy.txt", "Innovation Strategy\n\nPublished: 3 March 2024\n\nWe will fund research.\n")
    write(tmp_path / "US-CA/policy.txt", "Transfer Policy\n\nEffective: January 1, 2024\n\nCampuses license patents.\n")
    write(tmp_path / "UK/review.txt", "A Review\n\nThe 1980 Act, which took effect on 1 July 1980, set up grants.\n\n"
                                      "Reforms to it take effect on 1 May 2026.\n")
    docs, _ = ingest(tmp_path)
    d = docs.set_index("doc_id")
    got = {k: (d.loc[k, "date"], d.loc[k, "date_source"]) for k in d.index}
    assert got["US-WA/act.txt"] == ("2025-07-01", "text:in force")
    assert got["UK/regs.txt"] == ("2025-04-01", "text:in force")
    assert got["UK/strategy.txt"] == ("2024-03-03", "text:published")
    assert got["US-CA/policy.txt"] == ("2024-01-01", "text:Effective Date")
    assert got["UK/review.txt"][0] == ""


def test_a_long_title_from_the_text_is_cut_between_words_and_says_so(tmp_path):
    """An EU regulation's first line, its title, runs past 120 characters: it was cut inside a word ('… knowledge
    valorisation and res') in every table, the report and the document's page, with nothing saying it was cut."""
    title = ("REGULATION (EU) 2025/123 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL on a framework for knowledge "
             "valorisation and research collaboration")
    write(tmp_path / "EU/reg.txt", title + "\n\nArticle 1\nThis Regulation lays down rules.\n\n"
                                           "Article 2\nIt applies to universities.\n")
    write(tmp_path / "EU/short.txt", "A European Strategy for Research\n\nUniversities and firms work together.\n")
    docs, _ = ingest(tmp_path)
    titles = docs.set_index("doc_id")["title"]
    assert titles["EU/reg.txt"] == ("REGULATION (EU) 2025/123 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL on a "
                                    "framework for knowledge valorisation and…")
    assert titles["EU/short.txt"] == "A European Strategy for Research"


def test_radical_code_points_of_a_pdf_text_layer_are_read_as_the_characters_shown(tmp_path):
    """A PDF printed by Chrome (and other makers) with a CJK font maps some characters to the radicals' code points
    in its text layer: 人民政府 and 部门 read 人⺠政府 and 部⻔ (U+2EA0, U+2ED4), which NFKC leaves as they are
    (it folds only the Kangxi radicals, U+2F00-U+2FD5). Every term with 民, 门, 长, 马… (人民政府, 主管部门) then
    missed, and the evidence quoted characters no search for the document's words finds."""
    write(tmp_path / "jd/reg.txt", "江东省条例\n第一条　县级以上人⺠政府科学技术主管部⻔应当支持⻓期合作。\n")
    docs, _ = ingest(tmp_path)
    assert docs.set_index("doc_id").loc["jd/reg.txt", "text"] == \
        "江东省条例\n第一条　县级以上人民政府科学技术主管部门应当支持长期合作。"
    assert normalise("⻢⻋⻔⺠⼈") == "马车门民人"  # the Kangxi radical ⼈ (U+2F08), as NFKC folded it before


def test_a_government_page_built_of_divs_keeps_its_menu_and_footer_out_of_the_articles(tmp_path):
    """Chinese government sites (TRS, Hanweb) build the page of <div>s, with no <nav>, <footer> or <article>: the
    menu and breadcrumb were the regulation's preamble and coded, and 打印本页 / 关闭窗口 / 版权所有 / ICP备 ran on in
    the last article. The document is what stands from its title (the page's last <h1> before the articles) to the
    end of the element that holds every article; a page of Traditional articles (第一條) too."""
    for name, art in (("page.html", "条"), ("tw.html", "條")):
        write(tmp_path / "CN" / name, f"""<html><head><meta charset="utf-8"><title>江东省促进产学研合作条例_门户网站</title>
</head><body>
<div class="top"><a>首页</a> <a>政务公开</a> <a>产学研合作专栏</a></div>
<div class="crumb">当前位置：首页 &gt; 政务公开 &gt; 地方性法规</div>
<div class="con"><h1>江东省促进产学研合作条例{name}</h1>
<div class="info">发布日期：2021-03-30　字号：<a>大</a> <a>中</a> <a>小</a></div>
<div class="TRS_Editor"><p>（2021年3月26日通过）</p>
<p><strong>第一{art}</strong>　为了推动联合实验室建设，制定本条例。</p>
<p><strong>第二{art}</strong>　本条例自2021年7月1日起施行。</p></div>
<div class="tools"><a>打印本页</a> <a>关闭窗口</a></div></div>
<div class="foot">主办：江东省人民政府办公厅　版权所有　江ICP备05012345号</div>
</body></html>""")
    docs, _ = ingest(tmp_path)
    texts = docs.set_index("doc_id")["text_original"].where(lambda s: s != "", docs.set_index("doc_id")["text"])
    assert texts["CN/page.html"].split("\n\n") == [
        "江东省促进产学研合作条例page.html", "发布日期：2021-03-30　字号：大 中 小", "（2021年3月26日通过）",
        "第一条　为了推动联合实验室建设，制定本条例。", "第二条　本条例自2021年7月1日起施行。"]
    assert texts["CN/tw.html"].split("\n\n")[-1] == "第二條　本条例自2021年7月1日起施行。"


def test_a_clipped_pages_title_is_the_documents_not_the_sites(tmp_path):
    """A web clipper saves the page's <title> in the front matter, the site's name with it ("…条例 - 江东省人民政府"),
    and every report named the document so; the page's own heading, which that title holds, is the title, as for
    a saved web page. A heading the title does not hold leaves the title as it is."""
    write(tmp_path / "CN/clip.md", "---\ntitle: \"江东省科技成果转化条例 - 江东省人民政府\"\nsource: https://x.gov.cn/1.html\n"
                                   "---\n\n# 江东省科技成果转化条例\n\n**第一条**　为了促进科技成果转化，制定本条例。\n")
    write(tmp_path / "CN/other.md", "---\ntitle: 江东省技术市场条例\n---\n\n# 目录\n\n第一条　为了规范技术市场，制定本条例。\n")
    docs, _ = ingest(tmp_path)
    titles = docs.set_index("doc_id")["title"]
    assert titles["CN/clip.md"] == "江东省科技成果转化条例" and titles["CN/other.md"] == "江东省技术市场条例"


def test_a_page_laid_out_in_a_table_keeps_its_paragraphs(tmp_path):
    """Older government sites lay the page out in a <table>, the whole regulation in one cell (or in a cell beside
    the menu's): read as a table row, its paragraphs were joined into one line, chapters, articles and items alike
    (第一條…。 第二條…). A row of one cell, or a cell holding articles, is the page's layout, not a table's row."""
    from pipeline.formats import extract_text

    arts = "<p>第一章　总则</p><p>第一条　为了促进产学研合作，制定本办法。</p><p>第二条　鼓励共建联合实验室：</p><p>（一）共建平台；</p>"
    for page in (f"<html><body><table><tr><td>{arts}</td></tr></table></body></html>",
                 f"<html><body><table><tr><td><p>首页</p></td><td>{arts}</td></tr></table></body></html>"):
        decoded, _ = extract_text(page.encode("utf-8"), "html")
        assert decoded.text.split("\n\n")[-4:] == ["第一章　总则", "第一条　为了促进产学研合作，制定本办法。",
                                                   "第二条　鼓励共建联合实验室：", "（一）共建平台；"]


def test_a_government_page_whose_title_is_no_h1_starts_at_its_title(tmp_path):
    """Many sites set the document's title in a <div class="title">, not an <h1>: the menu above it was kept and
    coded as the regulation's preamble. The page's last element before the articles whose text is the page's
    title (its ArticleTitle meta tag here) starts the document; a breadcrumb naming it too does not."""
    from pipeline.formats import extract_text

    page = """<html><head><meta charset="utf-8"><meta name="ArticleTitle" content="江东省某条例"><title>x</title></head>
<body><div class="nav">首页 产学研合作专栏 联合实验室</div><div class="crumb">首页 &gt; 江东省某条例</div>
<div class="main"><div class="title">江东省某条例</div><div id="zoom"><p>&nbsp;&nbsp;第一条&nbsp;&nbsp;为了促进合作，制定本条例。<br/>
&nbsp;&nbsp;第二条　本条例自2020年1月1日起施行。</p></div><div class="share">分享到：微信 微博</div></div></body></html>"""
    decoded, title = extract_text(page.encode("utf-8"), "html")
    assert title == "江东省某条例"
    assert decoded.text.split("\n\n")[0] == "江东省某条例" and "首页" not in decoded.text and "分享" not in decoded.text


def test_words_lock_file_beside_an_open_document_is_no_failed_document(tmp_path, caplog):
    """Word leaves a lock file (~$条例.docx, 162 bytes of the user's name) beside a document open in it: a corpus
    copied while one was open reported it as a document that failed ('not a readable .docx'), with a warning, and
    the summary counted a failed file. It is skipped, saying what it is, with or without a manifest."""
    import logging

    write(tmp_path / "jd/条例.txt", ZH)
    (tmp_path / "jd/~$条例.docx").write_bytes(b"\x05user" + b"\x00" * 157)
    with caplog.at_level(logging.WARNING):
        docs, rep = ingest(tmp_path)
    row = rep.set_index("path").loc["jd/~$条例.docx"]
    assert row["status"] == "skipped" and "lock file" in row["reason"] and "~$" not in caplog.text
    write(tmp_path / "manifest.csv", "path,region,lang\njd/条例.txt,jd,zh\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        docs, rep = ingest(tmp_path)
    assert "lock file" in rep.set_index("path").loc["jd/~$条例.docx", "reason"] and "~$" not in caplog.text


def test_taiwan_law_database_header_gives_the_title_and_the_latest_revision_date(tmp_path):
    """A law saved from Taiwan's national law database opens with its fields: 法規名稱：…, 公發布日：民國 98 年 12 月 30
    日, 修正日期：民國 105 年 05 月 11 日. The title read '法規名稱：產學合作實施辦法'; 修正日期 was no date (the revision
    date is given before its word elsewhere), so a law revised once had no date, and one first published in 98
    was dated then as a revision ('…30 日' and the next line's '修正日期' joined as one)."""
    write(tmp_path / "tw/a.txt", "法規名稱：科學技術基本法（測試）\n修正日期：民國 111 年 06 月 22 日\n"
                                 "法規類別：行政 > 國家科學及技術委員會\n\n第 1 條\n為提升科學技術水準，特制定本法。\n")
    write(tmp_path / "tw/b.txt", "法規名稱：產學合作實施辦法（測試）\n公發布日：民國 98 年 12 月 30 日\n"
                                 "修正日期：民國 105 年 05 月 11 日\n\n第 1 條\n本辦法依專科學校法訂定之。\n")
    write(tmp_path / "tw/c.txt", "法規名稱：研發成果運用辦法（測試）\n公發布日：民國 98 年 12 月 30 日\n\n第 1 條\n本辦法依法訂定之。\n")
    docs, _ = ingest(tmp_path)
    d = docs.set_index("doc_id")
    assert d.loc["tw/a.txt", "title"] == "科學技術基本法（測試）"
    assert [tuple(d.loc[f"tw/{n}.txt", ["date", "date_source"]]) for n in "abc"] == [
        ("2022-06-22", "text:修正"), ("2016-05-11", "text:修正"), ("2009-12-30", "text:发布")]


def test_a_word_document_laid_out_in_a_one_cell_table_keeps_its_paragraphs(tmp_path):
    """A regulation typed inside a Word table of one cell (a letterhead form, a page framed by a table) was read as
    one table row: its chapter, articles and items ran into one line, each article cut out of it only where a
    sentence ended before it. As for a web page laid out in a table, such a cell is read paragraph by paragraph."""
    import docx

    d = docx.Document()
    d.add_paragraph("江东省某办法")
    cell = d.add_table(rows=1, cols=1).cell(0, 0)
    cell.paragraphs[0].text = "第一章　总则"
    for s in ("第一条　为了促进合作，制定本办法。", "第二条　鼓励共建联合实验室：", "（一）共建平台；", "第三条　本办法自公布之日起施行。"):
        cell.add_paragraph(s)
    d.save(tmp_path / "form.docx")
    from pipeline.formats import extract_text

    decoded, _ = extract_text((tmp_path / "form.docx").read_bytes(), "docx")
    assert decoded.text.split("\n\n") == ["江东省某办法", "第一章　总则", "第一条　为了促进合作，制定本办法。",
                                          "第二条　鼓励共建联合实验室：", "（一）共建平台；", "第三条　本办法自公布之日起施行。"]


def test_a_bilingual_regulation_read_as_english_is_dated_by_its_chinese_note(tmp_path):
    """A regulation with its English translation under each article has more Latin letters than Han characters
    three to one and is detected as English, so its date was read by the English rules alone: its Chinese
    adoption note (2020年9月24日…通过) and effective-date article were not read, and it was undated."""
    write(tmp_path / "sz/reg.txt",
          "深圳经济特区科技创新条例（测试）\nRegulations of Shenzhen Special Economic Zone on Technological Innovation\n"
          "（2020年9月24日深圳市第六届人民代表大会常务委员会第四十四次会议通过）\n"
          "第一条 为了促进产学研合作，制定本条例。\n"
          "Article 1 These Regulations are formulated to promote cooperation between enterprises and universities.\n"
          "第二条 本条例自2020年11月1日起施行。\n"
          "Article 2 These Regulations shall come into force on the first day of November of the year.\n")
    docs, _ = ingest(tmp_path)
    d = docs.set_index("doc_id").loc["sz/reg.txt"]
    assert d["lang"] == "en" and (d["date"], d["date_source"]) == ("2020-09-24", "text:通过")


def test_a_region_whose_only_files_are_of_a_type_not_read_is_named(tmp_path):
    """A region folder holding only Word 97 `.doc` files (as Chinese government sites publish) vanished from the
    summary and the report unsaid: the skipped files had no region, so no region was missing from the audit.
    A file at the corpus root that is no document (a researcher's list of sources) is for no region."""
    write(tmp_path / "CN-ZJ/a.txt", ZH)
    write(tmp_path / "CN-BJ/条例.doc", "\xd0\xcf\x11\xe0 Word 97")
    write(tmp_path / "sources.xlsx", "not a document")
    _, rep = ingest(tmp_path)
    region = rep.set_index("path")["region"]
    assert region["CN-BJ/条例.doc"] == "CN-BJ" and region["sources.xlsx"] == ""
    write(tmp_path / "manifest.csv", "path,region,lang\nCN-ZJ/a.txt,CN-ZJ,zh\nCN-BJ/条例.doc,BJ,zh\n")
    _, rep = ingest(tmp_path)
    assert rep.set_index("path")["region"]["CN-BJ/条例.doc"] == "BJ"


def test_a_word_processor_file_in_a_region_folder_is_warned_about(tmp_path, caplog):
    """Without a manifest, a `.doc` policy beside the region's other documents was skipped with no word on the
    terminal, only counted among "skipped": the researcher lost a document without knowing. A picture beside it
    is no policy and stays quiet."""
    import logging

    write(tmp_path / "CN/a.txt", ZH)
    write(tmp_path / "CN/old.doc", b"\xd0\xcf\x11\xe0")
    write(tmp_path / "CN/chart.png", b"\x89PNG")
    with caplog.at_level(logging.WARNING):
        ingest(tmp_path)
    warned = {r.getMessage().split(": ", 1)[0]: r.getMessage() for r in caplog.records}
    assert "unsupported file type '.doc'" in warned["CN/old.doc"] and ".docx" in warned["CN/old.doc"]
    assert "CN/chart.png" not in warned


def test_a_duplicate_in_another_region_is_warned_about(tmp_path, caplog):
    """The same regulation filed under two regions counted for the one whose path sorts first: the other lost
    the document, and could show a gap or vanish from the audit, with only "1 duplicate_of" on the terminal.
    A copy within one region changes no region's count and stays quiet."""
    import logging

    write(tmp_path / "GD/条例.txt", ZH)
    write(tmp_path / "AU/copy.txt", ZH)
    write(tmp_path / "AU/again.txt", ZH)
    with caplog.at_level(logging.WARNING):
        _, rep = ingest(tmp_path)
    warned = {r.getMessage().split(": ", 1)[0]: r.getMessage() for r in caplog.records}
    assert rep.set_index("path").loc["GD/条例.txt", "duplicate_of"] == "AU/again.txt"
    assert "GD/条例.txt" in warned and "AU/again.txt" in warned["GD/条例.txt"]
    assert "region AU, not GD" in warned["GD/条例.txt"]
    assert "AU/copy.txt" not in warned


def test_dates_written_in_other_unambiguous_forms_are_read():
    """A version's file named 条例(2015-8-29).md or 条例(2015.08.29).md was undated by its name (only (YYYY-MM-DD) was
    read), and a manifest's 20210305, or Taiwan's 110年3月5日 and 110/03/05 (民國 years without 民國: a year of
    three figures is no other), were refused. Each is read; a day-first date, which reads two ways, is not."""
    from pipeline.dates import document_date, manifest_date

    for name in ("条例(2015-8-29).md", "条例(2015.08.29).md", "条例（2015.8.29）.md", "条例(2015-08-29).md"):
        assert document_date({}, f"zh/A/{name}", "某条例\n", "zh")[:2] == ("2015-08-29", "filename"), name
    for name in ("条例(2015-08.29).md", "条例(2015-13-01).md", "条例(29.08.2015).md"):
        assert document_date({}, f"zh/A/{name}", "某条例\n", "zh")[:2] == ("", ""), name
    assert manifest_date("20210305") == manifest_date("110年3月5日") == manifest_date("110/03/05") == "2021-03-05"
    assert manifest_date("110.3.5") == manifest_date("110-03-05") == "2021-03-05"
    assert manifest_date("20211305") == manifest_date("05032021") == manifest_date("99/03/05") == ""
    assert manifest_date("05/03/2021") == ""
    assert "reads two ways" in document_date({"date": "05/03/2021"}, "a.md", "", "zh")[2]


def test_a_revision_by_a_decision_is_labelled_by_the_word_that_revised_it():
    """A header "根据2015年8月29日…《关于修改〈…〉的决定》修正" gave date_source text:修改, the word in the decision's name,
    not text:修正, the word saying what happened on that date; the date was right."""
    from pipeline.dates import date_from_text

    head = ("某省科技进步条例\n\n（2008年6月20日某省第十一届人民代表大会常务委员会第三次会议通过　根据2015年8月29日"
            "某省第十二届人民代表大会常务委员会第十九次会议《关于修改〈某省科技进步条例〉的决定》修正）\n\n第一条 为了……\n")
    assert date_from_text(head, "zh") == ("2015-08-29", "修正")
    # the decision's name may name a law in its own brackets; a revision by amendment (修正案) is labelled 修订
    named = head.replace("〈某省科技进步条例〉", "<某省实施《中华人民共和国水法》若干规定>")
    assert date_from_text(named, "zh") == ("2015-08-29", "修正")
    amended = head.replace("《关于修改〈某省科技进步条例〉的决定》修正", "通过的《某省科技进步条例修正案》第二次修订")
    assert date_from_text(amended, "zh") == ("2015-08-29", "修订")
    # a revision the header names with 修改 alone keeps it
    assert date_from_text("某条例\n\n（2015年8月29日修改）\n\n第一条 为了……\n", "zh") == ("2015-08-29", "修改")


def test_a_notice_with_a_record_below_its_signature_is_dated_by_the_signature(tmp_path):
    """Below an official document's signature stands its record (抄送：…, and …2022年5月7日印发): such a notice
    was undated, as its date line was not the last, and left out of the view over time."""
    body = "关于推进校企合作的通知\n\n一、支持高校与企业共建研发中心。\n\n某市科学技术局\n2022年5月6日\n\n"
    write(tmp_path / "SH/copied.txt", body + "抄送：省科技厅，市政府办公室。\n")
    write(tmp_path / "SH/printed.txt", body + "抄送：省科技厅。\n某市科学技术局办公室　　2022年5月7日印发\n")
    docs, _ = ingest(tmp_path)
    got = {k: (d, s) for k, d, s in zip(docs["doc_id"], docs["date"], docs["date_source"])}
    assert got == {"SH/copied.txt": ("2022-05-06", "text:落款"), "SH/printed.txt": ("2022-05-06", "text:落款")}


def test_docx_articles_numbered_by_a_list_style_keep_their_numbers(tmp_path):
    """A list made from a Word list style has a definition holding no levels, only the style's name
    (w:numStyleLink); the levels (第%1条) are in the definition the style names (w:styleLink). The articles of such a
    regulation came without their numbers, so it had no articles at all."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from pipeline.segment import segment_document

    d = docx.Document()
    numbering = d.part.numbering_part.element
    numbering.insert(0, parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="90"><w:multiLevelType w:val="multilevel"/>'
        '<w:styleLink w:val="ArticleList"/><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/>'
        '<w:lvlText w:val="第%1条"/><w:suff w:val="space"/></w:lvl></w:abstractNum>'))
    numbering.insert(1, parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="91"><w:multiLevelType w:val="multilevel"/>'
        '<w:numStyleLink w:val="ArticleList"/></w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="95"><w:abstractNumId w:val="91"/></w:num>'))
    d.add_paragraph("某市促进产学研合作条例")
    for text in ("为了促进产学研合作，制定本条例。", "鼓励企业与高等学校共建联合实验室。"):
        d.add_paragraph(text)._p.get_or_add_pPr().append(parse_xml(
            f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="95"/></w:numPr>'))
    (tmp_path / "CN-X").mkdir()
    d.save(tmp_path / "CN-X/条例.docx")
    docs, _ = ingest(tmp_path)
    assert docs.iloc[0]["text"].split("\n\n") == [
        "某市促进产学研合作条例", "第一条 为了促进产学研合作，制定本条例。", "第二条 鼓励企业与高等学校共建联合实验室。"]
    assert [p["label"] for p in segment_document(docs.iloc[0].to_dict()) if p["kind"] == "article"] == [
        "第一条", "第二条"]


@pytest.mark.parametrize("fmt", ["chineseCounting", "chineseCountingThousand", "japaneseCounting",
                                 "taiwaneseCounting", "taiwaneseCountingThousand"])
def test_word_counts_articles_in_chinese_numerals_in_each_of_its_chinese_formats(fmt):
    """Each of Word's formats in Chinese numerals: a list in taiwaneseCountingThousand gave its 第%1條 articles in
    digits, 第11條, where Word shows 第十一條."""
    from pipeline.formats import _number_in_format

    assert [_number_in_format(n, fmt) for n in (1, 10, 11, 20, 105)] == ["一", "十", "十一", "二十", "一百零五"]
