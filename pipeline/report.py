"""Stage 6: coverage tables in, the documents a researcher hands on out.

Writes `coverage.xlsx` (one sheet per table), `summary.md`, `report.md` and `report.html` (one
self-contained file: heatmaps, gap list, evidence for every coloured cell; every document string escaped).
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from .io import write_bytes_atomic, write_text
from .taxonomy import Taxonomy

SHEETS = ("region_ranking", "coverage_region", "coverage_region_long", "gaps", "coverage_document",
          "coverage_document_long", "first_year", "coverage_by_year", "ingest_report")
EXCEL_CELL_LIMIT = 32767


def write_xlsx(tables: dict[str, pd.DataFrame], path: Path) -> None:
    import io

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name in SHEETS:
            if name not in tables:
                continue
            df = tables[name].copy()
            for c in df.columns:
                if df[c].dtype == object or str(df[c].dtype).startswith("str"):
                    # Excel rejects longer cells and would treat leading '=' as a formula
                    df[c] = df[c].astype("string").fillna("").map(
                        lambda s: ("'" + s if s[:1] in "=+-@" else s)[:EXCEL_CELL_LIMIT])
            df.to_excel(xw, sheet_name=name[:31], index=False)
            ws = xw.sheets[name[:31]]
            ws.freeze_panes = "B2"
    # openpyxl stamps the current time into docProps; fix it so identical runs give identical files
    write_bytes_atomic(path, _fix_xlsx_times(buf.getvalue()))


def _fix_xlsx_times(data: bytes) -> bytes:
    import io
    import re
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2000-01-01T00:00:00Z", content)
            zi = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, content)
    return out.getvalue()


def _md_table(df: pd.DataFrame, max_rows: int = 200) -> str:
    df = df.head(max_rows)
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "---|" * len(df.columns)
    rows = ["| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in r) + " |"
            for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def summary_md(tables: dict[str, pd.DataFrame], taxonomy: Taxonomy, counts: dict) -> str:
    rk = tables["region_ranking"]
    n_measures = len([n for n in taxonomy.leaves if n.facet == "measure"])
    lines = [
        "# Coverage summary", "",
        f"Taxonomy {taxonomy.version}: {len(taxonomy.leaves)} leaf nodes ({n_measures} recommendations). "
        f"Files found: {counts.get('files', 0)}; ingested: {counts.get('ingested', 0)}; "
        f"duplicates: {counts.get('duplicate_of', 0)}; skipped: {counts.get('skipped', 0)}; "
        f"failed: {counts.get('failed', 0)} (see ingest_report.csv).", "",
        "## Regions ranked by the paper's recommendations they address", "",
        _md_table(rk[["region", "region_name", "documents", "measures_addressed", "measure_coverage",
                      "models_addressed"]]), "",
    ]
    gaps = tables["gaps"]
    missing = gaps[(gaps["facet"] == "measure") & ~gaps["is_group"] & ~gaps["addressed"]]
    lines += ["## Recommendations not addressed, by region", ""]
    for region, g in missing.groupby("region", sort=False):
        lines.append(f"- **{region}**: " + ", ".join(g["node"]))
    if missing.empty:
        lines.append("Every region addresses every recommendation.")
    return "\n".join(lines) + "\n"


def report_md(tables: dict[str, pd.DataFrame], taxonomy: Taxonomy, counts: dict) -> str:
    parts = [summary_md(tables, taxonomy, counts), "## Gap audit (recommendations)", ""]
    gaps = tables["gaps"]
    rec = gaps[(gaps["facet"] == "measure") & ~gaps["is_group"]]
    for region, g in rec.groupby("region", sort=False):
        parts.append(f"### {region}")
        parts.append("")
        for r in g.itertuples(index=False):
            if r.addressed:
                parts.append(f"- ✅ `{r.node}` ({r.passages} passages, {r.documents} documents) — "
                             f"{r.evidence_title} {r.evidence_article}: {r.evidence_passage[:300]}")
            else:
                parts.append(f"- ❌ `{r.node}` — not addressed. Paper: {r.recommendation}")
        parts.append("")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------- HTML

def _heat(value: float) -> str:
    # white -> deep blue; text stays readable on both ends
    v = max(0.0, min(1.0, value))
    r, g, b = int(255 - 200 * v), int(255 - 150 * v), int(255 - 40 * v)
    return f"rgb({r},{g},{b})"


def _heatmap(tables, taxonomy, facet: str, title: str, evidence: dict) -> str:
    long = tables["coverage_region_long"]
    nodes = [n for n in taxonomy.nodes if n.facet == facet]
    regions = list(tables["region_ranking"]["region"])
    cell = {(r.region, r.node): r for r in long.itertuples(index=False)}
    e = html.escape
    head = "".join(f'<th class="col" title="{e(n.name["en"])}"><span>{e(n.id)}</span></th>' for n in nodes)
    rows = []
    for reg in regions:
        tds = []
        for n in nodes:
            c = cell.get((reg, n.id))
            docs, share = (c.documents, c.share) if c is not None else (0, 0.0)
            key = f"{reg}|{n.id}"
            attrs = f'class="cell{" hit" if docs else " miss"}{" group" if n.group else ""}" ' \
                    f'style="background:{_heat(share * 4 if docs else 0) if docs else "#fff"}" ' \
                    f'title="{e(reg)} × {e(n.id)}: {docs} document(s)"'
            if docs and key in evidence:
                attrs += f' data-key="{e(key)}" tabindex="0"'
            tds.append(f"<td {attrs}>{docs if docs else '·'}</td>")
        rows.append(f'<tr><th class="row">{e(reg)}</th>{"".join(tds)}</tr>')
    return (f'<h2>{e(title)}</h2><div class="scroll"><table class="heat" data-facet="{e(facet)}">'
            f'<thead><tr><th></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _marked_html(text: str, ev: list[dict]) -> str:
    spans = sorted((x["start"], x["end"]) for x in ev if 0 <= x.get("start", -1) < x.get("end", -1) <= len(text))
    out, pos = [], 0
    for s, t in spans:
        if s < pos:
            continue
        out += [html.escape(text[pos:s]), "<mark>", html.escape(text[s:t]), "</mark>"]
        pos = t
    out.append(html.escape(text[pos:]))
    return "".join(out)


def evidence_index(labels: pd.DataFrame, passages: pd.DataFrame, documents: pd.DataFrame, per_cell: int = 5) -> dict:
    """region|node -> up to `per_cell` strongest evidence passages, already escaped and marked as HTML."""
    from .aggregate import best_evidence

    ev = best_evidence(labels, passages, documents)
    ev = ev.groupby(["region", "node"], sort=False).head(per_cell)
    out: dict[str, list[dict]] = {}
    for r in ev.itertuples(index=False):
        out.setdefault(f"{r.region}|{r.node}", []).append({
            "title": html.escape(str(r.title)), "article": html.escape(str(r.label)),
            "doc": html.escape(str(r.doc_id)), "score": float(r.score), "source": html.escape(str(r.source)),
            "html": _marked_html(str(r.text), json.loads(r.evidence)),
        })
    return out


CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","WenQuanYi Micro Hei","Microsoft YaHei",
"PingFang SC",system-ui,sans-serif;margin:1.5rem;color:#1b1f24;max-width:1400px}
h1{font-size:1.5rem}h2{margin-top:2rem;font-size:1.2rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.8rem}
td,th{border:1px solid #d0d7de;padding:.25rem .4rem;text-align:center}
th.col{height:11rem;vertical-align:bottom;white-space:nowrap}th.col span{writing-mode:vertical-rl;transform:rotate(180deg)}
th.row{text-align:left;white-space:nowrap}td.hit{cursor:pointer;font-weight:600}td.miss{color:#bbb}
td.group{border-left:2px solid #57606a}td.sel{outline:3px solid #d4a72c}
#evidence{border:1px solid #d0d7de;padding:1rem;margin-top:1rem;min-height:3rem;background:#f6f8fa}
.ev{margin:.6rem 0;padding:.5rem;background:#fff;border-left:3px solid #0969da}
.ev .src{font-size:.8rem;color:#57606a}mark{background:#fff3b0}
table.list{width:100%}table.list td{text-align:left;vertical-align:top}.no{color:#cf222e}.yes{color:#1a7f37}
"""

