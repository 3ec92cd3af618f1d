"""`composer container ACTION`: manage single containers."""
HELP = "manage single containers"
