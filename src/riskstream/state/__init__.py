"""riskstream.state (built by later layers)."""
