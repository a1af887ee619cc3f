"""The reference evaluator and engine: the meaning of every rule on native events (the oracle)."""
