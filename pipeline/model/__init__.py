"""Networks: built from config, the fused training loop, diagnostics, metrics. Imports core and data."""
