#!/usr/bin/env bash
# Set up everything the course book needs on a fresh Debian/Ubuntu machine (idempotent):
#   - system packages, installed with apt-get when running as root, otherwise named so that you can install them:
#     libusb-1.0-0 (open3d needs it), python3-venv, npm (the book build fetches MathJax and the Jupyter widget manager
#     with it once, to serve them from the site itself) and chromium (tests/test_site_offline.py opens the built
#     site in it, headless, with the network off);
#   - a virtual environment in $VENV (default .venv) with requirements.txt and course_lib (editable).
# Called by `make book` / `make test`; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

"$PYTHON" - <<'PY' || { echo "error: Python >= 3.10 is needed (found $("$PYTHON" --version 2>&1))" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

missing=()
if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libusb-1\.0\.so\.0'; then
  missing+=(libusb-1.0-0)
fi
if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=(python3-venv)
fi
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "warning: missing system packages: ${missing[*]}" >&2
    echo "         install them with: sudo apt-get install ${missing[*]}" >&2
    echo "         (libusb-1.0-0: open3d in Chapter 6; npm: make book, once; chromium: the offline-site test)" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating the virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "installing requirements into $VENV (first time: a few minutes)"
quiet() {  # pip, without the notes some machines' pip configs print for every package
  "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}
quiet "$VENV/bin/python" -m pip install -q -r requirements.txt
quiet "$VENV/bin/python" -m pip install -q --no-deps -e .
"$VENV/bin/python" -c "import torch, torchvision, course_lib; print(f'ready: torch {torch.__version__}, torchvision {torchvision.__version__}, course_lib {course_lib.__version__}')"
