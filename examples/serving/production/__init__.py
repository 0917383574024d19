"""Part IV's production features of the reference service: the request log, metrics, security
headers, CORS, credentials, rate limits and the prediction store with its migrations. Each module
hands `create_app` one hook (examples.serving.app.add_production_features)."""
