"""The review loop: the tool picks the passages whose coding would teach the model most, a researcher codes
them in a workbook, and the coded passages go into a store the next `train` learns from.

Picking (`pick`) scores every passage of a pool the model scored:
- uncertainty: how close a node's calibrated probability is to that node's threshold (in log-odds), each node
  weighted up where few coded examples exist;
- disagreement: the lexicon's own rules decide a node the model rejects, or the model labels a node no term
  of which occurs;
then takes the best passages greedily, skipping any too similar to one already taken (diversity) and any
already coded. Each pick says why it was taken.

Importing (`import_coded`) checks every row of a coded sheet (node IDs, ids, coder) and imports nothing from
a file with errors; the store they go to (coded/*.jsonl, `coded.py`) is append-only and an import of the same
rows again adds nothing. Agreement is reported on the batch: model vs coder per node and Krippendorff's alpha, and coder vs
coder where two people coded a passage.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sklearn.feature_extraction.text import TfidfVectorizer

from .aggregate import as_written, cite_as_written
from .classify import label_matrix
from .coded import coder_pairs, codings_by_passage
from .evaluate import alpha, scores
from .io import FORMULA_START, ConfigError, csv_delimiter, restore, write_bytes_atomic, write_csv
from .workbook import _cell as xlsx_cell
from .taxonomy import Taxonomy

NONE = "none"           # what a coder writes for a passage that carries no node
LABEL_COLUMNS = 5       # single-choice columns with a drop-down of node IDs (more go into `labels`)
SIMILAR = 0.8           # cosine similarity above which a passage counts as a near-duplicate of a pick
CODER_COLUMNS = [f"label_{k}" for k in range(1, LABEL_COLUMNS + 1)] + ["labels", "coder", "note"]
# a Traditional-Chinese passage is shown as written in `text`; the text it is coded in, which the store keeps
# (runs compare a coding's text with their passages'), stands in this last column, hidden in the workbook
CODED_TEXT = "text_coded"


def coded_text(row: dict):
    """The text a row of a review sheet or picks file is coded in: the hidden column where the shown text is
    the document's own writing, else the shown text (None if the row has neither)."""
    coded = row.get(CODED_TEXT)
    return coded if isinstance(coded, str) and coded.strip() else row.get("text")


# ------------------------------------------------------------------------------------------------ picking

# a pick: its place, the pool row, its value and why; a gap check also names the gap (region, node) it checks
PICK_COLUMNS = ["rank", "index", "value", "reason", "gap_region", "gap_node"]


def pick(pool: pd.DataFrame, proba: np.ndarray, lexicon: np.ndarray, model, n: int,
         coded_ids: set[str] = frozenset(), vectors=None, picked_before: list[int] = ()) -> pd.DataFrame:
    """The `n` passages of `pool` most worth coding, most valuable first, each with its `reason` and `value`.

    `proba`: the model's calibrated probabilities (passages x leaves); `lexicon`: the lexicon's own decisions
    (0/1, same shape); `vectors`: rows to compare passages by (e.g. TF-IDF), for diversity; `picked_before`:
    rows of the same sheet picked otherwise (gap checks), which are not picked again nor matched by a near copy."""
    worth = _Worth(pool, proba, lexicon, model)
    taken = _diverse(np.argsort(-worth.value, kind="stable"), n, worth.value, pool["id"].astype(str).tolist(),
                     coded_ids, vectors, [int(i) for i in picked_before])
    rows = [{"rank": k, "index": i, "value": round(float(worth.value[i]), 4),
             "reason": "; ".join(worth.reasons(i)) or "closest to the thresholds among the rest",
             "gap_region": "", "gap_node": ""} for k, i in enumerate(taken, 1)]
    return pd.DataFrame(rows, columns=PICK_COLUMNS)


