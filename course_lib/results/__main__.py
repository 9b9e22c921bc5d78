"""``python -m course_lib.results``: print or write the README's results table."""

import sys

from . import main

sys.exit(main())
