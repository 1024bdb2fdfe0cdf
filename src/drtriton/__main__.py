"""python -m drtriton == the drtriton command."""

import sys

from drtriton.cli import main

sys.exit(main())
