"""Users, roles, passwords, tokens, login lockout."""
