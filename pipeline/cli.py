"""`python -m pipeline <command>`: the argument parser and nothing else. Each sub-command calls one function of
`stages` (ingest, segment, tokenize, classify, run, train, review, review-import, evaluate) or `reporting`
(aggregate, report, compare), the same functions the Makefile's targets reach.

Fatal configuration errors print one line naming the file and the problem and exit with status 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from .catalog import COMPARISON_FILES, EVALUATION_FILES, owned_names
from .engine import WorkerLost
from .io import ConfigError
from .reporting import cmd_aggregate, cmd_compare, cmd_report
from .schemas import SchemaError
from .coded import CODED_WEIGHT
from .corpus import display_name
from .stages import DEFAULT_CORPUS, cmd_classify, cmd_ingest, cmd_run, cmd_segment, cmd_tokenize, cmd_validate
from .runner import WINDOW_PASSAGES
from .text import DEFAULT_MAX_BYTES, shown
from .outdir import OutLock, check_not_foreign, check_separate, clean, remove_litter

log = logging.getLogger("pipeline")


def learning_command(command: str):
    """A command of learning.py, imported when it runs: that module loads scikit-learn, which the other
    commands do not need in this process."""
    def run(args) -> None:
        from . import learning

        getattr(learning, command)(args)
    return run


# what `python -m pipeline --help` says above the commands (the module's docstring is for developers)
DESCRIPTION = ("Code science-and-technology policy documents against a taxonomy and audit, region by region, what "
               "they address. `python -m pipeline run --corpus FOLDER --out FOLDER` runs every stage (as `make run` "
               "does); `python -m pipeline <command> --help` shows a command's options.")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help_, corpus=False):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--out", default="outputs", help="folder of stage tables (default: outputs)")
        sp.add_argument("--taxonomy", default="taxonomy", help="taxonomy folder or YAML file")
        sp.add_argument("--jobs", type=int, default=2, help="worker processes for tokenize/classify")
        sp.add_argument("--engine", default="local", choices=["local", "dask"],
                        help="local processes, or Dask (DASK_SCHEDULER_ADDRESS for a cluster)")
        sp.add_argument("--model", default=None, help="model folder from `train`, or 'lexicon' (default: the "
                                                      "model trained from taxonomy/examples)")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        sp.add_argument("--window-passages", type=int, default=WINDOW_PASSAGES, metavar="N",
                        help="a document with more passages than this (or more text than a chunk) is segmented, "
                             "tokenized and classified in windows of at most N passages (rounded up to a multiple "
                             "of 500) and a chunk's text, so memory depends on N, not on the document's size "
                             f"(default {WINDOW_PASSAGES})")
        if corpus:
            # None when not given: a run over the default corpus must not replace another corpus's run in --out
            sp.add_argument("--corpus", default=None, help="corpus folder (optional manifest.csv at its root; default: "
                                                           f"{DEFAULT_CORPUS}, the demo corpus)")
            sp.add_argument("--max-mb", type=float, default=DEFAULT_MAX_BYTES / 2**20,
                            help="skip files larger than this many MB")
        sp.set_defaults(fn=fn)
        return sp

    add("ingest", cmd_ingest, "read a corpus folder into documents.parquet", corpus=True)
    add("segment", cmd_segment, "split documents into passages")
    add("tokenize", cmd_tokenize, "tokenize passages (spaCy; jieba for Chinese)")
    c = add("classify", cmd_classify, "label passages against the taxonomy")
    c.add_argument("--in", dest="input", default=None, help="classify a JSON-lines file instead; --out is then "
                                                            "the predictions file")
    for sp in (add("aggregate", cmd_aggregate, "coverage tables and gap audit"),
               add("report", cmd_report, "coverage.xlsx, summary.md, report.md, report.html"),
               add("run", cmd_run, "all stages", corpus=True)):
        sp.add_argument("--coded", default="coded", help="the coded store, for how much of this corpus a person "
                                                         "coded (default: coded)")
    t = add("train", learning_command("cmd_train"),
            "train the passage model on the taxonomy's examples plus coded passages")
    t.add_argument("--train", default=None, help="coded file(s), comma-separated (default: the coded store)")
    t.add_argument("--coded", default="coded", help="the coded store: a folder of JSON-lines files written by "
                                                    "review-import (default: coded)")
    t.add_argument("--no-examples", action="store_true", help="train on the coded passages alone")
    t.add_argument("--coded-weight", type=float, default=CODED_WEIGHT, help="weight of the coded store's passages "
                                                                             f"(default {CODED_WEIGHT:g})")
    e = add("evaluate", learning_command("cmd_evaluate"), "score the classifier against coded passages")
    e.add_argument("--gold", default=None, help="coded JSON-lines file(s), comma-separated")
    e.add_argument("--cv", default=None, help="cross-validate instead of scoring the current model: 'region' "
                                              "(hold out one region at a time), 'doc', or a number of folds "
                                              "grouped by document")
    e.add_argument("--train", default=None, help="with --cv: extra coded files always in the training folds")
    e.add_argument("--no-examples", action="store_true", help="with --cv: leave the taxonomy's own examples out "
                                                              "of the training folds")
    e.add_argument("--curve", action="store_true", help="with --cv: also train on 25%% and 50%% of the training "
                                                        "folds' documents (learning curve)")
    e.add_argument("--manifest", default=None, help="with --cv region: the corpus manifest giving each "
                                                    "document's region (default: corpus/manifest.csv beside "
                                                    "the coded file's folder)")
    r = add("review", learning_command("cmd_review"),
            "pick the passages most worth coding (writes OUT/review/review-NNN.xlsx)")
    r.add_argument("--n", type=int, default=100, help="how many passages to pick")
    r.add_argument("--in", dest="input", default=None, help="pick from a JSON-lines pool instead of the run in "
                                                            "--out; --out is then the picks file (.jsonl)")
    r.add_argument("--coded", default="coded", help="the coded store (passages coded already are skipped)")
    r.add_argument("--gaps", type=int, default=0, help="first, for every gap the model leaves (a region with no "
                                                       "passage labelled with an audited node), this many passages "
                                                       "of the region most likely to fill it (a gap check)")
    ri = add("review-import", learning_command("cmd_review_import"), "import a coded review sheet into the coded store")
    ri.add_argument("--file", default=None, help="the coded review file (.xlsx, .csv, .jsonl)")
    ri.add_argument("--coder", default=None, help="coder name for rows whose coder cell is empty")
    ri.add_argument("--coded", default="coded", help="the coded store folder (default: coded)")
    add("validate", cmd_validate, "check a taxonomy (framework): nodes, facets, lexicons, strength cues, examples")
    add("clean", cmd_clean, "remove the outputs of runs from --out (the review sheets and your own files stay)")
    cp = add("compare", cmd_compare, "what one region or corpus addresses that another does not")
    cp.add_argument("--a", required=True, help="a region code, or an output folder of another run")
    cp.add_argument("--b", required=True, help="a region code, or an output folder of another run")
    return p


# the path options a command reads or writes in place of an empty value: Path("") is the current folder
PATH_OPTIONS = {"corpus": ("CORPUS", "corpus folder"), "out": ("OUT", "output folder (with --in: file)"),
                "coded": ("CODED", "coded store folder"), "taxonomy": ("TAXONOMY", "taxonomy folder or YAML file")}


def check_paths(args) -> None:
    """Refuse an empty path: `make run CORPUS=` passed --corpus "", which read the current folder (the project's
    own README and code) as the corpus, and an empty --out or --coded wrote into the current folder."""
    for name, (var, what) in PATH_OPTIONS.items():
        value = getattr(args, name, None)
        if value is not None and not value.strip():
            raise ConfigError(f"--{name} is empty ({var}=): give the {what}; an empty path would be the current folder")


def check_coded_store(args) -> None:
    """Refuse a --coded that is a file: the store is a folder of JSON-lines files, and a file of coded passages
    (CODED=coded.jsonl) was read as an empty store, the run's tables and report saying no passage had been coded."""
    coded = getattr(args, "coded", None)
    if coded is not None and os.path.exists(coded) and not os.path.isdir(coded):
        raise ConfigError(f"{coded}: is a file; --coded (CODED=) names the coded store, the folder of JSON-lines "
                          "files review-import writes (make train takes files of coded passages as TRAIN=)")