JS = """
const EV = JSON.parse(document.getElementById('evidence-data').textContent);
function show(key, td){
  document.querySelectorAll('td.sel').forEach(x=>x.classList.remove('sel'));
  if(td) td.classList.add('sel');
  const box = document.getElementById('evidence');
  const items = EV[key] || [];
  const [region, node] = key.split('|');
  let h = '<h3>Evidence: ' + region.replace(/[<>&"]/g,'') + ' × ' + node.replace(/[<>&"]/g,'') + '</h3>';
  for (const it of items){
    h += '<div class="ev"><div class="src">' + it.title + ' ' + it.article + ' — ' + it.doc +
         ' (score ' + it.score.toFixed(2) + ', ' + it.source + ')</div><div class="txt">' + it.html + '</div></div>';
  }
  box.innerHTML = h;  // every string in EV was escaped when the report was written
}
document.querySelectorAll('td[data-key]').forEach(td=>{
  td.addEventListener('click',()=>show(td.dataset.key, td));
  td.addEventListener('keydown',e=>{if(e.key==='Enter')show(td.dataset.key, td)});
});
const first = document.querySelector('td[data-key]'); if(first) show(first.dataset.key, first);
"""


def report_html(tables, taxonomy: Taxonomy, evidence: dict, counts: dict) -> str:
    e = html.escape
    gaps = tables["gaps"]
    rec = gaps[(gaps["facet"] == "measure") & ~gaps["is_group"]]
    rk = tables["region_ranking"]
    rank_rows = "".join(
        f"<tr><td>{e(str(r.region))}</td><td>{e(str(r.region_name))}</td><td>{r.documents}</td>"
        f"<td>{r.measures_addressed}</td><td>{r.measure_coverage:.0%}</td><td>{r.models_addressed}</td></tr>"
        for r in rk.itertuples(index=False))
    gap_rows = []
    for r in rec.itertuples(index=False):
        status = '<span class="yes">addressed</span>' if r.addressed else '<span class="no">missing</span>'
        detail = (f"{e(str(r.evidence_title))} {e(str(r.evidence_article))}: {e(str(r.evidence_passage)[:240])}"
                  if r.addressed else f"Paper: {e(str(r.recommendation))}")
        gap_rows.append(f"<tr><td>{e(str(r.region))}</td><td>{e(str(r.node))}</td><td>{status}</td>"
                        f"<td>{r.passages}</td><td>{r.documents}</td><td>{detail}</td></tr>")
    lacking = (rec[~rec["addressed"]].groupby("node")["region"].apply(lambda s: ", ".join(sorted(s)))
               .reset_index().assign(n=lambda d: d["region"].str.count(",") + 1).sort_values(["n", "node"], ascending=[False, True]))
    lack_rows = "".join(f"<tr><td>{e(str(r.node))}</td><td>{r.n}</td><td>{e(str(r.region))}</td></tr>"
                        for r in lacking.itertuples(index=False))
    data = json.dumps(evidence, ensure_ascii=False).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="zh-Hans"><head><meta charset="utf-8"><title>Policy coverage and gap audit</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<style>{CSS}</style></head><body>
