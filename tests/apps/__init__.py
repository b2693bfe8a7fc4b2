"""Small real GUI apps the tests drive through the desktop environment."""
