"""An example bench plugin: the method `laplace.map` and the problem `tilted_coin` (docs/plugins.md)."""
