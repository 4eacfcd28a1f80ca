"""Host tools for the open controlled-rate freezer controller (CPython)."""

__version__ = "0.1.0"

from crf_host.paths import (  # noqa: F401  re-exported for convenience
    FIRMWARE,
    MICROPYTHON,
    PLANTS_DIR,
    PROFILES_DIR,
    REPO,
    micropython,
)
