"""riskstream.services (built by later layers)."""
