"""saegraph write path: sources -> activations -> features + edges -> bundle -> stores."""

__version__ = "0.1.0"
