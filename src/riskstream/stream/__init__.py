"""riskstream.stream (built by later layers)."""
