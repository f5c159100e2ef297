"""``python -m cryobench.cli``: the console script."""

import sys

from cryobench.cli.app import main

sys.exit(main())
