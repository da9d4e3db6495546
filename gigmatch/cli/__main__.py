"""``python -m gigmatch.cli``: the same as the ``gigmatch`` command."""

import sys

from gigmatch.cli import main

sys.exit(main())
