"""COSINE: exact top-k decoder-direction neighbours by blocked matmul."""
