"""saegraph write path: sources -> activations -> features + edges -> bundle -> stores."""
