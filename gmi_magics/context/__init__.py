"""What the notebook contributes to a message: interpolation, previews, exceptions."""
