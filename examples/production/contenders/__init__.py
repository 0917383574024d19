"""The services our reference service is measured against (benchmarks/ starts them).

- `ceiling`: gunicorn + Flask returning a constant reply: what the framework alone costs.
- `naive`: the tutorial service that unpickles the model and builds a DataFrame on every request.
- `bare_batch`: a batch endpoint with nothing but the prediction: no validation, logging or storage.
- `fastapi_peer`, `bentoml_peer`, `litserve_peer`: the same model behind FastAPI + uvicorn, BentoML
  and LitServe, each in its own virtual environment, all validating through `validation`.

Each module has a `create_app()` factory, so importing it does no work. The Flask ones start from
`flask_base.health_checked_app`; this package imports nothing, because the peers' own virtual
environments hold no Flask.
"""
