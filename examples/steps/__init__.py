"""Part III, step by step: the service as chapters 9, 10 and 11 leave it, one snapshot each.
Chapter 12 turns the last one into the reference service, examples.serving."""
