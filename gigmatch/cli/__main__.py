"""``python -m gigmatch.cli``: the same as the ``gigmatch`` command."""

import sys

from gigmatch.cli import main

# guarded: a process started with multiprocessing's spawn (the answer loop's) imports this module again
# as ``__mp_main__`` and must not run the command a second time
if __name__ == "__main__":
    sys.exit(main())
