"""What one region (or one corpus run) addresses that another does not."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from .aggregate import counts_documents_out_of_force, with_names
from .catalog import COMPARISON_FILES, Catalog
from .io import ConfigError, write_csv
from .runlog import record, stage_entry
from .taxonomy import load_taxonomy

# what is compared: documents addressing each node, per region
TABLE = "coverage_region_long"


def _side(spec: str, out: Path) -> tuple[str, pd.Series, Path, pd.DataFrame, bool]:
    """Documents addressing each node for a region code in `out`, or for a whole other run folder, the folder
    they come from, its table, and whether a count holds a document no longer in force. The series has a row for
    every node the folder was coded for (the table has one per region and node, zeros too), so its index is that
    folder's node set."""
    if not spec.strip():
        raise ConfigError("not given (a region code of --out, or an output folder)")
    p = Path(spec)
    if p.is_dir() and Catalog(p).path(TABLE).exists():
        long = Catalog(p).load(TABLE)
        return (p.name or str(p), long.groupby("node", sort=False)["documents"].sum(), p, long,
                counts_documents_out_of_force(long))
    path = Catalog(out).path(TABLE)
    if not path.exists():
        raise ConfigError(f"{path}: missing; run the pipeline first (make run) or pass an output folder")
    long = Catalog(out).load(TABLE)
    if spec not in set(long["region"]):
        raise ConfigError(f"'{spec}' is neither a region in {path} ({', '.join(sorted(set(long['region'])))}) "
                          "nor an output folder")
    rows = long[long["region"] == spec]
    return spec, rows.set_index("node")["documents"], out, long, counts_documents_out_of_force(rows)


def _taxonomy_of(folder: Path) -> tuple[str, str]:
    """(version, sha256) of the taxonomy a folder's labels were made with, as its run.json records them."""
    got = stage_entry(folder, "classify")
    return str(got.get("taxonomy_version") or ""), str(got.get("taxonomy_sha256") or "")


def compare(a: pd.Series, b: pd.Series, nodes: list[str], names: tuple[str, str],
            coded: tuple[set, set] | None = None) -> pd.DataFrame:
    """Documents addressing each of `nodes` on either side, and which side addresses it. `coded`: the nodes each
    side was coded for (default: all of `nodes`); a node a side was not coded for has no count there (empty, not
    0) and the status `not_coded_in_<side>` (`not_coded` for neither), since its absence says nothing about the
    documents."""
    df = pd.DataFrame({"node": nodes})
    in_a, in_b = coded or (set(nodes), set(nodes))
    df["a_documents"] = df["node"].map(a).fillna(0).astype("Int64").where(df["node"].isin(in_a))
    df["b_documents"] = df["node"].map(b).fillna(0).astype("Int64").where(df["node"].isin(in_b))

    def status(node, x, y) -> str:
        if node not in in_a or node not in in_b:
            return ("not_coded" if node not in in_a and node not in in_b
                    else f"not_coded_in_{names[0] if node not in in_a else names[1]}")
        return "both" if x and y else f"only_{names[0]}" if x else f"only_{names[1]}" if y else "neither"

    df["status"] = [status(*r) for r in zip(df["node"], df["a_documents"], df["b_documents"])]
    if coded is None:
        df = df.astype({"a_documents": "int64", "b_documents": "int64"})
    return df.rename(columns={"a_documents": f"{names[0]}_documents", "b_documents": f"{names[1]}_documents"})


def made_here(out: Path) -> list[Path]:
    """The comparisons in `out` made from its own coverage tables (a side was one of its regions, or `out` as a
    folder), as compare recorded them in run.json: new tables in `out` contradict those. A comparison of two other
    output folders written into `out` does not rest on its tables, and neither does one compare did not record
    (written by an older version, or by hand): they stay."""
    made = stage_entry(out, "compare").get("comparisons")
    made = made if isinstance(made, dict) else {}
    return sorted(p for p in out.glob(COMPARISON_FILES) if "." in (made.get(p.name) or ()))


def _note_sides(out: Path, target: Path, folders: tuple[Path, Path], seconds: float) -> None:
    """Record in `out`'s run.json which folders the comparison `target` was made from ("." for `out` itself),
    for made_here. An `out` without a run has no run.json to write it to, nor tables to replace."""
    if not Catalog(out).path("run").exists():
        return
    made = stage_entry(out, "compare").get("comparisons")
    made = {k: v for k, v in made.items() if (out / k).exists()} if isinstance(made, dict) else {}
    made[target.name] = ["." if f.resolve() == out.resolve() else str(f.resolve()) for f in folders]
    record(out, "compare", seconds, comparisons=made)


