"""leanml hook implementations for Word Mover's Embedding."""
