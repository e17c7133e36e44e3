"""``python -m climviz.cli ...`` (and ``torchrun ... -m climviz.cli ...``): the ``climviz`` command."""

import sys

from climviz.cli import main

sys.exit(main())
