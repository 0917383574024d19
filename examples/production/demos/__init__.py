"""Small programs that Part IV's chapters run to show one behaviour each; not part of the service."""
