"""Entry point for running the demo app under gunicorn: `gunicorn examples.networking.wsgi:app`."""

from examples.networking.demo_app import create_demo_app

app = create_demo_app()
