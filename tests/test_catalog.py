"""The catalog: one place that names every table and file of an output folder."""
import pandas as pd
import pytest

from pipeline.catalog import COVERAGE_TABLES, Catalog
from pipeline.io import ConfigError
from pipeline.taxonomy import load_taxonomy

from conftest import ROOT


def test_tables_have_one_home_and_missing_ones_say_which_stage_writes_them(tmp_path):
    catalog = Catalog(tmp_path)
    assert catalog.path("labels") == tmp_path / "labels.parquet"
    assert catalog.path("gaps", "csv") == tmp_path / "gaps.csv"
    assert catalog.cache("passages") == tmp_path / "cache" / "passages.parquet"
    with pytest.raises(ConfigError, match=r"labels\.parquet: missing; .*'labels'.*\(classify\)"):
        catalog.load("labels")
    with pytest.raises(KeyError):
        catalog.path("no_such_table")
    one = load_taxonomy(ROOT / "taxonomy")
    outputs = catalog.reporting_outputs(one)
    assert tmp_path / "report.html" in outputs and tmp_path / "human_coding.csv" in outputs
    assert len(outputs) == 2 * len(COVERAGE_TABLES) + 1 + 5 and tmp_path / "evidence.parquet" in outputs
    two = load_taxonomy(f"{ROOT / 'taxonomy'},{ROOT / 'taxonomy' / 'policy_tools'}")
    assert set(catalog.reporting_outputs(two)) - set(outputs) == {tmp_path / "crosstab.csv", tmp_path / "crosstab.parquet"}


def test_a_coverage_table_is_saved_for_people_and_programs(tmp_path):
    catalog = Catalog(tmp_path)
    frame = pd.DataFrame({"region": ["CN-SD", "US"], "documents": [3, 1]})
    catalog.save("region_ranking", frame)
    assert catalog.path("region_ranking", "csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8
    pd.testing.assert_frame_equal(catalog.load("region_ranking"), frame)
    with pytest.raises(KeyError):
        catalog.save("labels", frame)  # written in parts by the chunked stages, never whole


def test_the_evidence_table_is_checked_against_its_schema_both_ways(tmp_path):
    from pipeline.schemas import EVIDENCE, SchemaError

    catalog = Catalog(tmp_path)
    with pytest.raises(ConfigError, match=r"evidence\.parquet: missing; .*\(aggregate\)"):
        catalog.load("evidence")
    row = {c: ("x" if t == "string" else 1 if t == "int64" else 0.5) for c, t in
           ((c, str(t)) for c, t in EVIDENCE.columns.items())}
    catalog.save("evidence", pd.DataFrame([row]))
    assert catalog.load("evidence").iloc[0].to_dict() == row
    with pytest.raises(SchemaError, match="evidence.*strength"):
        catalog.save("evidence", pd.DataFrame([row]).drop(columns=["strength"]))
