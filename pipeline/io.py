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
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .schemas import Table, check, to_arrow


class ConfigError(Exception):
    """A fatal configuration problem: the CLI prints it on one line and exits non-zero.

    The message is always one line (newlines from file names or parser messages are folded into spaces).
    """

    def __str__(self) -> str:
        return " ".join(super().__str__().split())


class TableError(ConfigError, ValueError):
    """A stage table that exists but cannot be read (truncated, not Parquet)."""


def _umask() -> int:
    # the only portable way to read the umask is to set it; done once, at import, before any threads
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()
# a temporary file this old was left by a run that was killed outright (SIGKILL, power loss); younger ones may
# belong to a writer still at work
STALE_TEMP_SECONDS = 3600


def write_bytes_atomic(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically; return False when the file already held exactly these bytes.

    The bytes go to a temporary file next to `path` (same file system), are flushed to disk, and the file is
    renamed over `path`. Whatever interrupts the write (an error, Ctrl-C, a full disk) leaves the previous
    file untouched and removes the temporary file. The new file gets the old file's permissions, or the
    usual ones for a new file (0666 less the umask; mkstemp alone would make it private to the owner).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is not None and st.st_size == len(data) and path.is_file() and path.read_bytes() == data:
        return False
    mode = (st.st_mode & 0o7777) if st is not None and path.is_file() else _FILE_MODE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)
    _remove_stale_temps(path)
    return True


def _remove_stale_temps(path: Path) -> None:
    prefix, cutoff = f".{path.name}.", time.time() - STALE_TEMP_SECONDS
    try:
        with os.scandir(path.parent) as entries:
            stale = [e.path for e in entries if e.name.startswith(prefix) and e.name.endswith(".tmp")
                     and e.is_file(follow_symlinks=False) and e.stat(follow_symlinks=False).st_mtime < cutoff]
    except OSError:
        return
    for p in stale:
        try:
            os.unlink(p)
        except OSError:
            pass


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_table(table: Table, out_dir: Path, columns: list[str] | None = None) -> pd.DataFrame:
    path = Path(out_dir) / table.file
    if not path.exists():
        raise ConfigError(f"{path}: missing; run the stage that writes '{table.name}' first")
    try:
        df = pq.read_table(path, columns=columns).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise TableError(f"{path}: cannot be read ({type(exc).__name__}: {exc}); "
                         f"run the stage that writes '{table.name}' again") from None
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


class TableWriter:
    """Streams a stage table to Parquet one row group per chunk, then puts it in place atomically.

    Rows go to a temporary file next to the target; `close` renames it over the target unless the bytes are
    the same as the file already there (then the old file and its mtime stay). `abort` (or an exception in a
    `with` block) removes the temporary file and leaves the previous table untouched.
    """

    def __init__(self, table: Table, out_dir: Path):
        self.table = table
        self.path = Path(out_dir) / table.file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        self.tmp = Path(tmp)
        self._writer = pq.ParquetWriter(self.tmp, table.arrow_schema, compression="zstd")
        self.rows = 0

    def write(self, rows: "pd.DataFrame | pa.Table") -> None:
        """Append one row group (a DataFrame is checked against the schema; an Arrow table must carry it)."""
        t = rows if isinstance(rows, pa.Table) else to_arrow(rows, self.table)
        if t.num_rows:
            self._writer.write_table(t, row_group_size=t.num_rows)
            self.rows += t.num_rows

    def close(self) -> bool:
        """Finish the file; return True when the table changed."""
        import filecmp

        try:
            self._writer.close()
            if self.path.exists() and filecmp.cmp(self.tmp, self.path, shallow=False):
                return False
            os.chmod(self.tmp, _FILE_MODE)
            os.replace(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)
        return True

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


class ChunkedTable:
    """Rows of a stage table by document, read one row group at a time (tables are written in doc chunks)."""

    def __init__(self, table: Table, out_dir: Path):
        self.table = table
        self.path = Path(out_dir) / table.file
        self._pf = pq.ParquetFile(self.path)
        self._groups: dict[str, list[int]] = {}
        for g in range(self._pf.num_row_groups):
            for d in set(self._pf.read_row_group(g, columns=["doc_id"]).column(0).to_pylist()):
                self._groups.setdefault(d, []).append(g)
        self._loaded: dict[int, pa.Table] = {}

    @classmethod
    def open(cls, table: Table, out_dir: Path) -> "ChunkedTable | None":
        """The table, or None when it is missing or unreadable (then nothing can be reused from it)."""
        try:
            return cls(table, out_dir) if (Path(out_dir) / table.file).exists() else None
        except (OSError, pa.ArrowException, ValueError):
            return None

    def rows_for(self, doc_ids) -> pd.DataFrame:
        return self.arrow_rows_for(doc_ids).to_pandas()

    def arrow_rows_for(self, doc_ids) -> pa.Table:
        import pyarrow.compute as pc

        ids = [d for d in doc_ids if d in self._groups]
        groups = sorted({g for d in ids for g in self._groups[d]})
        if not groups:
            return self.table.arrow_schema.empty_table()
        # keep only the row groups of the current chunk in memory
        self._loaded = {g: self._loaded.get(g) or self._pf.read_row_group(g) for g in groups}
        t = pa.concat_tables([self._loaded[g] for g in groups])
        if t.num_rows and set(ids) >= set(t.column("doc_id").unique().to_pylist()):
            return t  # the whole row group is wanted: no filtering
        return t.filter(pc.is_in(t.column("doc_id"), value_set=pa.array(ids, pa.string())))

    def record(self, doc_id: str) -> dict | None:
        """The one row of a per-document table (documents) as a dict, reading its row group once."""
        groups = self._groups.get(doc_id)
        if not groups:
            return None
        g = groups[0]
        if getattr(self, "_records_group", None) != g:
            rows = self._pf.read_row_group(g).to_pylist()
            self._records = {r["doc_id"]: r for r in rows}
            self._records_group = g
        return self._records.get(doc_id)
