"""LASSO: nodewise LASSO with resampling, matched nulls and FDR on replicate counts."""
