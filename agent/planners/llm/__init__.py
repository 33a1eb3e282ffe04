"""The LLM planner: one OpenAI-compatible chat-completions request per planner step."""
