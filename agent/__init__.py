"""The chat agent: a planner picks tools, tools edit the session's draft, the runner yields ADK events."""
