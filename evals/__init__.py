"""reasoner.evals."""
