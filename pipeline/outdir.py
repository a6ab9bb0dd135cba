"""The output folder: never the corpus folder or inside it."""
from __future__ import annotations

import os
from pathlib import Path

from .io import ConfigError

# what marks a folder as a run's output folder (a corpus must not take one for documents)
RUN_MARKERS = ("run.json", "documents.parquet")


def is_output_folder(folder: Path) -> bool:
    """Whether `folder` holds a run's outputs."""
    folder = Path(folder)
    return all(os.path.lexists(folder / m) for m in RUN_MARKERS)


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
