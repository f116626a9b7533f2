"""What people read: the store as a table (`report`), formatted tables (`tables`: Markdown, LaTeX,
HTML, CSV, terminal; `accuracy_table`: cost to accuracy), the HTML page (`html`), figures (`plots`,
`plots_scale`, `plots_accuracy`) and draws exported as ArviZ netCDF (`draws_export`)."""

__all__ = ["accuracy_table", "draws_export", "html", "plots", "plots_accuracy", "plots_scale", "report", "tables"]
