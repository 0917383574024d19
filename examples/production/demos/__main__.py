"""`python -m examples.production.demos blas-threads ...`: the BLAS oversubscription demo of
chapter 16, run as a program (examples/production/demos/blas_threads.py)."""

from __future__ import annotations

import argparse
import json
import sys

from examples.production.demos.blas_threads import multiply_repeatedly, run_processes


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "blas-threads":
        print(__doc__.strip(), file=sys.stderr)
        return 2
    argv = argv[1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--size", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--blas-threads", type=int, default=None)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        print(json.dumps(multiply_repeatedly(arguments.size, arguments.repeats)))
        return 0
    result = run_processes(arguments.processes, arguments.size, arguments.repeats,
                           arguments.blas_threads)  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
if __name__ == "__main__":
    sys.exit(main())
