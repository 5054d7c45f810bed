"""Files a reader never sees half written (`atomic_write`), for agent files and run files alike."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

# Prefix of `atomic_write`'s temporary files: a run that finds one of these was killed mid-write.
TEMP_PREFIX = ".tmp-"


def _file_mode() -> int:
    """The mode `open` would give a new file: 0666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str, write: Callable[[Any], None], mode: str = "w") -> None:
    """Calls `write(handle)` on a temporary file beside `path`, then renames it to `path`: a
    reader never sees a half-written file. The file gets the mode the process umask gives."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=os.path.basename(path))
    try:
        os.fchmod(fd, _file_mode())  # mkstemp's files are 0600 whatever the umask
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
