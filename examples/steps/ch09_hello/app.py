"""Step 1 (chapter 9): a Flask app with two routes, and nothing else.

Start it with `flask --app examples.steps.ch09_hello.app run --port 8000` and open
http://127.0.0.1:8000/ (without --port it takes 5000, which macOS keeps for its AirPlay receiver).
"""

from flask import Flask, request

# The application object: it holds the table of routes and turns each request into a call to a
# view function. Chapter 12 builds it inside a function instead; one module-level app is enough here.
app = Flask(__name__)


@app.get("/")
def hello():
    """Answer GET / with a greeting; Flask turns the returned dict into a JSON response."""
    return {"message": "Hello from Flask"}


@app.get("/echo")
def echo():
    """Send back what the request carried, so you can see what a server receives."""
    return {
        "method": request.method,
        "path": request.path,
        # One query parameter may appear several times (?tag=a&tag=b), so each maps to a list.
        "query": request.args.to_dict(flat=False),
        "headers": {
            "User-Agent": request.headers.get("User-Agent"),
            "Accept": request.headers.get("Accept"),
        },
    }
