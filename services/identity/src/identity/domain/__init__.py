"""Identity's rules in plain Python: phones, one-time codes, sessions, profiles, guardians, keys."""
