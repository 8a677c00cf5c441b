"""reasoner.models."""
