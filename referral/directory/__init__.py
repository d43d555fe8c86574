"""The partner directory (sociale kaart)."""
