"""``python -m climviz ...``: the ``climviz`` command."""

import sys

from climviz.cli import main

sys.exit(main())
