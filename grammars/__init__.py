"""reasoner.grammars."""
