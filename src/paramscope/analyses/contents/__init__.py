"""What is inside: parameter counts by component, layer and stored type (the inventory)."""
