"""``python -m course_lib.download``: the command line of :mod:`course_lib.download.cli`."""

import sys

from .cli import main

sys.exit(main())
