"""pantau exporters package."""
