"""The telemetry sources: one catalogue of sources, their recognisers, envelopes and text-log
parsers."""
