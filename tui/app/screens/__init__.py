"""Modal screens of the dashboard: help, add ids, confirm, export."""
