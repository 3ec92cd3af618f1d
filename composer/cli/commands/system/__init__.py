"""`composer system ACTION`: engine-wide information."""
HELP = "engine-wide information"
