"""The service's one command-line entry point (no module is both a library and a script):

python -m examples.serving auth new-key NAME | hash-password NAME SCOPES | dev-env
python -m examples.serving migrate upgrade [REVISION] | downgrade REVISION | current | history
"""

import sys

from examples.serving.production.auth import cli as auth_cli
from examples.serving.production.migrations import cli as migrations_cli

COMMANDS = {"auth": auth_cli.main, "migrate": migrations_cli.main}

if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
    print(__doc__.strip(), file=sys.stderr)
    sys.exit(2)
sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
