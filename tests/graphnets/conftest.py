"""Shared helpers of the graphnets tests, loaded by pytest for this directory."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
