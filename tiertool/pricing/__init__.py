"""Pricing: what a model costs per token (prices.py) and what a tier assignment saves on the log (savings.py)."""
