"""CO_ACTIVATES: exact co-firing counts and hypergeometric tests, in blocks of feature rows."""
