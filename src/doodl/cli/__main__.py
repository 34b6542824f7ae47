"""`python -m doodl.cli ...`: the doodl command without an installed entry point (e.g. PYTHONPATH=src)."""

from . import main

raise SystemExit(main())
