"""Hostile corpora: every file accounted for, nothing lost, nothing executed.

The corpora are generated here in tmp_path (no committed binaries). The end-to-end checks run the real
command line (`python -m pipeline ...` with the project's venv, cwd = the project root) in a subprocess.
"""
from __future__ import annotations

import copy
import errno
import io
import json
import os
import re
import stat
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.io as pio
from pipeline.ingest import ingest
from pipeline.formats import extract_text
from pipeline.text import DecodeError, Decoded, decode_bytes, normalise
from pipeline.io import ConfigError, write_bytes_atomic

from conftest import ROOT, content, write

PY = ROOT / ".venv" / "bin" / "python"
PYTHON = str(PY) if PY.exists() else sys.executable
STATUSES = {"ingested", "skipped", "duplicate_of", "failed"}
SUMMARY = re.compile(r"ingest: (\d+) files: (\d+) ingested, (\d+) duplicate_of, (\d+) skipped, (\d+) failed")


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def pipeline_cmd(*args) -> list[str]:
    return [PYTHON, "-m", "pipeline", *map(str, args)]


def run_pipeline(*args, timeout: float = 180, **env) -> subprocess.CompletedProcess:
    return subprocess.run(pipeline_cmd(*args), cwd=ROOT, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=timeout, env=_env(**env))


def read_report(out: Path) -> pd.DataFrame:
    return pio.read_csv(out / "ingest_report.csv", dtype=str)  # cells as found, not as neutralised for Excel


def zh(tag: str) -> str:
    """A short regulation whose text is unique to `tag` (so no two test files are duplicates)."""
    return (f"# 关于{tag}的产学研合作办法\n\n第一条 为了促进产学研合作，鼓励企业与高等学校共建联合实验室（{tag}）。\n\n"
            f"第二条 本办法自2020年1月1日起施行。编号 {tag}。\n")


EN = "Universities and firms shall cooperate on research and technology transfer ({})."


# --------------------------------------------------------------------------------------------- the corpus

def shown(raw_rel: str) -> str:
    """How the report names a relative path: NFC, bytes that are not UTF-8 as \\xNN."""
    return unicodedata.normalize("NFC", os.fsencode(raw_rel).decode("utf-8", errors="backslashreplace"))


