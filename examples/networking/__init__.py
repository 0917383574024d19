"""Small servers and helpers for Part I (chapters 2 to 5): how programs talk to each other."""
