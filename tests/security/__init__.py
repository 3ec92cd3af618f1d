"""The attack suite: each test runs an attack on the isolation composer promises, for real."""
