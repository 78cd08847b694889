"""The HTTP surface of riskstream: checkout decisions, ingestion, MFA, queries."""
