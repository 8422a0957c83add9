"""``python -m solverlayers``: the command line (see :mod:`solverlayers.cli`)."""

from .cli import main

raise SystemExit(main())
