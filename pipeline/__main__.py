import gc
import sys

# Importing the libraries allocates many objects and no garbage: collecting meanwhile only slows start-up, and
# once frozen they are never walked again (nor copied by the collector in forked workers).
gc.disable()
from .cli import main  # noqa: E402

gc.freeze()
gc.enable()
code = main()
# The process is about to end: without this, the interpreter's final garbage collections walk every object the
# run created (pandas, pyarrow and scikit-learn modules and tables), which took a tenth of an incremental run.
gc.freeze()
sys.exit(code)