class _Worth:
    """What coding each passage of a pool is worth to the model: per node, closeness to the node's threshold,
    more for nodes with few coded examples; per passage, the best of its nodes, and more where the lexicon and
    the model disagree."""

    def __init__(self, pool: pd.DataFrame, proba: np.ndarray, lexicon: np.ndarray, model):
        self.nodes, self.proba, self.lexicon, self.positives = list(model.nodes_), proba, lexicon, model.positives_
        self.t = np.clip(model.thresholds_for(pool["lang"]) if "lang" in pool else np.asarray(model.thresholds_, float),
                         1e-3, 1 - 1e-3)
        p = np.clip(proba, 1e-6, 1 - 1e-6)
        margin = np.abs(np.log(p / (1 - p)) - np.log(self.t / (1 - self.t)))        # 0 at the threshold
        rarity = 1.0 / np.sqrt(1.0 + np.asarray(model.positives_, dtype=float) / 10.0)
        self.node_value = np.exp(-margin) * (0.5 + rarity)                     # per passage x node
        chosen = proba >= self.t
        self.disagree = (lexicon.astype(bool) & ~chosen) | (chosen & ~lexicon.astype(bool) & (proba < 0.9))
        self.value = self.node_value.max(axis=1) + 0.3 * self.disagree.any(axis=1)

    def reasons(self, i: int) -> list[str]:
        """Why passage `i` is worth coding, in words: its two most uncertain nodes, and where lexicon and model
        disagree."""
        reasons, t, proba, nodes = [], self.t, self.proba, self.nodes
        for j in np.argsort(-self.node_value[i])[:2]:
            if self.node_value[i, j] > 0.3:
                threshold = t[i, j] if t.ndim == 2 else t[j]
                few = f", {int(self.positives[j])} coded examples" if self.positives[j] < 30 else ""
                reasons.append(f"uncertain {nodes[j]} (p={proba[i, j]:.2f}, threshold {threshold:.2f}{few})")
        for j in np.flatnonzero(self.disagree[i])[:2]:
            said = "yes" if self.lexicon[i, j] else "no"
            reasons.append(f"lexicon and model disagree on {nodes[j]} (lexicon {said}, model p={proba[i, j]:.2f})")
        return reasons


def _diverse(order: np.ndarray, n: int, value: np.ndarray, ids: list[str], coded_ids: set[str], vectors,
             before: list[int]) -> list[int]:
    """The first `n` rows of `order` worth anything that are not coded, not picked `before`, and no near copy
    (cosine similarity of `vectors` >= SIMILAR) of one picked before or already taken."""
    taken: list[int] = []
    sims = vectors.tocsr() if vectors is not None else None
    for i in order:
        if len(taken) >= n:
            break
        if ids[i] in coded_ids or value[i] <= 0 or i in before:
            continue
        if sims is not None and (taken or before):
            s = (sims[before + taken] @ sims[i].T).toarray().ravel()
            if s.max(initial=0.0) >= SIMILAR:
                continue
        taken.append(int(i))
    return taken


def gap_checks(pool: pd.DataFrame, proba: np.ndarray, predicted: list[list[str]], model, audited: list[str],
               per_gap: int, codings: dict[tuple[str, str], list[str]] | None = None) -> pd.DataFrame:
    """For every gap the model leaves (a region, `pool["region"]`, none of whose passages it labels with an
    audited node), the `per_gap` passages of that region most likely to address the node: a coder who reads
    them confirms the gap or finds the passage the model missed. Gaps whose best passage scores highest come
    first (the likeliest false gaps); a passage is picked once, for its first gap. Same columns as `pick`.

    `predicted`: each passage's predicted leaf labels; `audited`: the node IDs the gap audit is about;
    `codings`: the coded store's latest codings ((passage id, coder) -> labels, coded.latest_codings). A coded
    passage is not picked, and a gap a coder has filled with a passage of the region needs no check."""
    t = model.thresholds_for(pool["lang"])
    candidates, gaps = _open_gaps(pool, proba, predicted, model, audited, codings or {})
    taken, out = set(), []
    for _, region, node, j, ranked in sorted(candidates, key=lambda c: c[:3]):
        # a passage already picked for another gap is passed over for the next most likely one
        mine = [(k, i) for k, i in enumerate(ranked.tolist(), 1) if i not in taken][:per_gap]
        where = f"of {region} " if region else ""
        for k, i in mine:
            taken.add(i)
            out.append({"rank": len(out) + 1, "index": i, "value": round(float(proba[i, j]), 4),
                        "gap_region": region, "gap_node": node,
                        "reason": f"gap check: no passage {where}is labelled {node}; the {_ordinal(k)} most likely "
                                  f"to address it (p={proba[i, j]:.2f}, threshold {t[i, j]:.2f}). Give it "
                                  f"{node} if it does"})
    checks = pd.DataFrame(out, columns=PICK_COLUMNS)
    # every gap, checked or not: in a small corpus a region's passages run out before its gaps do
    checks.attrs["gaps"] = gaps
    return checks


