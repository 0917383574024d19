"""The services our reference service is measured against (benchmarks/ starts them).

- `ceiling`: gunicorn + Flask returning a constant reply: what the framework alone costs.
- `naive`: the tutorial service that unpickles the model and builds a DataFrame on every request.
- `bare_batch`: a batch endpoint with nothing but the prediction: no validation, logging or storage.
- `fastapi_peer`: the same model behind FastAPI + uvicorn, with pydantic validation.

Each module has a `create_app()` factory, so importing it does no work.
"""
