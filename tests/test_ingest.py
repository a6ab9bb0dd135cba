
import pytest

from pipeline.ingest import decode_bytes, ingest, normalise, DecodeError
from pipeline.io import ConfigError

from conftest import CN_REGULATION, write

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


def test_binary_and_undecodable_are_rejected_with_reason():
    with pytest.raises(DecodeError, match="binary"):
        decode_bytes(bytes(range(256)) * 8)
    with pytest.raises(DecodeError, match="undecodable"):
        decode_bytes(b"\x81\xff\x80\xfe" * 100)


def test_normalise_keeps_fullwidth_punctuation_and_folds_fullwidth_letters():
    assert normalise("第一条　ＡＢＣ１２３，科技（成果）。") == "第一条　ABC123，科技（成果）。"
    assert normalise("a\r\nb\x07c") == "a\nbc"


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
    doc.save(tmp_path / "a.docx")
    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    with open(tmp_path / "scan.pdf", "wb") as fh:
        w.write(fh)
    docs, rep = ingest(tmp_path)
    status = dict(zip(rep["path"], rep["status"]))
    assert status == {"a.docx": "ingested", "scan.pdf": "failed"}
    assert "text layer" in rep.set_index("path").loc["scan.pdf", "reason"]
    assert "共建研发机构" in docs.iloc[0]["text"]


def test_fatal_configuration_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ingest(tmp_path / "nope")
    write(tmp_path / "manifest.csv", "file,area\nx.txt,CN\n")
    with pytest.raises(ConfigError, match=r"manifest.csv.*lacks required column\(s\) path, region, lang"):
        ingest(tmp_path)
