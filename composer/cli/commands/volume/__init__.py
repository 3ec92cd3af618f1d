"""`composer volume ACTION`: manage volumes."""
HELP = "manage volumes"
