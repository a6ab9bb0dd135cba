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
