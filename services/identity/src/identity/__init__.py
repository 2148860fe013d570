"""identity: phone sign-in, sessions and signing keys, educational profiles, guardians, own data."""
