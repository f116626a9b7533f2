"""What people read: the store as a table (`report`), formatted tables (`tables`: Markdown, LaTeX,
HTML, CSV, terminal), the HTML page (`html`), figures (`plots`, `plots_scale`) and draws exported
as ArviZ netCDF (`draws_export`)."""

__all__ = ["draws_export", "html", "plots", "plots_scale", "report", "tables"]