def _open_gaps(pool: pd.DataFrame, proba: np.ndarray, predicted: list[list[str]], model, audited: list[str],
               codings: dict[tuple[str, str], list[str]]) -> tuple[list[tuple], int]:
    """The gaps a check can look into, each as (minus the probability of its likeliest passage, region, node,
    the node's column in `proba`, the region's uncoded passages most likely first), and how many gaps there
    are, those too whose region has no uncoded passage left."""
    col = {n: j for j, n in enumerate(model.nodes_)}
    regions = pool["region"].fillna("").astype(str).to_numpy() if "region" in pool else np.full(len(pool), "")
    ids = pool["id"].astype(str).tolist()
    region_of = dict(zip(ids, regions))
    coded_ids = {pid for pid, _ in codings}
    filled = {(region_of[pid], n) for (pid, _), labels in codings.items() if pid in region_of for n in labels}
    candidates, gaps = [], 0
    for region in sorted(set(regions)):
        members = np.flatnonzero(regions == region)
        uncoded = members[[ids[i] not in coded_ids for i in members]]
        labelled = {n for i in members for n in predicted[i]}
        for node in audited:
            if node in labelled or node not in col or (region, node) in filled:
                continue
            gaps += 1
            if not len(uncoded):  # every passage of the region coded: a gap left without a check
                continue
            j = col[node]
            ranked = uncoded[np.argsort(-proba[uncoded, j], kind="stable")]
            candidates.append((-float(proba[ranked[0], j]), region, node, j, ranked))
    return candidates, gaps


def _ordinal(k: int) -> str:
    """'passage', 'second passage', ..., '11th passage': the k-th passage of a ranking, in words."""
    words = {1: "passage", 2: "second passage", 3: "third passage", 4: "fourth passage", 5: "fifth passage"}
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return words.get(k, f"{k}{suffix} passage")


def score_pool(clf, pool: pd.DataFrame, tokens: list[list[str]]) -> dict:
    """What picking needs about each passage of a pool: the model's probabilities, the lexicon's own
    decisions, the predicted labels with their evidence, and TF-IDF rows for diversity."""
    texts, langs = pool["text"].tolist(), pool["lang"].tolist()
    contexts = pool["context"].tolist() if "context" in pool else None
    sc: list[dict] = []
    hits = clf.matcher.match_many(texts, langs, tokens=tokens)
    labels = clf.predict(texts, langs, tokens, scores=sc, contexts=contexts, hits=hits)
    nodes = clf.leaf_ids
    proba = np.array([[row[n] for n in nodes] for row in sc]) if sc else np.zeros((0, len(nodes)))
    col = {n: j for j, n in enumerate(nodes)}
    lexicon = np.zeros_like(proba)
    for i, hs in enumerate(hits):
        for node in (clf.matcher.decide(texts[i], langs[i], hs) if hs else {}):
            lexicon[i, col[node]] = 1

    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True).fit_transform(texts) \
        if texts else None
    return {"proba": proba, "lexicon": lexicon, "labels": labels, "vectors": vectors}


