"""`python -m examples.model`: train the wine classifier and write its artifact (make model)."""

import argparse

from examples.model.artifact import default_model_dir, ensure_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--dir", default=None, help="where to write (default: models/ or $SERVING_MODEL_DIR)"
    )
    args = parser.parse_args()
    loaded = ensure_model(args.dir or default_model_dir(), retrain=True)
    meta = loaded.metadata
    print(
        f"trained {meta.name} {meta.version}: accuracy {meta.metrics['accuracy']:.4f}, "
        f"macro F1 {meta.metrics['macro_f1']:.4f}, log loss {meta.metrics['log_loss']:.4f}"
    )
    print(f"written to {args.dir or default_model_dir()} (sha256 {meta.sha256[:12]}…)")


if __name__ == "__main__":
    main()
