"""Dashboard widgets, one a file."""
