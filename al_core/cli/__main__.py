"""``python -m al_core.cli …``: the same as ``python -m al_core …``."""

from al_core.cli import main

raise SystemExit(main())
