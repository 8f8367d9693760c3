"""``python -m evalsuite.perf ...``, the same as ``evalsuite perf ...``."""

from evalsuite.perf.cli import main

raise SystemExit(main())
