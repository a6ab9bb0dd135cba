import gc
import sys

from .cli import main

code = main()
# The process is about to end: without this, the interpreter's final garbage collections walk every object the
# run created (pandas, pyarrow and scikit-learn modules and tables), which took a tenth of an incremental run.
gc.freeze()
sys.exit(code)