def compare_cli(args) -> None:
    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    out = Path(args.out)
    # both sides are checked before failing, so one message says all that is wrong
    sides, problems = [], []
    for flag, spec in (("A", args.a), ("B", args.b)):
        try:
            sides.append(_side(spec, out))
        except ConfigError as exc:
            problems.append(f"{flag} ({spec!r}): {exc}" if spec.strip() else f"{flag}: {exc}")
    if problems:
        raise ConfigError("compare: " + "; ".join(problems))
    (name_a, a, dir_a, long_a, gone_a), (name_b, b, dir_b, long_b, gone_b) = sides
    if name_a == name_b:
        name_a, name_b = f"{name_a}_a", f"{name_b}_b"
    coded = (set(a.index), set(b.index))
    # every node of every framework of --taxonomy (constraints too) in its order; where the two sides were coded
    # for different nodes, also those --taxonomy lacks, so that a node one side was never coded for is said to be
    # that and not taken for a difference. Sides coded alike (one run's regions, or runs with one taxonomy)
    # compare --taxonomy's nodes: of a run with several frameworks, the one(s) asked for
    nodes = [n.id for n in tax.nodes]
    left = []
    if coded[0] != coded[1]:
        nodes = list(dict.fromkeys(nodes + list(a.index) + list(b.index)))
    else:
        left = [n for n in a.index if n not in tax.by_id]
        if left:
            print(f"note: {len(left)} node(s) the sides were coded for are not in --taxonomy {args.taxonomy} and "
                  f"are not compared (e.g. {left[0]}); give every framework of the run to compare them too")
    df = with_names(compare(a, b, nodes, (name_a, name_b), coded), tax)
    # a node --taxonomy lacks is named as the side that was coded for it names it
    for long in (long_a, long_b):
        if {"node_name", "node_name_zh"} <= set(long.columns):
            own = long.drop_duplicates("node").set_index("node")
            lacking = ~df["node"].isin(tax.by_id) & df["node"].isin(own.index)
            for col in ("node_name", "node_name_zh"):
                df.loc[lacking, col] = df.loc[lacking, "node"].map(own[col])
    # a comparison on some of the run's frameworks is named after them: it must not overwrite the whole one
    target = Catalog(out).comparison(name_a, name_b, "_".join(t.id for t in tax.parts) if left else "")
    write_csv(df, target)
    _note_sides(out, target, (dir_a, dir_b), time.perf_counter() - t0)
    for line in _taxonomy_notes((name_a, name_b), (dir_a, dir_b), coded):
        print(line)
    for side in (name_a, name_b):
        only = df[df["status"] == f"only_{side}"]
        print(f"only {side} ({len(only)}):" + ("".join(f"\n  {r.node}  {r.node_name} / {r.node_name_zh}"
                                                      for r in only.itertuples(index=False)) or " -"))
    for side, other in ((name_a, name_b), (name_b, name_a)):
        absent = df[df["status"] == f"not_coded_in_{side}"]
        if len(absent):
            print(f"not coded in {side} ({len(absent)}), so not compared:" + "".join(
                f"\n  {r.node}  {r.node_name} / {r.node_name_zh}  ({other}: {getattr(r, other + '_documents')} "
                "document(s))" for r in absent.itertuples(index=False)))
    if gone_a or gone_b:
        # "only A" read as what A's policy in force addresses, where a repealed regulation of A alone did
        print("note: these lists are counted over every document, superseded versions and repealed documents too; "
              "gaps.csv's addressed_in_force says whether the documents in force now address a node")
    print(f"written: {target}", file=sys.stderr)


def _taxonomy_notes(names: tuple[str, str], folders: tuple[Path, Path], coded: tuple[set, set]) -> list[str]:
    """What the reader must know when the two sides were not coded against the same taxonomy."""
    if folders[0].resolve() == folders[1].resolve():
        return []
    (va, sa), (vb, sb) = _taxonomy_of(folders[0]), _taxonomy_of(folders[1])
    # a run.json without the record (an older run) is no evidence of a different taxonomy
    if coded[0] == coded[1] and (sa == sb or not sa or not sb):
        return []
    which = ", ".join(f"{n}: version {v or '?'}, sha256 {s[:12] or '?'}" for n, v, s in zip(names, (va, vb), (sa, sb)))
    notes = [f"note: {names[0]} and {names[1]} were coded with different taxonomies ({which})."]
    if coded[0] != coded[1]:
        notes.append(f"  Their node sets differ ({len(coded[0] - coded[1])} node(s) only in {names[0]}, "
                     f"{len(coded[1] - coded[0])} only in {names[1]}): such a node is listed as 'not coded in' the "
                     "side that lacks it, not as a difference; code both corpora with one taxonomy to compare it.")
    else:
        notes.append("  Their nodes are the same, but terms, definitions or examples may differ: a difference can "
                     "come from the taxonomies rather than the documents.")
    return notes
