"""Offline demo material: tiny BLIP-2 models and generated data in the official formats."""