<h1>Industry–university–research cooperation: policy coverage and gaps</h1>
<p>Taxonomy {e(taxonomy.version)}. {counts.get('ingested', 0)} documents ingested of {counts.get('files', 0)} files found
({counts.get('failed', 0)} failed, {counts.get('skipped', 0)} skipped, {counts.get('duplicate_of', 0)} duplicates).
Cells count documents; click a coloured cell to see its evidence passages (matched terms marked).</p>
<h2>Regions ranked by recommendations addressed</h2>
<table class="list"><thead><tr><th>region</th><th>name</th><th>documents</th><th>recommendations addressed</th>
<th>coverage</th><th>models addressed</th></tr></thead><tbody>{rank_rows}</tbody></table>
{_heatmap(tables, taxonomy, "measure", "Region × recommendation", evidence)}
{_heatmap(tables, taxonomy, "model", "Region × cooperation model", evidence)}
<div id="evidence" aria-live="polite"></div>
<h2>Recommendations ranked by how many regions lack them</h2>
<table class="list"><thead><tr><th>recommendation</th><th>regions lacking</th><th>which</th></tr></thead>
<tbody>{lack_rows}</tbody></table>
<h2>Gap list</h2>
<table class="list" id="gaps"><thead><tr><th>region</th><th>recommendation</th><th>status</th><th>passages</th>
<th>documents</th><th>strongest evidence / paper's recommendation</th></tr></thead><tbody>{"".join(gap_rows)}</tbody></table>
<script type="application/json" id="evidence-data">{data}</script>
<script>{JS}</script>
</body></html>
"""
