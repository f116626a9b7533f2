"""posteriordb: eight posteriors with Stan's reference draws, shipped verbatim in `data/` (BSD-3)."""
