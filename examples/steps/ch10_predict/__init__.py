"""Step 2 of the service (chapter 10): a prediction endpoint, with the model loaded once."""
