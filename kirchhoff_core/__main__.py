"""``python -m kirchhoff_core`` runs the ``kirchhoff`` command."""

import sys

from .cli import main

sys.exit(main())
