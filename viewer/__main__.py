"""`python -m viewer [PATH]`."""

from __future__ import annotations

import sys

from viewer.main import main

if __name__ == "__main__":
    sys.exit(main())
