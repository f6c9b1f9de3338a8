"""Word Mover's Embedding."""
