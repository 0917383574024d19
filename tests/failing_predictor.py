"""A predictor whose model breaks on every call, for the tests of the service's 500 answer."""

SECRET_DETAIL = "secret detail: /srv/models/model.skops is corrupt at offset 1234"


class FailingPredictor:
    """Carries the real predictor's metadata and class names, and raises on every prediction with
    a message the client must never see (the service's log may keep it)."""

    def __init__(self, real):
        self.metadata, self.class_names = real.metadata, real.class_names

    def predict_proba(self, X):  # noqa: N803 - scikit-learn's name
        raise RuntimeError(SECRET_DETAIL)
