"""Step 1 of the service (chapter 9): the smallest Flask app, with two routes."""
