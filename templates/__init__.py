"""Package data: the built-in Jinja2 deck templates (installed as ``assb_lmp.templates``)."""