def check_limits(args) -> None:
    """Refuse a --max-mb no file size can be compared with (nan, inf, 0 or less): nan and inf failed with a
    traceback, and a negative limit skipped every file as too large. Refuse a --jobs below 1: a run took it for
    one process and recorded 0 in run.json, and evaluate's folds failed with a traceback from joblib."""
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be 1 or more (the worker processes; JOBS= for make)")
    if args.window_passages < 1:  # 0 fell back to the default and a negative one to 500, unsaid
        raise ConfigError(f"--window-passages {args.window_passages}: must be 1 or more passages (rounded up to a "
                          "multiple of 500; WINDOW= for make)")
    max_mb = getattr(args, "max_mb", None)
    if max_mb is not None and not 0 < max_mb < float("inf"):
        raise ConfigError(f"--max-mb {max_mb:g}: must be a finite number of MB above 0 (files larger than it are skipped)")


def cmd_clean(args) -> None:
    removed = clean(Path(args.out), owned_names(), (EVALUATION_FILES, COMPARISON_FILES))
    print(f"clean: removed {len(removed)} output file(s) and folder(s) from {args.out}" if removed else
          f"clean: no outputs in {args.out}", file=sys.stderr)


def _out_lock(args) -> OutLock | None:
    """The lock on --out for commands that write there (not train, not classify --in, whose --out is a file),
    after refusing an --out inside the corpus; temporary files left there by a killed run are removed."""
    if args.command in ("train", "validate") or getattr(args, "input", None):
        return None
    if args.command == "clean" and not Path(args.out).exists():
        return None
    shown_out, odd = display_name(os.path.abspath(args.out))
    if odd:  # pyarrow takes paths as UTF-8 only: the run failed with a traceback from inside it
        raise ConfigError(f"{shown_out}: the folder's name is not UTF-8 (odd bytes shown as \\xNN), and the "
                          "tables' writer cannot name files in it: choose another --out")
    if getattr(args, "corpus", None) is not None:
        check_separate(Path(args.corpus), Path(args.out))
    if Path(args.out).is_symlink() and not Path(args.out).exists():  # else "File exists", from making the folder
        raise ConfigError(f"{args.out}: is a symbolic link to {os.readlink(args.out)}, which does not exist; create "
                          "that folder or choose another --out")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ConfigError(f"{args.out}: is a file; OUT must be a folder (the outputs are written into it)")
    check_not_foreign(Path(args.out), owned_names(), cleaning=args.command == "clean")
    lock = OutLock(Path(args.out)).acquire()
    try:
        removed = remove_litter(Path(args.out))
    except BaseException:
        lock.release()
        raise
    if removed:
        log.info("%s: removed %d temporary file(s) left by an interrupted run", args.out, len(removed))
    return lock


