"""What one region (or one corpus run) addresses that another does not."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from .aggregate import with_names
from .catalog import Catalog
from .io import ConfigError, write_csv
from .taxonomy import load_taxonomy

# what is compared: documents addressing each node, per region
TABLE = "coverage_region_long"


def _side(spec: str, out: Path) -> tuple[str, pd.Series]:
    """Documents addressing each node for a region code in `out`, or for a whole other run folder."""
    if not spec.strip():
        raise ConfigError("not given (a region code of --out, or an output folder)")
    p = Path(spec)
    if p.is_dir() and Catalog(p).path(TABLE).exists():
        long = Catalog(p).load(TABLE)
        return p.name or str(p), long.groupby("node")["documents"].sum()
    path = Catalog(out).path(TABLE)
    if not path.exists():
        raise ConfigError(f"{path}: missing; run the pipeline first (make run) or pass an output folder")
    long = Catalog(out).load(TABLE)
    if spec not in set(long["region"]):
        raise ConfigError(f"'{spec}' is neither a region in {path} ({', '.join(sorted(set(long['region'])))}) "
                          "nor an output folder")
    return spec, long[long["region"] == spec].set_index("node")["documents"]


def compare(a: pd.Series, b: pd.Series, nodes: list[str], names: tuple[str, str]) -> pd.DataFrame:
    df = pd.DataFrame({"node": nodes})
    df["a_documents"] = df["node"].map(a).fillna(0).astype("int64")
    df["b_documents"] = df["node"].map(b).fillna(0).astype("int64")
    df["status"] = [("both" if x and y else f"only_{names[0]}" if x else f"only_{names[1]}" if y else "neither")
                    for x, y in zip(df["a_documents"], df["b_documents"])]
    return df.rename(columns={"a_documents": f"{names[0]}_documents", "b_documents": f"{names[1]}_documents"})


def compare_cli(args) -> None:
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
    (name_a, a), (name_b, b) = sides
    if name_a == name_b:
        name_a, name_b = f"{name_a}_a", f"{name_b}_b"
    nodes = [n.id for n in tax.nodes]  # every node of every framework, constraints too, in the taxonomy's order
    df = with_names(compare(a, b, nodes, (name_a, name_b)), tax)
    target = Catalog(out).comparison(name_a, name_b)
    write_csv(df, target)
    for side in (name_a, name_b):
        only = df[df["status"] == f"only_{side}"]
        print(f"only {side} ({len(only)}):" + ("".join(f"\n  {r.node}  {r.node_name} / {r.node_name_zh}"
                                                      for r in only.itertuples(index=False)) or " -"))
    print(f"written: {target}", file=sys.stderr)
