"""``python -m musictransfer.cli``: the same as the ``musictransfer`` command."""

import sys

from musictransfer.cli import main

sys.exit(main())
