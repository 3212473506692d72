"""Loaders for the official dataset files, as users have them on disk."""
