"""Step 3 of the service (chapter 11): validated input and JSON errors with one stable shape."""
