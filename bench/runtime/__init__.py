"""The machine a cell runs on: GPU pre-flight and memory (`gpu`), the thread policy (`threads`),
the persistent compile caches (`compile_cache`) and the environment recorded with every run
(`environment`). What each framework needs comes from its backend's registry record."""

__all__ = ["compile_cache", "environment", "gpu", "threads"]
