"""One module per `composer` command; a package is a group whose modules are its actions."""
