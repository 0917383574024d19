"""`python -m examples.production.watching CURRENT CANDIDATE [--margin M]`: the model-quality gate
that CI runs on a retrained model (examples/production/watching/quality_gate.py); exit 1 when the
candidate fails it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from examples.production.watching.quality_gate import DEFAULT_MARGIN, gate_models


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("current", help="folder of the model in production")
    parser.add_argument("candidate", help="folder of the model that would replace it")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    arguments = parser.parse_args(argv)
    result = gate_models(arguments.current, arguments.candidate, arguments.margin)
    print(result.summary())
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
if __name__ == "__main__":
    sys.exit(main())
