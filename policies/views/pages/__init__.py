"""Full pages of the UI, one module per area; each can also answer htmx with a fragment of itself."""
