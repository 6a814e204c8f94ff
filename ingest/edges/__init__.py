"""Edge builders: co-activation, nodewise LASSO, decoder cosine, cross-SAE matches."""
