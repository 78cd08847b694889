"""riskstream.fraud (built by later layers)."""
