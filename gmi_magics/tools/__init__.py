"""Tool calling: the registry, JSON schemas from signatures, argument checks."""
