"""reasoner.kernels."""