class Messages:
    """The process's stderr (or stdout), which drops what is written once its reader has gone (a broken pipe): the
    rest of the process's messages, its progress bars' and its workers' (forked with it) then go to the null
    device."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self) -> None:
        # the descriptor itself, so that what the stream still holds in its buffer is dropped too, at exit included
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self._stream.fileno())
        os.close(null)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class TerminalFormatter(logging.Formatter):
    """A message as the terminal gets it: the file names and titles in it are the corpus's, and a name holding
    ESC or a line break would otherwise recolour the terminal or pass for a second message."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return shown(super().formatMessage(record))


class Terminated(KeyboardInterrupt):
    """kill's SIGTERM (a job scheduler's, `timeout`'s) ended the process on the spot: the tables' temporary
    files, the lock and a folder the run had made stayed in OUT, and nothing was said; it ends the run as Ctrl-C
    does, with the status a process SIGTERM ended has (143)."""


def _terminate(signum, frame) -> None:
    raise Terminated


def _left_in_out(args, lock: OutLock | None, earlier_outputs: bool = True) -> str:
    """What a command stopped midway leaves in --out, for its last line: every table is replaced whole or not at
    all, so there is nothing to clean up; one stopped before its first table removes the folder it made.
    `earlier_outputs`: whether --out held a run's outputs when the command began."""
    if lock is not None and lock.created and not lock.out.exists():
        return f"no stage had finished; {args.out}, which the run had made, is removed"
    done = f"the stages that finished wrote their tables to {getattr(args, 'out', '')}, each whole; "
    if not earlier_outputs:
        return done + "run again to make the others"
    return done + "the later ones are still the previous run's: run again to bring them up to date"


def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("jieba").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    if hasattr(args, "corpus"):
        args.corpus_named = args.corpus is not None
        args.corpus = DEFAULT_CORPUS if args.corpus is None else args.corpus
    lock, earlier_outputs = None, True
    try:
        check_paths(args)
        check_coded_store(args)
        check_limits(args)
        lock = _out_lock(args)
        earlier_outputs = lock is not None and lock.holds_any(owned_names())
        try:
            args.fn(args)
        except BaseException:
            if lock is not None and lock.created:  # a command that failed leaves no folder of its own making
                lock.remove_if_alone()               # behind (a mistyped OUT)
            elif lock is not None:  # nor its lock in a folder of the researcher's that it wrote nothing to
                lock.remove_if_unused(owned_names())
            raise
        finally:
            if lock is not None:
                lock.release()
    except (ConfigError, SchemaError) as exc:
        print(f"error: {shown(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # a traceback from deep inside a library would only hide what is left
        stopped = isinstance(exc, Terminated)
        print(f"{'terminated' if stopped else 'interrupted'}: {_left_in_out(args, lock, earlier_outputs)}",
              file=sys.stderr)
        return 143 if stopped else 130
    except WorkerLost as exc:  # kill -9, the out-of-memory killer: as Ctrl-C, the tables are whole
        print(f"error: {exc}: {_left_in_out(args, lock, earlier_outputs)} (with fewer JOBS= or a smaller WINDOW= if "
              "memory ran out)", file=sys.stderr)
        return 1
    except OSError as exc:  # disk full, permissions on the output folder, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {shown(where)}{exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
