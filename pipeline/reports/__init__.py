"""What people look at: a run's pictures and a sweep's comparison."""
