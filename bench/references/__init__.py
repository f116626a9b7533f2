"""Reference posteriors: building MCMC references (`build`), storing them with their provenance
and refusing stale ones (`store`), and checking a problem's translations against external draws
(`translation_check`)."""

__all__ = ["build", "store", "translation_check"]
