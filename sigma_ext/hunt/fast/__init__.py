"""The fast hunt: every rule compiled into DuckDB SQL and run as one scan per file."""
