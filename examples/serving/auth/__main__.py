"""`python -m examples.serving.auth new-key NAME | hash-password NAME SCOPES | dev-env`."""

import sys

from examples.serving.auth.cli import main

sys.exit(main())
