"""The tables that flow between stages, written down once.

Every stage reads and writes these tables (Parquet between stages); `check` is called at each stage
boundary so a table with a missing or mistyped column fails loudly where it was produced, not three
stages later.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class SchemaError(ValueError):
    """A table does not match its declared schema."""


@dataclass(frozen=True)
class Table:
    name: str
    file: str
    columns: dict[str, pa.DataType]
    key: tuple[str, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c, t) for c, t in self.columns.items()])


STR, I64, F64, BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()

DOCUMENTS = Table(
    "documents", "documents.parquet",
    {
        "doc_id": STR,          # path relative to the corpus root, as written in the manifest
        "region": STR,
        "region_name": STR,
        "lang": STR,            # zh | en
        "title": STR,
        "date": STR,            # ISO date or ""
        "date_source": STR,     # manifest | filename | text:<form> (text:通过, text:Effective Date, ...) | ""
        "repealed": STR,        # the manifest's `repealed` as ISO (2019-06-30, 2019-06 or 2019) or "": in force from
                                # `date` until then
        "source_format": STR,   # txt | md | html | docx | pdf
        "encoding": STR,
        "content_hash": STR,    # sha256 of `text` (and `text_original`); the cache key of every per-document stage
        "converted_t2s": BOOL,  # Traditional Chinese converted to Simplified
        "text": STR,            # normalised text every later stage works on
        "text_original": STR,   # text before Traditional->Simplified conversion ("" when not converted)
        "extra": STR,           # JSON object of further manifest columns
    },
    key=("doc_id",),
)
# a document's metadata: every column but the texts (what aggregation, reports and reuse read)
DOCUMENT_META = tuple(c for c in DOCUMENTS.columns if c not in ("text", "text_original"))

INGEST_REPORT = Table(
    "ingest_report", "ingest_report.csv",
    {
        "path": STR,
        "status": STR,          # ingested | skipped | duplicate_of | failed
        "reason": STR,
        "doc_id": STR,
        "duplicate_of": STR,
        "encoding": STR,
        "bytes": I64,
        "region": STR,          # the region a file meant as a document is for (empty for notes and the like)
    },
    key=("path",),
)

PASSAGES = Table(
    "passages", "passages.parquet",
    {
        "passage_id": STR,      # "<doc_id>#<ordinal>"
        "doc_id": STR,
        "ordinal": I64,         # 1-based, document order
        "kind": STR,            # content: preamble | article | section_paragraph | paragraph | item; not coded:
                                # header | heading | signature
        "label": STR,           # citation: 第十条 / § 3710(a)(1) / ¶ 4
        "heading_path": STR,    # enclosing headings joined by " > "
        "start": I64,           # character offsets into documents.text
        "end": I64,
        "text": STR,
        # the same span of documents.text_original (Traditional Chinese as written) when the document was
        # converted and the two texts are of equal length (so offsets hold in both), else ""
        "text_original": STR,
        "lang": STR,
        "region": STR,
        "content_hash": STR,
    },
    key=("passage_id",),
)

TOKENS = Table(
    "tokens", "tokens.parquet",
    {
        "passage_id": STR,
        "doc_id": STR,
        "content_hash": STR,
        "tokens": pa.list_(STR),
    },
    key=("passage_id",),
)

LABELS = Table(
    "labels", "labels.parquet",
    {
        "passage_id": STR,
        "doc_id": STR,
        "region": STR,
        "node": STR,
        "score": F64,
        "source": STR,          # lexicon | model | lexicon+model | rollup
        "evidence": STR,        # JSON list of {"term", "start", "end", "rule"}
        "content_hash": STR,
    },
    key=("passage_id", "node"),
)

# aggregate's evidence: every leaf label with its passage and document, strongest first (score, then matched
# terms, then document order); the report's evidence index and cell pages read it and nothing else
EVIDENCE = Table(
    "evidence", "evidence.parquet",
    {
        **{c: LABELS.columns[c] for c in ("passage_id", "doc_id", "region", "node", "score", "source", "evidence",
                                          "content_hash")},
        "label": STR, "heading_path": STR, "text": STR, "start": I64,   # the passage's
        "title": STR, "date": STR,                                       # its document's
        "n_terms": I64,         # matched terms in `evidence`
        "lang": STR, "ev_heading": STR, "text_original": STR, "ordinal": I64,
        "strength": STR,        # the passage's strength of commitment (level name) and the cue it was read from
        "strength_cue": STR,
    },
    key=("passage_id", "node"),
)

TABLES = {t.name: t for t in (DOCUMENTS, INGEST_REPORT, PASSAGES, TOKENS, LABELS, EVIDENCE)}


def empty(table: Table) -> pd.DataFrame:
    return table.arrow_schema.empty_table().to_pandas()


def check(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Validate `df` against `table` and return it with columns in schema order.

    Raises SchemaError naming the table and the offending column.
    """
    _checked_arrow(df, table)
    return df[list(table.columns)].reset_index(drop=True)


def to_arrow(df: pd.DataFrame, table: Table) -> pa.Table:
    """`df` validated against `table` (as `check`) as an Arrow table in schema order."""
    # no pandas metadata: it records in-memory dtypes (object vs str) that vary with how a frame was built,
    # and identical tables must give identical bytes
    return _checked_arrow(df, table).replace_schema_metadata(None)


def _checked_arrow(df: pd.DataFrame, table: Table) -> pa.Table:
    """The Arrow table of `df`'s schema columns (converted once: the conversion is the type check)."""
    missing = [c for c in table.columns if c not in df.columns]
    if missing:
        raise SchemaError(f"table '{table.name}': missing column(s) {missing}")
    try:
        t = pa.Table.from_pandas(df[list(table.columns)], schema=table.arrow_schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(f"table '{table.name}': {exc}") from exc
    # a one-column key is checked on the Arrow column (far quicker); the first duplicate is looked up in pandas
    if len(table.key) != 1 or len(pc.unique(t.column(table.key[0]))) != t.num_rows:
        dupes = df.duplicated(list(table.key))
        if dupes.any():
            raise SchemaError(f"table '{table.name}': duplicate key {df.loc[dupes, list(table.key)].iloc[0].tolist()}")
    return t
