"""`composer image ACTION`: manage images."""
HELP = "manage images"
