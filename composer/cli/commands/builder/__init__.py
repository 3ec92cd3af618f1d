"""`composer builder ACTION`: manage the build cache."""
HELP = "manage the build cache"
