"""`python -m examples.r OUT [--model-dir DIR]`: write the model's parameters to JSON for the R twin
(examples/r/export_parameters.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from examples.r.export_parameters import export_parameters


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the JSON file to write")
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the bundled model")
    arguments = parser.parse_args(argv)
    parameters = export_parameters(arguments.out, arguments.model_dir)
    print(f"wrote {arguments.out}: {len(parameters['features'])} features, {parameters['classes']}")


if __name__ == "__main__":
    main()
if __name__ == "__main__":
    main()
