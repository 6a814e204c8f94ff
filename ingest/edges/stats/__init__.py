"""Statistics shared by every edge stage: BH q-values, hypergeometric tests, column moments, nulls, block sizing."""
