"""`python -m soraflow_client` runs the `soraflow` CLI."""

import sys

from soraflow_client.cli import main

sys.exit(main())
