"""The loader passes: stack files -> a typed composer.model.Project."""
