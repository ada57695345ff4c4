"""tiertool: prove which LLM task types can move to a cheaper model, and what that saves."""

__version__ = "0.1.0"
