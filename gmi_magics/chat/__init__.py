"""Conversations: turns, the tool loop, history rules, the context budget, saving."""
