"""leanml hook implementations for prune_kd (lazy: imports nothing heavy)."""
