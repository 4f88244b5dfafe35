"""File builders shared by the tests: each writes real files of one format (tests never import each other)."""
