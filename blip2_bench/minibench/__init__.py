"""The generated mini benchmark and the tiny BLIP-2 pairings trained on it (issue 11)."""
