"""Scripts and small libraries that check and build the book (not part of the examples package)."""
