"""Evaluations that score the product against sets written apart from the code (see evals/agent/FORMAT.md)."""
