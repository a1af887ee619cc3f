"""Hunting over log files: reading lines, the reference hunt, hits and progress."""
