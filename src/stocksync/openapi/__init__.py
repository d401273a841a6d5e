"""openapi layer."""
