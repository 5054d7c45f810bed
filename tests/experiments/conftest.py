"""Lets the experiments tests import each other's helpers (pytest runs in importlib mode)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
