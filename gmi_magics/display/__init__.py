"""Showing replies: markdown to sanitized HTML, live streaming renderers, the panel."""