def build_hostile_corpus(root: Path) -> dict[str, tuple[str, str]]:
    """Write the hostile corpus; return {report path: (status, reason fragment)} for the files with a fixed fate."""
    exp: dict[str, tuple[str, str]] = {}
    # encodings: same kind of text, each decodable only if the encoding is detected
    enc = {
        "utf8.txt": zh("UTF8").encode("utf-8"),
        "utf8_bom.txt": zh("BOM").encode("utf-8-sig"),
        "gbk.txt": zh("GBK").encode("gbk"),
        "gb18030.txt": (zh("GB18030") + "生僻字𠀀。\n").encode("gb18030"),
        "utf16le_bom.txt": b"\xff\xfe" + zh("LEBOM").encode("utf-16-le"),
        "utf16be_bom.txt": b"\xfe\xff" + zh("BEBOM").encode("utf-16-be"),
        "utf16le.txt": zh("LE").encode("utf-16-le"),
        "utf16be.txt": zh("BE").encode("utf-16-be"),
        "english.md": (EN.format("plain") + "\n").encode(),
    }
    for name, data in enc.items():
        write(root / "enc" / name, data)
        exp[f"enc/{name}"] = ("ingested", "")
    write(root / "enc/mostly_utf8.txt", zh("STRAY").encode() * 50 + b"\xff" + zh("STRAY2").encode())
    exp["enc/mostly_utf8.txt"] = ("ingested", "U+FFFD")
    # bad files
    write(root / "bad/undecodable.txt", b"\x81\xff\x80\xfe" * 100)
    exp["bad/undecodable.txt"] = ("failed", "undecodable")
    write(root / "bad/empty.txt", b"")
    exp["bad/empty.txt"] = ("skipped", "empty file")
    write(root / "bad/whitespace.txt", " \n\t\u3000\r\n  ".encode())
    exp["bad/whitespace.txt"] = ("skipped", "whitespace only")
    write(root / "bad/image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)
    exp["bad/image.txt"] = ("failed", "binary content")
    write(root / "bad/broken.docx", b"PK\x03\x04 this is not a zip archive")
    exp["bad/broken.docx"] = ("failed", "not a readable .docx")
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    buf = io.BytesIO()
    w.write(buf)
    write(root / "bad/scan.pdf", buf.getvalue())
    exp["bad/scan.pdf"] = ("failed", "no text layer")
    write(root / "bad/table.xlsx", b"not really a workbook")
    exp["bad/table.xlsx"] = ("skipped", "unsupported file type '.xlsx'")
    # 100 MB: sparse, so it costs no time to write; ingest must skip it by size without reading it
    (root / "big").mkdir()
    with open(root / "big/huge.txt", "wb") as fh:
        fh.truncate(100 * 2**20)
    exp["big/huge.txt"] = ("skipped", "100 MB is over the 64 MB limit (raise it with --max-mb)")
    # a named pipe would block a reader forever
    (root / "special").mkdir()
    os.mkfifo(root / "special/pipe.txt")
    exp["special/pipe.txt"] = ("skipped", "not a regular file (named pipe)")
    # odd names
    names = ["policy with spaces.txt", "ｆｕｌｌｗｉｄｔｈ　政策（２０２０）.txt", "emoji 📜 policy 🚀.md",
             '=HYPERLINK("x") comma, "quote" <b> &amp;.txt', "new\nline.txt", "cafe\u0301 NFD.txt",
             os.fsdecode(b"latin1 caf\xe9.txt")]
    for i, name in enumerate(names):
        write(root / "names" / name, zh(f"NAME{i}"))
        exp[shown(f"names/{name}")] = ("ingested", "not UTF-8" if "\\x" in shown(name) else "")
    # nested folders and links
    write(root / "nested/a/b/c/d/deep.txt", EN.format("deep"))
    exp["nested/a/b/c/d/deep.txt"] = ("ingested", "")
    os.symlink("..", root / "nested/a/up")  # a folder linked to its parent: a loop if followed
    exp["nested/a/up"] = ("skipped", "symbolic link to a folder")
    os.symlink("self.txt", root / "nested/self.txt")  # a file link to itself
    exp["nested/self.txt"] = ("failed", "broken or looping symbolic link")
    os.symlink("../enc/english.md", root / "nested/alias.md")
    exp["nested/alias.md"] = ("duplicate_of", "same text as enc/english.md")
    # duplicates under two names
    write(root / "dup/original.txt", zh("DUP"))
    write(root / "dup/copy of original.txt", zh("DUP"))
    exp["dup/copy of original.txt"] = ("ingested", "")
    exp["dup/original.txt"] = ("duplicate_of", "same text as dup/copy of original.txt")
    # HTML that would do things if it were run
    write(root / "html/page.html", f"""<!DOCTYPE html><html><head><title>Hostile page</title>
<script>SCRIPT_MARKER; fetch("http://example.invalid/x")</script><style>STYLE_MARKER {{}}</style></head>
<body onload="EVENT_MARKER_BODY()"><p onclick="EVENT_MARKER_P()">{EN.format("html")}</p>
<img src="x" onerror="EVENT_MARKER_IMG()"><a href="javascript:JS_URL_MARKER()">a link</a>
<iframe src="http://example.invalid/">IFRAME_MARKER</iframe><noscript>NOSCRIPT_MARKER</noscript>
<!-- COMMENT_MARKER --><template>TEMPLATE_MARKER</template><svg><script>SVG_MARKER</script></svg>
<div>Loose text<p>Inner paragraph.</p>tail text</div></body></html>""")
    exp["html/page.html"] = ("ingested", "")
    write(root / "html/deep.html", "<div>" * 20000 + f"<p>{EN.format('deeply nested')}</p>" + "</div>" * 20000)
    exp["html/deep.html"] = ("ingested", "")
    # hidden things are listed, not read
    write(root / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    exp[".DS_Store"] = ("skipped", "hidden file")
    write(root / ".git/config", "[core]\n")
    exp[".git"] = ("skipped", "hidden folder")
    return exp


def walk_listing(root: Path) -> set[str]:
    """Every entry a person would expect in the report, found independently of the pipeline."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for d in list(dirnames):
            full = Path(dirpath, d)
            if full.is_symlink() or d.startswith("."):
                out.add(shown(full.relative_to(root).as_posix()))
                dirnames.remove(d)
        out.update(shown(Path(dirpath, f).relative_to(root).as_posix()) for f in filenames)
    return out - {"manifest.csv"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    corpus, out = base / "corpus", base / "out"
    expected = build_hostile_corpus(corpus)
    t0 = time.perf_counter()
    proc = run_pipeline("run", "--corpus", corpus, "--out", out, "--model", "lexicon", "--quiet", "--jobs", "1")
    return corpus, out, expected, proc, time.perf_counter() - t0


def test_hostile_run_completes(hostile):
    corpus, out, _, proc, seconds = hostile
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for name in ("documents.parquet", "passages.parquet", "labels.parquet", "coverage.xlsx", "report.html",
                 "summary.md", "coverage_region.csv"):
        assert (out / name).exists(), name
    assert seconds < 90


def test_hostile_report_accounts_for_every_file(hostile):
    corpus, out, expected, proc, _ = hostile
    rep = read_report(out)
    assert rep["path"].is_unique
    assert set(rep["path"]) == walk_listing(corpus)
    assert set(rep["status"]) <= STATUSES
    assert (rep["reason"].str.strip() != "").all()
    got = rep.set_index("path")
    for path, (status, reason) in expected.items():
        assert got.loc[path, "status"] == status, (path, got.loc[path].to_dict())
        assert reason in got.loc[path, "reason"], (path, got.loc[path, "reason"])
    assert int(got.loc["big/huge.txt", "bytes"]) == 100 * 2**20
    dups = got[got["status"] == "duplicate_of"]
    assert (got.loc[dups["duplicate_of"], "status"] == "ingested").all()


def test_hostile_documents_decoded_correctly(hostile):
    _, out, _, _, _ = hostile
    docs = pd.read_parquet(out / "documents.parquet").set_index("doc_id")
    rep = read_report(out)
    assert set(docs.index) == set(rep.loc[rep["status"] == "ingested", "path"])
    encodings = {"utf8": "utf-8", "utf8_bom": "utf-8-sig", "gbk": "gbk", "gb18030": "gb18030",
                 "utf16le_bom": "utf-16-le", "utf16be_bom": "utf-16-be", "utf16le": "utf-16-le",
                 "utf16be": "utf-16-be"}
    tags = {"utf8": "UTF8", "utf8_bom": "BOM", "gbk": "GBK", "gb18030": "GB18030", "utf16le_bom": "LEBOM",
            "utf16be_bom": "BEBOM", "utf16le": "LE", "utf16be": "BE"}
    for stem, encoding in encodings.items():
        d = docs.loc[f"enc/{stem}.txt"]
        assert d["encoding"] == encoding, stem
        assert f"鼓励企业与高等学校共建联合实验室（{tags[stem]}）" in d["text"], stem
        assert d["lang"] == "zh"
    assert "𠀀" in docs.loc["enc/gb18030.txt", "text"]
    assert "\ufeff" not in "".join(docs["text"])
    html = docs.loc["html/page.html"]
    assert html["title"] == "Hostile page"
    assert "Universities and firms shall cooperate" in html["text"]
    for text in ("Loose text", "Inner paragraph.", "tail text", "a link"):
        assert text in html["text"]
    assert "MARKER" not in html["text"] and "example.invalid" not in html["text"]
    assert "deeply nested" in docs.loc["html/deep.html", "text"]
    name = docs.loc[shown("names/cafe\u0301 NFD.txt")]
    assert name.name == "names/café NFD.txt" and "NAME5" in name["text"]


def test_hostile_summary_and_warnings_on_stderr(hostile):
    _, out, _, proc, _ = hostile
    rep = read_report(out)
    m = SUMMARY.search(proc.stderr)
    assert m, proc.stderr
    counts = rep["status"].value_counts()
    assert [int(g) for g in m.groups()] == [len(rep)] + [int(counts.get(s, 0)) for s in
                                                         ("ingested", "duplicate_of", "skipped", "failed")]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:")]
    for path in rep.loc[rep["status"] == "failed", "path"]:
        assert any(path.split("\n")[0] in w for w in warnings), path
    assert any("big/huge.txt" in w and "--max-mb" in w for w in warnings)


def test_max_mb_option_is_reported(tmp_path):
    write(tmp_path / "c/a.txt", zh("A") * 2000)
    write(tmp_path / "c/b.txt", zh("B"))
    proc = run_pipeline("ingest", "--corpus", tmp_path / "c", "--out", tmp_path / "o", "--quiet", "--max-mb", "0.05")
    assert proc.returncode == 0, proc.stderr
    got = read_report(tmp_path / "o").set_index("path")
    assert got.loc["a.txt", "status"] == "skipped" and "over the 0.05 MB limit" in got.loc["a.txt", "reason"]
    assert got.loc["b.txt", "status"] == "ingested"


def test_run_completes_when_no_file_can_be_ingested(tmp_path, capsys):
    from pipeline.cli import main

    write(tmp_path / "c/bad.txt", b"\x81\xff\x80\xfe" * 100)
    code = main(["run", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "o"), "--model", "lexicon",
                 "--quiet", "--jobs", "1"])
    assert code == 0
    assert "1 files: 0 ingested, 0 duplicate_of, 0 skipped, 1 failed" in capsys.readouterr().err
    assert (tmp_path / "o/coverage.xlsx").exists()


# ------------------------------------------------------------------------------------------- manifests

def test_manifest_missing_unlisted_and_ragged_rows(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus / "a.txt", zh("A"))
    write(corpus / "sub/b.txt", zh("B"))
    write(corpus / "c.txt", zh("C"))
    write(corpus / "d.txt", EN.format("d"))
    write(corpus / "unlisted.txt", zh("U"))
    write(corpus / "manifest.csv", "path,region,lang,title,source\n"
          "a.txt,CN-SD,zh,标题,demo\n"
          ".\\sub\\b.txt,CN-ZJ,ZH-cn,,\n"
          "missing.txt,CN,zh,,\n"
          "c.txt,CN,zh,,,EXTRA_FIELD\n"
          "d.txt,US\n"
          "a.txt,XX,en,,\n")
    proc = run_pipeline("ingest", "--corpus", corpus, "--out", tmp_path / "out", "--quiet")
    assert proc.returncode == 0, proc.stderr
    got = read_report(tmp_path / "out").set_index("path")
    assert got["status"].to_dict() == {"a.txt": "ingested", "sub/b.txt": "ingested", "c.txt": "ingested",
                                       "d.txt": "ingested", "missing.txt": "failed", "unlisted.txt": "skipped"}
    assert got.loc["missing.txt", "reason"] == "listed in manifest.csv but not found"
    assert got.loc["unlisted.txt", "reason"] == "not listed in manifest.csv"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING:")]
    assert any("manifest.csv line 5" in w and "6 fields" in w for w in warnings), warnings
    assert any("manifest.csv line 6" in w and "2 fields" in w for w in warnings), warnings
    assert any("listed twice" in w for w in warnings)
    assert any("missing.txt" in w and "not found" in w for w in warnings)
    assert any("1 file(s) not listed" in w and "were skipped: unlisted.txt" in w for w in warnings)
    docs = pd.read_parquet(tmp_path / "out/documents.parquet").set_index("doc_id")
    assert docs.loc["a.txt", "region"] == "CN-SD" and docs.loc["a.txt", "title"] == "标题"
    assert json.loads(docs.loc["a.txt", "extra"]) == {"source": "demo"}
    assert docs.loc["sub/b.txt", "lang"] == "zh" and docs.loc["sub/b.txt", "region"] == "CN-ZJ"
    assert docs.loc["d.txt", "lang"] == "en" and docs.loc["d.txt", "region"] == "US"


def test_manifest_in_gbk_is_read_with_a_warning(tmp_path, caplog):
    write(tmp_path / "山东/条例.txt", zh("SD"))
    write(tmp_path / "manifest.csv", "path,region,lang,title\n山东/条例.txt,CN-SD,zh,山东条例\n", encoding="gbk")
    docs, rep = ingest(tmp_path)
    assert rep.set_index("path")["status"].to_dict() == {"山东/条例.txt": "ingested"}
    assert docs.iloc[0]["title"] == "山东条例"
    assert "read as gbk" in caplog.text


# ------------------------------------------------------------------------------- fatal configuration

def _broken_taxonomies(folder: Path) -> dict[str, tuple[Path, list[str]]]:
    """{case: (taxonomy file, strings the one-line error must contain)}"""
    raw = yaml.safe_load((ROOT / "taxonomy/taxonomy.yaml").read_bytes())
    nodes = raw["nodes"]
    out = {}

    def dump(name: str, data) -> Path:
        p = folder / f"{name}.yaml"
        p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return p

    dup_id = nodes[-1]["id"]
    # deep-copied: a shared lexicon would be written as a YAML alias, which is refused on its own
    out["duplicate_id"] = (dump("duplicate_id", {**raw, "nodes": nodes + [copy.deepcopy(nodes[-1])]}),
                           [f"'{dup_id}'", "duplicate id"])
    victim = next((n for n in nodes if n.get("parent")), nodes[-1])
    dangling = [dict(n, parent="NO_SUCH_GROUP") if n is victim else n for n in nodes]
    out["dangling_parent"] = (dump("dangling_parent", {**raw, "nodes": dangling}),
                              [f"'{victim['id']}'", "parent", "NO_SUCH_GROUP"])
    pairs = [dict(n, pairs_with="measure.no_such_node") if n is nodes[0] else n for n in nodes]
    out["dangling_pairs_with"] = (dump("dangling_pairs_with", {**raw, "nodes": pairs}),
                                  [f"'{nodes[0]['id']}'", "pairs_with", "measure.no_such_node"])
    garbage = folder / "unreadable.yaml"
    garbage.write_bytes(b"\x00\xff\xfe\x80 not: [yaml\n\x81")
    out["unreadable"] = (garbage, ["not valid YAML"])
    pwned = folder / "pwned"
    tagged = folder / "python_tag.yaml"
    tagged.write_text(f'pwn: !!python/object/apply:os.system ["touch {pwned}"]\n'
                      + (ROOT / "taxonomy/taxonomy.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    out["python_tag"] = (tagged, ["python/object/apply:os.system"])
    out["missing"] = (folder / "no_such_taxonomy.yaml", ["not found"])
    return out


def _fatal_cases(base: Path) -> dict[str, tuple[list, list[str]]]:
    """{case: (command-line arguments, strings the one-line error must contain)}"""
    good = base / "good"
    write(good / "CN/a.txt", zh("GOOD"))
    cases: dict[str, tuple[list, list[str]]] = {}
    cases["missing_corpus"] = (["--corpus", base / "does-not-exist"], [str(base / "does-not-exist"), "--corpus"])
    write(base / "a-file.txt", "x")
    cases["corpus_is_a_file"] = (["--corpus", base / "a-file.txt"], [str(base / "a-file.txt"), "--corpus"])
    write(base / "bad_manifest/a.txt", zh("M"))
    write(base / "bad_manifest/manifest.csv", "file,area,language\na.txt,CN,zh\n")
    cases["manifest_columns"] = (["--corpus", base / "bad_manifest"],
                                 [str(base / "bad_manifest/manifest.csv"), "path, region, lang"])
    write(base / "dup_manifest/a.txt", zh("M"))
    write(base / "dup_manifest/manifest.csv", "path,region,lang,region\na.txt,CN,zh,CN\n")
    cases["manifest_duplicate_column"] = (["--corpus", base / "dup_manifest"],
                                          [str(base / "dup_manifest/manifest.csv"), "duplicate", "'region'"])
    (base / "tax").mkdir()
    for name, (tax, must) in _broken_taxonomies(base / "tax").items():
        cases[f"taxonomy_{name}"] = (["--corpus", good, "--taxonomy", tax], [str(tax), *must])
    return cases


def _run_args(base: Path, case: str, args: list) -> list[str]:
    return ["run", *map(str, args), "--out", str(base / "out" / case), "--model", "lexicon", "--quiet", "--jobs", "1"]


# end to end in separate processes (started together); the other cases run in-process through cli.main
SUBPROCESS_CASES = ["missing_corpus", "manifest_columns", "taxonomy_duplicate_id", "taxonomy_dangling_parent",
                    "taxonomy_unreadable", "taxonomy_python_tag"]
IN_PROCESS_CASES = ["corpus_is_a_file", "manifest_duplicate_column", "taxonomy_dangling_pairs_with",
                    "taxonomy_missing"]


@pytest.fixture(scope="module")
def fatal_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("fatal")
    cases = _fatal_cases(base)
    procs = {name: subprocess.Popen(pipeline_cmd(*_run_args(base, name, cases[name][0])), cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
             for name in SUBPROCESS_CASES}
    results = {}
    for name, p in procs.items():
        _, err = p.communicate(timeout=180)
        results[name] = (p.returncode, err.decode("utf-8", "replace"))
    return base, cases, results


def _check_fatal(code: int, stderr: str, must: list[str]) -> None:
    assert "Traceback" not in stderr, stderr
    assert code == 2, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert stderr.rstrip("\n").splitlines()[-1] == errors[0]
    for s in must:
        assert s in errors[0], (s, errors[0])


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_fatal_configuration_error_is_one_line_exit_2(fatal_runs, case):
    _, cases, results = fatal_runs
    code, stderr = results[case]
    _check_fatal(code, stderr, cases[case][1])


@pytest.mark.parametrize("case", IN_PROCESS_CASES)
def test_fatal_configuration_error_in_process(fatal_runs, case, capsys):
    from pipeline.cli import main

    base, cases, _ = fatal_runs
    code = main(_run_args(base, case, cases[case][0]))
    _check_fatal(code, capsys.readouterr().err, cases[case][1])


def test_yaml_python_tag_is_not_executed(fatal_runs):
    base, _, results = fatal_runs
    assert results["taxonomy_python_tag"][0] == 2
    assert not (base / "tax/pwned").exists()


def test_load_taxonomy_rejects_python_tags(tmp_path):
    from pipeline.taxonomy import load_taxonomy

    marker = tmp_path / "pwned"
    for tag in (f'!!python/object/apply:os.system ["touch {marker}"]', "!!python/name:os.system",
                f'!!python/object/new:subprocess.Popen [["touch", "{marker}"]]'):
        p = tmp_path / "taxonomy.yaml"
        p.write_text(f"version: '1'\npwn: {tag}\nnodes: []\n")
        with pytest.raises(ConfigError, match="not valid YAML"):
            load_taxonomy(p)
    assert not marker.exists()


def test_unreadable_taxonomy_is_a_config_error(tmp_path, monkeypatch):
    from pipeline.taxonomy import load_taxonomy

    p = tmp_path / "taxonomy.yaml"
    p.write_bytes((ROOT / "taxonomy/taxonomy.yaml").read_bytes())
    real = Path.read_bytes

    def denied(self):
        if self == p:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(ConfigError, match="taxonomy.yaml"):
        load_taxonomy(p)


def test_config_error_message_is_one_line():
    assert str(ConfigError("a\nb\r\n  c")) == "a b c"


# ------------------------------------------------------------------------------ unreadable files, names

def test_permission_denied_file_and_folder_are_reported(tmp_path, monkeypatch):
    import pipeline.ingest as ingest_mod

    write(tmp_path / "ok.txt", zh("OK"))
    write(tmp_path / "secret.txt", zh("SECRET"))
    write(tmp_path / "locked/inside.txt", zh("LOCKED"))
    real_open, real_scandir = open, os.scandir

    def fake_open(path, *a, **k):
        if Path(path).name == "secret.txt":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    def fake_scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    if os.geteuid() != 0:  # the real thing where we can; as root permissions are not enforced
        (tmp_path / "secret.txt").chmod(0)
        (tmp_path / "locked").chmod(0)
    else:
        monkeypatch.setattr(ingest_mod, "open", fake_open, raising=False)
        monkeypatch.setattr(os, "scandir", fake_scandir)
    try:
        docs, rep = ingest(tmp_path)
    finally:
        (tmp_path / "secret.txt").chmod(0o644)
        (tmp_path / "locked").chmod(0o755)
    got = rep.set_index("path")
    assert got.loc["ok.txt", "status"] == "ingested"
    assert got.loc["secret.txt", "status"] == "failed"
    assert "Permission denied" in got.loc["secret.txt", "reason"]
    assert got.loc["locked", "status"] == "failed"
    assert "folder cannot be listed: Permission denied" in got.loc["locked", "reason"]


def test_names_equal_after_normalisation_both_reported(tmp_path):
    write(tmp_path / "cafe\u0301.txt", zh("NFD"))
    write(tmp_path / "caf\u00e9.txt", zh("NFC"))
    docs, rep = ingest(tmp_path)
    assert len(rep) == 2 and (rep["status"] == "ingested").all()
    assert rep["path"].is_unique and "caf\u00e9.txt" in set(rep["path"])
    assert {"NFC", "NFD"} == {t.split("（")[1][:3] for t in docs["text"]}


def test_bad_file_never_stops_ingest(tmp_path, monkeypatch):
    import pipeline.formats as formats_mod

    write(tmp_path / "a.html", "<p>x</p>")
    write(tmp_path / "b.txt", zh("B"))

    def boom(decoded):
        raise RecursionError("maximum recursion depth exceeded\nwhile parsing")

    monkeypatch.setattr(formats_mod, "_html_text", boom)
    docs, rep = ingest(tmp_path)
    got = rep.set_index("path")
    assert got.loc["a.html", "status"] == "failed" and "RecursionError" in got.loc["a.html", "reason"]
    assert "\n" not in got.loc["a.html", "reason"]
    assert got.loc["b.txt", "status"] == "ingested"


def test_deeply_nested_html_is_linear_time():
    html = ("<div>" * 30000 + "<p>Deep text.</p>" + "</div>" * 30000).encode()
    t0 = time.perf_counter()
    decoded, _ = extract_text(html, "html")
    assert decoded.text == "Deep text."
    assert time.perf_counter() - t0 < 10  # was quadratic: minutes


def test_html_keeps_text_around_blocks_and_line_breaks():
    html = "<body>Intro<div>第一条 国家<b>鼓励</b>高校。<br>第二条 本办法。<p>para</p>tail</div></body>"
    decoded, _ = extract_text(html.encode(), "html")
    assert decoded.text == "Intro\n\n第一条 国家鼓励高校。\n第二条 本办法。\n\npara\n\ntail"


# --------------------------------------------------------------------------------------- atomic writes

def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_interrupted_rename_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "labels.parquet"
    write_bytes_atomic(target, b"previous")

    def fail(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pio.os, "replace", fail)
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"new content")
    assert target.read_bytes() == b"previous"
    assert _listing(tmp_path) == ["labels.parquet"]
    monkeypatch.undo()
    assert write_bytes_atomic(target, b"new content") is True  # re-running resumes cleanly
    assert target.read_bytes() == b"new content" and _listing(tmp_path) == ["labels.parquet"]


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_write_failing_midway_leaves_previous_file_and_no_temp(tmp_path, monkeypatch, exc):
    target = tmp_path / "coverage.csv"
    write_bytes_atomic(target, b"a,b\n1,2\n")
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            raise exc

    monkeypatch.setattr(pio.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(type(exc)):
        write_bytes_atomic(target, b"x,y\n" * 1000)
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert _listing(tmp_path) == ["coverage.csv"]


def test_atomic_write_unchanged_bytes_keep_mtime_and_new_files_get_normal_permissions(tmp_path):
    target = tmp_path / "t.csv"
    assert write_bytes_atomic(target, b"same") is True
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask  # mkstemp alone would give 0600
    os.utime(target, (1_000_000, 1_000_000))
    assert write_bytes_atomic(target, b"same") is False
    assert target.stat().st_mtime == 1_000_000
    target.chmod(0o640)
    write_bytes_atomic(target, b"changed")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_stale_temp_files_from_a_killed_run_are_removed(tmp_path):
    target = tmp_path / "documents.parquet"
    stale = tmp_path / ".documents.parquet.abc123.tmp"
    fresh = tmp_path / ".documents.parquet.def456.tmp"  # may belong to a writer still at work
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    write_bytes_atomic(target, b"data")
    assert _listing(tmp_path) == [fresh.name, target.name]


def test_truncated_table_is_a_config_error(tmp_path):
    from pipeline.io import read_table
    from pipeline.schemas import DOCUMENTS

    (tmp_path / DOCUMENTS.file).write_bytes(b"PAR1 truncated")
    with pytest.raises(ConfigError, match="documents.parquet: cannot be read") as info:
        read_table(DOCUMENTS, tmp_path)
    assert isinstance(info.value, ValueError)  # callers that treat an unreadable cache as "no cache" still do


_DRIVER = """
import os, runpy, sys
target = os.environ["FAIL_ON"]
real = os.replace
def replace(src, dst, *a, **k):
    if os.path.basename(os.fspath(dst)) == target:
        raise OSError(28, "No space left on device (simulated)", os.fspath(dst))
    return real(src, dst, *a, **k)
os.replace = replace
sys.argv = ["pipeline"] + sys.argv[1:]
runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
"""


def test_interrupted_run_resumes_cleanly(tmp_path):
    corpus, out, ref = tmp_path / "corpus", tmp_path / "out", tmp_path / "ref"
    write(corpus / "CN/a.txt", zh("RESUME"))
    write(corpus / "US/b.md", EN.format("resume") + "\n\nFederal laboratories shall enter into cooperative "
                                                    "research and development agreements.\n")
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER)
    args = ["run", "--corpus", corpus, "--model", "lexicon", "--quiet", "--jobs", "1"]
    crashed = subprocess.run([PYTHON, str(driver), *map(str, args), "--out", str(out)], cwd=ROOT, capture_output=True,
                             text=True, timeout=180, env=_env(FAIL_ON="labels.parquet"))
    assert crashed.returncode != 0 and "simulated" in crashed.stderr
    assert (out / "tokens.parquet").exists() and not (out / "labels.parquet").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    procs = [subprocess.Popen(pipeline_cmd(*args, "--out", o), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=_env()) for o in (out, ref)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode(errors="replace")[-2000:]
    assert _listing(out) == _listing(ref)
    for name in _listing(ref):
        if name != "run.json":
            assert content(out / name) == content(ref / name), name


# ---------------------------------------------------------------------------------- nothing unpickled

def test_model_load_refuses_pickled_arrays(tmp_path):
    from pipeline.model import FORMAT, PolicyClassifier

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    meta = {"format": FORMAT, "params": {"C": 8.0, "lexicon_weight": 3.0, "min_positives": 3, "cv": 4,
                                         "class_weight": "balanced", "random_state": 0},
            "nodes": ["a"], "thresholds": [0.5], "trained": [True], "positives": [3],
            "word_vocabulary": {"x": 0}, "char_vocabulary": {"xy": 0}}
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(meta))
    evil = np.array([Evil()], dtype=object)
    np.savez(folder / "arrays.npz", coef=evil, intercept=evil, word_idf=evil, char_idf=evil)
    with pytest.raises(ValueError):
        PolicyClassifier.load(folder, taxonomy=str(ROOT / "taxonomy"))
    assert not marker.exists()


# ------------------------------------------------------------------------------------ property tests

_chunks = st.sampled_from([b"\x00", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"\xff\xfe\x00\x00", b"a", b"\n",
                           b"\xe4\xb8\xad", b"\xe4\xb8", b"\x81", b"\xd6\xd0", b"\x84\x31\xa4\x39", b"+AGE-",
                           b"\x1b$B", b"\xa4\xa4", b"\xed\xa0\x80"])
_bytes = st.one_of(st.binary(max_size=300), st.lists(_chunks, max_size=60).map(b"".join),
                   st.text(max_size=120).map(lambda s: s.encode("utf-16-le", "surrogatepass")),
                   st.text(max_size=120).map(lambda s: s.encode("gb18030", "replace")))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bytes)
def test_decode_bytes_returns_text_or_raises_decode_error(data):
    try:
        d = decode_bytes(data)
    except DecodeError as exc:
        assert str(exc)
        return
    assert isinstance(d, Decoded) and isinstance(d.text, str) and d.encoding
    d.text.encode("utf-8")  # no lone surrogates reach the tables


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=200) |
       st.text(alphabet=st.sampled_from("第一条　，。（）！ＡＢＣ１２\r\n\t\x07\x0c\ufeff\ue000\ue765e\u0301\ud800 a"),
               max_size=60))
def test_normalise_never_crashes_and_is_idempotent(text):
    out = normalise(text)
    assert isinstance(out, str)
    out.encode("utf-8")
    assert normalise(out) == out
    assert "\r" not in out and "\ufeff" not in out
    assert not any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in out)
    for c in "，。（）！　\ue000\ue765":  # full-width punctuation and Private Use characters survive
        assert out.count(c) == text.count(c)


def test_normalise_keeps_private_use_characters():
    assert normalise("\ue000\ue001 ＡＢ！") == "\ue000\ue001 AB！"  # GBK user-defined characters are not punctuation
