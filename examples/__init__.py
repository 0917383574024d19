"""Runnable code behind the book Serving Machine Learning; installed with `pip install -e .`."""
