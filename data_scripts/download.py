"""Download a dataset of the course book, list the datasets, or write the synthetic samples.

A thin wrapper of ``python -m course_lib.download`` for a repository checkout (it works without installing
``course_lib``)::

    python data_scripts/download.py --list
    python data_scripts/download.py kvasir [--root DIR]
    python data_scripts/download.py samples [--root DIR]

See :mod:`course_lib.download` for what is downloaded, how it is verified and the exit status.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import course_lib  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without installing course_lib
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.download.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
