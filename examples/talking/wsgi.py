"""Entry point for running the demo app under gunicorn: `gunicorn examples.talking.wsgi:app`."""

from examples.talking.demo_app import create_demo_app

app = create_demo_app()