def picks_table(pool: pd.DataFrame, scored: dict, picked: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """One row per pick, most valuable first: the passage, what the model predicts (with names, scores and
    evidence) and why it was picked."""
    names = {n.id: n.name for n in taxonomy.leaves}
    rows = []
    for r in picked.itertuples(index=False):
        i = r.index
        src = pool.iloc[i]
        labs = scored["labels"][i]
        text = str(src["text"])
        original = src.get("text_original")
        shown = as_written(text, original if isinstance(original, str) else "")
        rows.append({
            "rank": r.rank, "id": str(src["id"]), "title": str(src.get("title", "") or ""),
            "citation": cite_as_written(str(src.get("citation", "") or ""), text, shown),
            # the chapter or section the passage stands in: the coder reads it, and the model, which sees it as
            # the passage's context when it labels the corpus, learns the coded passage with it too
            "heading": str(src.get("heading_written", "") or src.get("heading_path", "") or ""),
            "region": str(src.get("region", "") or ""),
            "lang": str(src["lang"]), "text": shown,
            "predicted": "; ".join(f"{l.node} {names[l.node]['zh']} / {names[l.node]['en']} ({l.score:.2f})"
                                   for l in labs),
            "evidence": "; ".join(f"{l.node}: {', '.join(e['term'] for e in l.evidence)}" for l in labs if l.evidence),
            "reason": r.reason, "gap_region": r.gap_region, "gap_node": r.gap_node, "value": r.value,
            CODED_TEXT: text if shown != text else "",
        })
    return pd.DataFrame(rows)


def next_sheet(folder: Path) -> Path:
    """review-001.xlsx, review-002.xlsx, ...: the first number not used yet in `folder`."""
    used = [int(m.group(1)) for p in folder.glob("review-*.*") if (m := re.match(r"review-(\d+)\.", p.name))]
    return folder / f"review-{(max(used) + 1 if used else 1):03d}.xlsx"


def write_sheets(rows: pd.DataFrame, taxonomy: Taxonomy, xlsx: Path) -> list[Path]:
    """The picks as a workbook for coders (and the same rows as CSV and JSON lines beside it)."""
    xlsx.parent.mkdir(parents=True, exist_ok=True)
    out = rows.copy()
    for c in CODER_COLUMNS:
        if c not in out:
            out[c] = ""
    if CODED_TEXT in out:  # after the coder's columns, out of the way
        out = out[[c for c in out.columns if c != CODED_TEXT] + [CODED_TEXT]]
    write_csv(out, xlsx.with_suffix(".csv"))
    lines = [json.dumps({k: (v if not isinstance(v, np.generic) else v.item()) for k, v in r.items()},
                        ensure_ascii=False) for r in out.to_dict("records")]
    write_bytes_atomic(xlsx.with_suffix(".jsonl"), ("\n".join(lines) + "\n").encode("utf-8"))
    _write_review_xlsx(out, taxonomy, xlsx)
    return [xlsx, xlsx.with_suffix(".csv"), xlsx.with_suffix(".jsonl")]


def _write_review_xlsx(rows: pd.DataFrame, taxonomy: Taxonomy, path: Path) -> None:
    """The coder's workbook: the picks on sheet 'review' (the coder's columns yellow, their label columns a
    drop-down of node IDs), the IDs to pick from on 'nodes', and how to code on 'how to code'."""
    wb = Workbook()
    ws = wb.active
    ws.title = "review"
    _fill_review_sheet(ws, rows)
    node_ids = _add_nodes_sheet(wb, taxonomy)
    dv = DataValidation(type="list", formula1=f"={node_ids}", allow_blank=True,
                        showErrorMessage=True, errorTitle="Unknown node",
                        error="Pick a node ID from the list (sheet 'nodes'), or 'none'.")
    ws.add_data_validation(dv)
    for k, c in enumerate(rows.columns, start=1):
        if c.startswith("label_"):
            letter = ws.cell(row=1, column=k).column_letter
            dv.add(f"{letter}2:{letter}{max(len(rows) + 1, 2)}")
    _add_guide_sheet(wb)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    tmp.replace(path)


def _fill_review_sheet(ws, rows: pd.DataFrame) -> None:
    """The picks, one a row under a bold header, wrapped; the coder's columns yellow and text-typed."""
    cols = list(rows.columns)
    ws.append(cols)
    for r in rows.itertuples(index=False):
        ws.append([xlsx_cell(v) for v in r])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                cell.data_type = "s"  # shown as written, never evaluated
                cell.quotePrefix = True
    widths = {"text": 70, "predicted": 40, "evidence": 30, "reason": 40, "title": 24, "labels": 30, "note": 30}
    fill = PatternFill("solid", fgColor="FFF2CC")  # the columns a coder fills in
    for k, c in enumerate(cols, start=1):
        letter = ws.cell(row=1, column=k).column_letter
        ws.column_dimensions[letter].width = widths.get(c, 16 if c in CODER_COLUMNS else 14)
        ws.column_dimensions[letter].hidden = c == CODED_TEXT
        ws.cell(row=1, column=k).font = Font(bold=True)
        for row in ws.iter_rows(min_row=2, min_col=k, max_col=k):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                if c in CODER_COLUMNS:
                    cell.fill = fill
                    # text, so that a numbered codebook's 1.10 typed in stays 1.10 and is not the number 1.1
                    cell.number_format = "@"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions


def _add_nodes_sheet(wb: Workbook, taxonomy: Taxonomy) -> str:
    """Sheet 'nodes': every leaf node a coder may give, with its names and definition, and 'none'. Returns the
    range of its IDs, which the label columns' drop-down lists."""
    nodes = wb.create_sheet("nodes")
    nodes.append(["node", "name_en", "name_zh", "facet", "definition"])
    for n in taxonomy.leaves:
        nodes.append([n.id, n.name["en"], n.name["zh"], n.facet, n.definition])
    nodes.append([NONE, "no node applies", "不涉及任何节点", "", ""])
    for letter, w in zip("ABCDE", (40, 40, 30, 12, 80)):
        nodes.column_dimensions[letter].width = w
    nodes.freeze_panes = "A2"
    return f"nodes!$A$2:$A${len(taxonomy.leaves) + 2}"


def _add_guide_sheet(wb: Workbook) -> None:
    guide = wb.create_sheet("how to code")
    for line in ("Code each row in the yellow columns: pick node IDs in label_1 ... label_5 (or write more, comma-"
                 "separated, in 'labels'); write 'none' when no node applies; put your name in 'coder'.",
                 "Rows left without any label and without 'none' are not imported (code as many as you like).",
                 "Import with: make review-import FILE=<this file> CODER=<your name>",
                 "The coding conventions are those of the codebook: definitions, purpose, scope and effective-date "
                 "clauses get no label; penalty clauses only measure.ip.legal for IP infringement."):
        guide.append([line])
    guide.column_dimensions["A"].width = 140


# ------------------------------------------------------------------------------------------------ importing

ROW = "__row__"  # where a row of a review file was: its row in the sheet, or its line in a .jsonl file
# columns a coded row is read from; a sheet that has them under other names would be read as uncoded
_READ_COLUMNS = ["id", "passage_id", "text", CODED_TEXT, "lang", "title", "heading", *CODER_COLUMNS, "gap_region",
                 "gap_node"]


def read_sheet(path: Path) -> tuple[list[dict], str]:
    """Rows of a coded review file (.xlsx, .csv or .jsonl) as dicts (each with its row or line under `ROW`), and
    the sheet's name for messages. A header that would make rows be read wrong (a renamed, repeated or extra
    label column) is an error naming the file and the column."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; FILE= names one coded review sheet (.xlsx, .csv or .jsonl)")
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    if suffix == ".xlsx":
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # not a workbook, damaged zip, ...
            raise ConfigError(f"{path}: not a readable workbook ({exc.__class__.__name__})") from None
        ws = wb["review"] if "review" in wb.sheetnames else wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(it, [])]
        _check_header(path, header)
        rows = [{ROW: k, **{h: ("" if v is None else v) for h, v in zip(header, r) if h}}
                for k, r in enumerate(it, start=2)]
        wb.close()
        return rows, ws.title
    if suffix == ".csv":
        from .text import DecodeError, decode_bytes

        try:  # Excel writes the user's code page (GBK in a Chinese locale), not always UTF-8
            text = decode_bytes(path.read_bytes()).text.lstrip("\ufeff")
        except DecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
        header = [h.strip() for h in next(reader, [])]
        _check_header(path, header)
        # the review wrote its CSV with a text cell that starts like a formula quoted ("'- Section 3."), for Excel;
        # the quote is no part of the passage, whose text must match its document's for the coding to count
        return [{ROW: k, **{h: restore(v) for h, v in zip(header, r) if h}}
                for k, r in enumerate(reader, start=2)], path.name
    if suffix == ".jsonl":
        rows = []
        for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if line.strip():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path} line {n}: not JSON ({exc.msg})") from None
                if not isinstance(r, dict):
                    raise ConfigError(f"{path} line {n}: expected an object")
                rows.append({**r, ROW: n})
        _check_header(path, list(dict.fromkeys(k for r in rows for k in r if k != ROW)), lines=True)
        return rows, path.name
    raise ConfigError(f"{path}: expected a .xlsx, .csv or .jsonl file of coded passages")


def _check_header(path: Path, header: list[str], lines: bool = False) -> None:
    """Refuse a header that would silently lose codings: a column repeated (the last one read would win), a
    label or coder column renamed ('Label_1', 'label 1') or added (label_6), no id column, no label column."""
    problems = []
    named = [h for h in header if h]
    for h in dict.fromkeys(h for h in named if named.count(h) > 1):
        problems.append(f"column '{h}' appears {named.count(h)} times")
    for h in named:
        if h in _READ_COLUMNS:
            continue
        key = re.sub(r"[\s\-]+", "_", h.strip().lower())
        if key in _READ_COLUMNS:
            problems.append(f"column '{h}' is not read: rename it '{key}'")
        elif re.fullmatch(r"labels?_?\d+", key):
            problems.append(f"column '{h}' is not read (the label columns are {', '.join(CODER_COLUMNS[:LABEL_COLUMNS])} "
                            f"and labels, which takes several node IDs)")
    if not {"id", "passage_id"} & set(named):
        problems.append("no 'id' column")
    if not set(CODER_COLUMNS[:LABEL_COLUMNS + 1]) & set(named):
        problems.append("no label column (label_1 ... or labels)")
    if problems:
        what = "keys" if lines else "header"
        raise ConfigError(f"{path}: nothing imported: its {what} would lose codings: " + "; ".join(problems))


def _cell_text(v) -> str:
    """A cell of a coded sheet read back as text, trimmed (xlsx_cell is the other way: a value into a cell). The
    quote a CSV puts before a cell that starts like a formula is read_sheet's to take off, once."""
    return "" if v is None else str(v).strip()


def coded_rows(rows: list[dict], sheet: str, taxonomy: Taxonomy, coder: str | None) -> list[dict]:
    """Validate coded rows: every error names the sheet, the row and the value; any error imports nothing."""
    leaves = set(taxonomy.leaf_ids)
    out, errors = [], []
    coded_at: dict[tuple[str, str], tuple[object, list[str]]] = {}  # (id, coder) -> the row and labels first given
    if rows and not coder and not any("coder" in r for r in rows):
        raise ConfigError(f"nothing imported: {sheet} has no 'coder' column; add one or give CODER=")
    for k, r in enumerate(rows, start=2):  # row 1 is the header (rows read by read_sheet say where they were)
        k = r.get(ROW, k)
        where = f"{sheet} row {k}"
        if numbers := _label_numbers(r):
            errors.append(f"{where}: {'; '.join(numbers)}, not a node ID as written (a spreadsheet reads 1.10 as "
                          f"1.1): format the label columns as text, or type the ID with a leading ' ('1.10), and code "
                          f"the row again")
            continue
        values = _coded_values(r, taxonomy, leaves)
        if not values:
            continue  # not coded (yet)
        pid = _passage_id(r)
        if not pid:
            errors.append(f"{where}: missing id")
        who = _cell_text(r.get("coder")) or (coder or "")
        if not who:
            errors.append(f"{where}: empty coder (fill the column or give CODER=)")
        errors += [f"{where}: {e}" for e in _label_errors(values, taxonomy, leaves)]
        text = coded_text(r)
        if not isinstance(text, str) or not text.strip():
            errors.append(f"{where}: no passage text")
        labels = sorted({v for v in values if v in leaves})
        # a row copied and coded otherwise: the later row would silently be the coding
        if pid and who and (first := coded_at.get((pid, who))) is not None:
            if first[1] != labels:
                errors.append(f"{where}: {pid} is coded by {who} in row {first[0]} too, otherwise "
                              f"({'; '.join(labels) or NONE} against {'; '.join(first[1]) or NONE})")
            continue  # the same coding twice is one
        coded_at[(pid, who)] = (k, labels)
        # a row without text is an error above, which imports nothing: `text` is a text here
        out.append({ROW: k, "id": pid, "text": text, "lang": _cell_text(r.get("lang")),
                    "labels": labels, "coder": who, "note": _cell_text(r.get("note")),
                    "title": _cell_text(r.get("title")), "heading": _cell_text(r.get("heading")),
                    "region": _cell_text(r.get("region"))})
    if errors:
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        raise ConfigError("nothing imported: " + "; ".join(errors[:20]) + more)
    return out


def _passage_id(r: dict) -> str:
    """The passage a coded row is of: its id column, else passage_id (as the run's tables name the column)."""
    return _cell_text(r.get("id") or r.get("passage_id"))


def _label_numbers(r: dict) -> list[str]:
    """The label cells of a row that hold a number: a spreadsheet stores a typed 1.10 as the number 1.1, which
    read as text would be another node's ID."""
    return [f"{c} holds the number {v!r}" for c in CODER_COLUMNS[:LABEL_COLUMNS + 1]
            for v in (r.get(c) if isinstance(r.get(c), list) else [r.get(c)])
            if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _label_errors(values: list[str], taxonomy: Taxonomy, leaves: set[str]) -> list[str]:
    """What is wrong with a row's coded values: IDs of no leaf node (with the node they likely meant), 'none'
    beside node IDs."""
    errors = []
    for v in values:
        if v != NONE and v not in leaves:
            meant = taxonomy.leaf_meant(v)
            hint = (" (a group: code its leaves)" if v in taxonomy.by_id else
                    f" (did you mean {meant}?)" if meant else "")
            errors.append(f"unknown node ID {v!r}{hint}")
    if NONE in values and len(set(values)) > 1:
        errors.append("'none' together with node IDs")
    return errors


def _coded_values(r: dict, taxonomy: Taxonomy, leaves: set[str]) -> list[str]:
    """What a coder wrote in a row's label columns and its labels cell (IDs split at commas, semicolons, line
    breaks and spaces; a node's name kept whole), with NONE for their none; [] for a row not coded."""
    values = [_cell_text(r.get(c)) for c in CODER_COLUMNS[:LABEL_COLUMNS]]
    labels_cell = r.get("labels", "")
    if isinstance(labels_cell, list):
        values += [str(x) for x in labels_cell]
    else:
        for part in re.split(r"[,;，；\n\r\t]+", _cell_text(labels_cell)):
            # IDs a space apart are several IDs; a node's name from the 'nodes' sheet ('Business incubators')
            # is one value, refused with the ID it names rather than as an unknown ID a word
            whole = " ".join(part.split())
            values += ([whole] if " " in whole and whole not in leaves and taxonomy.leaf_meant(whole)
                       else part.split())
    # 'None' or 'NONE' is the coder's none: spreadsheets capitalise a cell's first letter as it is typed
    return [NONE if v.casefold() == NONE else v for v in values if v]


def gap_check_outcomes(rows: list[dict], records: list[dict]) -> list[tuple[str, str, bool]]:
    """(region, node, found) for each coded row of the sheet that was picked as a gap check (its `gap_node`,
    in `gap_region`): found when the coder gave the passage that node, i.e. the gap is false."""
    coded = {r["id"]: set(r["labels"]) for r in records}
    out = []
    for r in rows:
        node, pid = _cell_text(r.get("gap_node")), _passage_id(r)
        if node and pid in coded:
            out.append((_cell_text(r.get("gap_region")), node, node in coded[pid]))
    return out


def agreement(records: list[dict], predicted: list[list[str]], nodes: list[str], store: list[dict],
              langs: list[str] | None = None) -> dict:
    """Model vs coder on a batch (per node and Krippendorff's alpha), and coder vs coder on the passages of the
    batch that someone else coded too (from the store)."""
    Yc = label_matrix([r["labels"] for r in records], nodes)
    Ym = label_matrix(predicted, nodes)
    per_node, summary = scores(Yc, Ym, nodes, langs or [r.get("lang") or "?" for r in records])
    batch_ids = {r["id"] for r in records}
    pairs = coder_pairs(codings_by_passage([r for r in store if r["id"] in batch_ids]))
    coders = None
    if pairs:
        A = label_matrix([a for a, _ in pairs], nodes)
        B = label_matrix([b for _, b in pairs], nodes)
        coders = {"passages": len(pairs), "alpha": round(alpha(A, B), 4),
                  "exact_agreement": round(float(np.mean([(a == b).all() for a, b in zip(A, B)])), 4)}
    return {"per_node": per_node[(per_node["support"] + per_node["predicted"]) > 0], "summary": summary,
            "coders": coders}
