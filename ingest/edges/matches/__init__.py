"""MATCHES: corresponding features of two SAEs (one-to-one matching, splitting, activation correlation)."""
