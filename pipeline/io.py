"""Reading and writing stage tables.

Every write goes to a temporary file in the target folder and is renamed into place, so an interrupted
run never leaves a half-written table that a later stage would read. A write whose bytes equal the file
already there leaves the file (and its mtime) alone, so make re-runs only the stages whose inputs changed.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from .schemas import Table, check, to_arrow


class ConfigError(Exception):
    """A fatal configuration problem: the CLI prints it on one line and exits non-zero."""


def write_bytes_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically; return False when the file already held exactly these bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def write_table(df: pd.DataFrame, table: Table, out_dir: Path) -> Path:
    """Validate `df` against its schema and store it as Parquet in `out_dir`."""
    buf = io.BytesIO()
    pq.write_table(to_arrow(df, table), buf, compression="zstd")
    path = Path(out_dir) / table.file
    write_bytes_atomic(path, buf.getvalue())
    return path


def read_table(table: Table, out_dir: Path, columns: list[str] | None = None) -> pd.DataFrame:
    path = Path(out_dir) / table.file
    if not path.exists():
        raise ConfigError(f"{path}: missing; run the stage that writes '{table.name}' first")
    df = pq.read_table(path, columns=columns).to_pandas()
    return df if columns else check(df, table)


def csv_bytes(df: pd.DataFrame) -> bytes:
    # UTF-8 with BOM so Excel in a Chinese locale opens the file as UTF-8
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    write_bytes_atomic(Path(path), csv_bytes(df))
    return Path(path)


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    import pyarrow as pa

    buf = io.BytesIO()
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, buf, compression="zstd")
    write_bytes_atomic(Path(path), buf.getvalue())
    return Path(path)


def write_json(obj, path: Path) -> Path:
    write_bytes_atomic(Path(path), (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode())
    return Path(path)


def write_text(text: str, path: Path) -> Path:
    write_bytes_atomic(Path(path), text.encode("utf-8"))
    return Path(path)
