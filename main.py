"""Start the IGGT Viewer GUI (same as the `iggt-viewer` command)."""

import sys

from viewer.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
