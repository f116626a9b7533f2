"""The nightly gate and history: which records form each side of a comparison (`sides`), the
rules that call a change a regression (`gate`), re-measuring both code versions (`confirm`), a
metric over time (`history`) and dashboard exports (`dashboards`)."""

__all__ = ["confirm", "dashboards", "gate", "history", "sides"]
