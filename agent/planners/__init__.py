"""Planners: `rules` (the embedded default, no model) and `llm` (an OpenAI-compatible endpoint)."""
