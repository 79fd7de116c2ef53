"""pantau playbooks package."""
