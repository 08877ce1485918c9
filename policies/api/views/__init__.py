"""API views, one module per area; each write view calls exactly one service."""
