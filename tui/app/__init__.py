"""The Textual dashboard: reads the engine's events and the store; no HTTP in here."""
