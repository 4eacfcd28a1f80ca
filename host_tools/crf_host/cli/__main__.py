"""`python -m crf_host.cli`: the same as the `crf` console script."""
import sys

from crf_host.cli import main

sys.exit(main())
