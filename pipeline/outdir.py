"""The output folder: never the corpus or inside it, one run at a time, no litter left by killed runs."""
from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from .catalog import CACHE_FOLDER, EVIDENCE_PAGES
from .io import ConfigError
from .text import first_few

# hidden, so a corpus scan skips it; emptied when a run ends, so finished output folders stay byte-identical
LOCK_FILE = ".pipeline.lock"
# what marks a folder as a run's output folder (a corpus must not take one for documents)
RUN_MARKERS = ("run.json", "documents.parquet")


def is_output_folder(folder: Path) -> bool:
    """Whether `folder` holds a run's outputs (a run took its lock there, or wrote its tables)."""
    folder = Path(folder)
    return os.path.lexists(folder / LOCK_FILE) or all(os.path.lexists(folder / m) for m in RUN_MARKERS)


def check_not_foreign(out: Path, names: list[str], cleaning: bool = False) -> None:
    """Refuse an output folder that no run wrote but that holds files or folders of the names a run writes
    (`names`): a run replaces those, and removes what it does not know inside its folders (report_files/, the
    tables' parts), so a researcher's own summary.md or report_files/ would be lost; `clean` would delete them."""
    out = Path(out)
    if not out.is_dir() or is_output_folder(out):
        return
    clash = [n for n in names if os.path.lexists(out / n)]
    if clash and cleaning:
        raise ConfigError(f"{out}: holds {first_few(clash)}, but no run of this tool wrote there, so they are yours: "
                          f"nothing removed (delete them yourself if you mean to)")
    if clash:
        raise ConfigError(f"{out}: holds {first_few(clash)}, which no run of this tool wrote there; a run would overwrite "
                          f"or delete them: choose another --out (a new or empty folder), or move them away")


def clean(out: Path, names: list[str], patterns: tuple[str, ...] = ()) -> list[str]:
    """Remove what runs wrote in `out` (`names`, files matching `patterns`, and the lock, so that the folder is
    as before its first run); the researcher's own files and the coders' review sheets stay. Returns the outputs
    removed (the lock is none)."""
    out = Path(out)
    removed = []
    matched = sorted({p.name for pattern in patterns for p in out.glob(pattern) if p.is_file()})
    for name in [*names, *matched, LOCK_FILE]:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif os.path.lexists(path):
            path.unlink()
        else:
            continue
        if name != LOCK_FILE:  # not an output: `clean` itself took it, so it is there on every call
            removed.append(name)
    return removed


def check_separate(corpus: Path, out: Path) -> None:
    """Refuse an output folder that is the corpus folder or lies inside it: the reports would overwrite the
    corpus's own files of the same name, and the next run would read them as documents."""
    corpus, out = Path(corpus), Path(out)
    try:
        cst = corpus.stat()
    except OSError:
        return  # ingest says what is wrong with the corpus
    # compared by device and inode, not by name: links, bind mounts and case-insensitive file systems give one
    # folder several names
    here = out.resolve()
    for folder in (here, *here.parents):
        try:
            st = folder.stat()
        except OSError:
            continue  # not created yet
        if (st.st_dev, st.st_ino) == (cst.st_dev, cst.st_ino):
            where = "is the corpus folder" if folder == here else f"is inside the corpus folder {corpus}"
            raise ConfigError(f"{out}: the output folder {where}; the results would overwrite or be read as "
                              f"corpus files: choose an --out outside {corpus}")


class OutLock:
    """An exclusive lock on an output folder for one run (fcntl.flock on OUT/.pipeline.lock, which holds the
    holder's process id). The kernel drops it when the process dies, however it dies, so a killed run never
    leaves the folder locked."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / LOCK_FILE
        self._fd: int | None = None
        self.created = False
        self.made: list[Path] = []  # the folders acquire made, OUT first, then the parents it needed
        self.new_file = False

    def acquire(self) -> "OutLock":
        for folder in (self.out, *self.out.parents):
            if os.path.lexists(folder):
                break
            self.made.append(folder)
        self.created = bool(self.made)
        self.new_file = not os.path.lexists(self.path)
        self.out.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise ConfigError(f"{self.out}: output folder in use by another run ({holder}); wait for it to "
                              f"finish or choose another --out") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return self

    def remove_if_alone(self) -> None:
        """Remove the folder this lock created, if the lock file is all it holds, and the parents made for it
        (OUT=new/folder left new/ behind). A table's temporary folder may still be there, its writer not yet
        closed, in a run that failed once it had begun: litter, not a reason to keep the folder."""
        try:
            remove_litter(self.out)
            if [p.name for p in self.out.iterdir()] == [LOCK_FILE]:
                self.path.unlink()
                for folder in self.made:
                    folder.rmdir()
        except OSError:
            pass

    def holds_any(self, names: list[str]) -> bool:
        """Whether the folder holds a file or folder of one of `names` (a run's outputs: catalog.owned_names)."""
        return any(os.path.lexists(self.out / n) for n in names)

    def remove_if_unused(self, names: list[str]) -> None:
        """Remove the lock file this lock created in a folder that holds none of a run's outputs (`names`): a
        command refused there (a stage aimed at a corpus folder) would otherwise leave the folder marked as an
        output folder, which a corpus scan then skips as a whole."""
        if self.new_file and not self.holds_any(names):
            try:
                self.path.unlink()
            except OSError:
                pass

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # closing the last descriptor of the open file releases the lock

    def __enter__(self) -> "OutLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"process {pid}" if pid.isdigit() else "process id not yet recorded"


def remove_litter(out: Path) -> list[str]:
    """Remove the hidden temporary files and folders (.NAME.XXXX.tmp) that interrupted atomic writes leave in
    the output folder, its cache and its report pages; only safe while holding the folder's lock (no other run is
    writing). Returns the names removed."""
    removed = []
    for folder in (Path(out), Path(out) / CACHE_FOLDER, Path(out) / EVIDENCE_PAGES):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if not (e.name.startswith(".") and e.name.endswith(".tmp")):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path)
                else:
                    os.unlink(e.path)
                removed.append(e.name)
            except OSError:
                pass  # left for the next run: litter is no reason to stop this one
    return removed
