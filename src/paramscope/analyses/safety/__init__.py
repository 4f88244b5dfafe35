"""Could loading it run code: the verdict on pickle-based files from what their opcodes would resolve."""
