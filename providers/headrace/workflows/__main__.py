"""``python -m headrace.workflows``: see :mod:`headrace.workflows.cli`."""

import sys

from headrace.workflows.cli import main

sys.exit(main())
