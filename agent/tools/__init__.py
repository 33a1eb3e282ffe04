"""The agent's tools: `base` (the machinery), one module per concern, and `registry` (the list)."""
