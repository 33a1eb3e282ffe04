"""The rule planner: patterns and a reference resolver, English and Chinese, no model behind it."""
