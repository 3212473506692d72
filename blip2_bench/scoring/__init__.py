"""`blip2-bench score <task>`: score an existing predictions file with no model loaded."""
