"""Reads that are more than a `.get()`: one module per area, shared by the UI and the API."""
