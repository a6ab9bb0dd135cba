import gc
import os
import sys

# In a locale that is not UTF-8 (LC_ALL=C with PYTHONUTF8=0, a Latin-1 or GBK one) Python reads file names,
# arguments and text files in its encoding: a Chinese corpus path then failed writing run.json, and region names
# were misread. Run in UTF-8 mode instead, where a name's bytes that are not UTF-8 are kept and shown as \xNN.
if not sys.flags.utf8_mode and sys.getfilesystemencoding().lower().replace("-", "") != "utf8":
    os.execv(sys.executable, [sys.executable, "-X", "utf8", *sys.orig_argv[1:]])

# One thread per process in the numeric libraries (BLAS), unless the environment says otherwise: --jobs
# processes then take --jobs cores. Training took 13.2 s on one core this way, against 16.7 s and 27 s of CPU
# when BLAS spread its small products over two. Set before numpy is first imported, which reads them.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# Importing the libraries allocates many objects and no garbage: collecting meanwhile only slows start-up, and
# once frozen they are never walked again (nor copied by the collector in forked workers).
gc.disable()
from .cli import main, Messages  # noqa: E402

# A closed standard stream (`2>&-`, a daemon's) is the null device: Python gives it as None, which failed the first
# message, and the next file opened would take its descriptor and receive what libraries write there.
for _fd in (0, 1, 2):
    try:
        os.fstat(_fd)
    except OSError:
        os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
for _name, _mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
    if getattr(sys, _name) is None:
        setattr(sys, _name, open(os.devnull, _mode, encoding="utf-8"))
# A run's product is its files: once the reader of its messages is gone (`2>&1 | head`), the run goes on without them
# instead of ending at its next message with the later stages not run; `compare ... | head` likewise.
sys.stderr, sys.stdout = Messages(sys.stderr), Messages(sys.stdout)

gc.freeze()
gc.enable()
code = main()
# The process is about to end: without this, the interpreter's final garbage collections walk every object the
# run created (pandas, pyarrow and scikit-learn modules and tables), which took a tenth of an incremental run.
gc.freeze()
sys.exit(code)
