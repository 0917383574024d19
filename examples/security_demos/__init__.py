"""Small helpers for chapters 19-21 (storing predictions, credentials, the security checklist)."""
