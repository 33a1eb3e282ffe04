"""`make eval-agent`: the agent evaluation set (FORMAT.md) run through the real runner and tools."""
