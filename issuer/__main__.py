"""``python -m issuer``."""

from __future__ import annotations

from issuer.cli import main

raise SystemExit(main())
