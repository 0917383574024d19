"""The wine model for R: its parameters exported to JSON, a plumber twin of POST /v1/predict
(api.R) and an httr2 client of the reference service (client.R)."""
