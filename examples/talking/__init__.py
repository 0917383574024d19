"""Part I (chapters 1 to 5), how programs talk to each other: the waiter of chapter 1, and the
small servers and helpers of chapters 2 to 5."""
