"""`saegraph demo`: a real model over a stdlib corpus, two trained SAEs, every stage, a summary."""
