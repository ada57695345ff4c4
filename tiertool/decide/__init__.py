"""Decide: the statistics (sequential.py), the family of tests (family.py), the sampling rounds (rounds.py), the
decisions (decisions.py), cascades (cascade.py) and the recommendation that gathers them (recommendation.py)."""
