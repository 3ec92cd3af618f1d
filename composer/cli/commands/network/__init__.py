"""`composer network ACTION`: manage networks."""
HELP = "manage networks"
