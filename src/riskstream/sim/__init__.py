"""riskstream.sim (built by later layers)."""
