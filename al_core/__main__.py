"""``python -m al_core``: see :mod:`al_core.cli`."""

import sys

from al_core.cli import main

sys.exit(main())
