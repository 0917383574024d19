"""Debian's chromium as the book's tests and tools start it: headless, offline, no first-run work.

Without the background-networking flags chromium tries to reach Google's services at every start,
which this offline machine refuses (see TOOL-FACTS); --no-sandbox is needed as root (CI runs so)."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
