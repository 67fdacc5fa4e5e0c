"""`python -m mnistlab.cli`: the same as the `mnistlab` command."""

import sys

from mnistlab.cli import main

sys.exit(main())
