"""Shared pytest settings for the notebooks (nbval) and tests/."""


def pytest_collectstart(collector):
    # nbval compares every output type. Rendered HTML duplicates the text/plain it is compared
    # with, and pictures differ in bytes between library versions, so compare text only.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += (
            "text/html",
            "image/png",
            "image/svg+xml",
            "application/javascript",
        )
