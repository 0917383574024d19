"""The entry point for servers: `flask --app examples.serving.wsgi run`, or gunicorn
`examples.serving.wsgi:app`. The only module that does work when imported: it builds the app."""

from examples.serving import create_app

app = create_app()
