"""The report's Jinja2 templates: autoescaping of what the corpus supplies, strict names, the Markdown filter,
and the templates shipped with the package."""
from __future__ import annotations

import tomllib

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from pipeline import report

from conftest import ROOT


def test_page_title_from_the_corpus_is_escaped_our_markup_is_not():
    page = report._page('</title><script>alert(1)</script> "Q" & \'A\'', "<p>ours</p>")
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    # the stdlib's entities, as the pages were written before templates
    assert title == "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; &quot;Q&quot; &amp; &#x27;A&#x27;"
    assert "<script>alert(1)" not in page and "<p>ours</p>" in page
    assert page.count("<script") == 0  # no script given, none written


def test_html_template_escapes_any_unmarked_value_and_rejects_unknown_names():
    t = report.HTML.from_string("{{ a }}|{{ b }}|{{ c }}")
    assert t.render(a="<i>", b=Markup("<i>"), c=None) == "&lt;i&gt;|<i>|"
    with pytest.raises(UndefinedError):
        t.render(a="x", b="y")


def test_markdown_template_makes_corpus_text_inert():
    t = report.MARKDOWN.from_string("{{ v|md }}")
    assert t.render(v="<script>x</script> [a](b) | *c*") == r"&lt;script&gt;x&lt;/script&gt; \[a\](b) \| \*c\*"
    with pytest.raises(UndefinedError):
        report.MARKDOWN.from_string("{{ missing|md }}").render()


def test_every_template_is_package_data():
    shipped = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["pipeline"]
    folder = ROOT / "pipeline" / "templates"
    files = sorted(f for f in folder.iterdir() if f.is_file())
    unshipped = [f.name for f in files if not any(f.relative_to(folder.parent).match(p) for p in shipped)]
    assert files and not unshipped
    # the pages' stylesheets and scripts are read from there too
    assert {"report.css", "page.css", "report.js", "cell.js"} <= {f.name for f in files}
    templates = [f for f in files if f.suffix == ".j2"]
    for t in templates:
        (report.MARKDOWN if t.name.endswith(".md.j2") else report.HTML).get_template(t.name)  # parses


def test_editing_a_template_changes_the_report_fingerprint(monkeypatch):
    from pipeline import nodes
    before, aggregate = nodes.fingerprint("report"), nodes.fingerprint("aggregate")
    real = nodes.Path.read_bytes

    def edited(self):
        data = real(self)
        return data + b"<!-- edited -->" if self.name == "page.html.j2" else data
    monkeypatch.setattr(nodes.Path, "read_bytes", edited)
    assert nodes.fingerprint("report") != before
    assert nodes.fingerprint("aggregate") == aggregate
