"""What the SOC can see: the coverage matrix, the ATT&CK Navigator layer, the telemetry check."""
