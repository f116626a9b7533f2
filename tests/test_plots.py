"""Every plot kind renders a non-empty PNG with the expected axes and legend entries."""

import pytest

from bench.reporting import plots
from bench.reporting import report
from tests.test_cli import bench

pytest.importorskip("matplotlib")
EXPECTED = {
    "elbo",
    "time",
    "cost",
    "densities_coinflip",
    "densities_banana",
    "surfaces_moons",
    "surfaces_sine",
    "auc_moons",
    "accuracy_coinflip",
    "accuracy_banana",
    "accuracy_moons",
    "accuracy_sine",
}


@pytest.fixture(scope="module")
def figures(small_store):
    table = report.latest_records(small_store)
    made = plots.make_figures(small_store, table, plots.KINDS, small_store.parent / "references")
    yield made
    import matplotlib.pyplot as plt

    plt.close("all")


def legend_texts(figure):
    return {text.get_text() for ax in figure.axes if ax.get_legend() for text in ax.get_legend().get_texts()}


def test_every_kind_renders_a_non_empty_png(figures, tmp_path):
    assert set(figures) == EXPECTED
    for name, figure in figures.items():
        path = tmp_path / f"{name}.png"
        figure.savefig(path)
        assert path.stat().st_size > 5000, name


def test_axes_and_legends_name_what_they_show(figures):
    elbo = figures["elbo"]
    assert {ax.get_title() for ax in elbo.axes if ax.get_visible()} == {"banana", "coinflip", "moons", "sine"}
    assert all(ax.get_xscale() == "log" for ax in elbo.axes if ax.get_visible())
    assert "numpyro.svi:auto_normal" in legend_texts(elbo) and "testing.exact" not in legend_texts(elbo)  # no ELBO
    time = figures["time"]
    assert time.axes[0].get_xlabel() == "run time (s)"
    quality = {ax.get_ylabel() for ax in time.axes if ax.get_xlabel() == "run time (s, pro rata)"}
    assert quality == {"max standardised mean error", "AUC", "RMSE to sin(x)"}
    assert "numpyro.svi:auto_normal" in legend_texts(time) and "testing.exact" not in legend_texts(time)
    cost = figures["cost"]
    assert {"Pareto front", "testing.exact", "numpyro.svi:auto_normal"} <= legend_texts(cost)
    assert {ax.get_xlabel() for ax in cost.axes} == {"run time (s)", "gradient evaluations"}
    assert {"exact (analytic): 50/90/99% regions", "testing.exact"} <= legend_texts(figures["densities_banana"])
    moons = figures["surfaces_moons"]
    assert any("94% interval width" in ax.get_title() for ax in moons.axes)
    sine_titles = {ax.get_title() for ax in figures["surfaces_sine"].axes}
    assert "reference (numpyro.nuts, failed)" in sine_titles  # the short reference, its verdict shown
    assert {"posterior mean", "94% interval", "sin(x)", "data"} <= legend_texts(figures["surfaces_sine"])
    auc_axis = figures["auc_moons"].axes[0]
    assert [t.get_text() for t in auc_axis.get_xticklabels()] == ["numpyro.svi:auto_normal"]


def test_plot_command_writes_png_and_pdf(small_store, tmp_path):
    result = bench(
        "plot",
        "--store",
        str(small_store),
        "--kind",
        "elbo,auc",
        "--format",
        "both",
        "--out",
        str(tmp_path / "figs"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert written == ["auc_moons.pdf", "auc_moons.png", "elbo.pdf", "elbo.png"]
    bad = bench("plot", "--store", str(small_store), "--kind", "pie", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown plot kind" in bad.stderr


def test_runs_record_checkpoints_for_time_to_accuracy(small_store):
    """Quality against run time comes from the store alone: log-spaced checkpoints ending at the
    record's own median run time, the last one with the record's own quality metric."""
    import numpy as np

    from bench.store import load_arrays

    table = report.latest_records(small_store)
    moons = table[(table["problem"] == "moons") & (table["status"] == "ok")].iloc[0]
    arrays = load_arrays(small_store, int(moons["record_id"]))
    assert arrays["checkpoint_step"][-1] == moons["steps"] == 300
    assert arrays["checkpoint_run_s"][-1] == pytest.approx(moons["run_s"], rel=1e-5)
    assert np.all(np.diff(arrays["checkpoint_run_s"]) > 0)
    assert 0.5 < arrays["checkpoint_quality"][-1] <= 1.0 and abs(arrays["checkpoint_quality"][-1] - moons["auc"]) < 0.02
    exact = table[table["method"] == "testing.exact"].iloc[0]
    assert not any(name.startswith("checkpoint") for name in load_arrays(small_store, int(exact["record_id"])))


def test_every_panel_has_labelled_axes_and_a_legend(figures):
    for name, figure in figures.items():
        panels = [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        assert panels, name
        for ax in panels:
            assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())
            assert ax.get_legend() is not None and ax.get_legend().get_texts(), (name, ax.get_title())
            assert all(t.get_fontsize() >= 8 for t in ax.get_legend().get_texts()), name


def test_elbo_traces_show_the_exact_log_evidence_and_name_the_seeds(figures):
    from scipy.special import betaln

    (coinflip,) = [ax for ax in figures["elbo"].axes if ax.get_title() == "coinflip"]
    texts = [t.get_text() for t in coinflip.get_legend().get_texts()]
    assert any(t.startswith("exact log Z") for t in texts) and {"seed 0", "seed 1"} <= set(texts)
    lines = [line for line in coinflip.get_lines() if line.get_label().startswith("exact log Z")]
    assert lines[0].get_ydata()[0] == pytest.approx(betaln(13, 9))


def test_density_panels_share_axes_that_hold_the_reference(figures):
    for name in ("densities_coinflip", "densities_banana"):
        panels = [ax for ax in figures[name].axes if ax.get_visible()]
        assert len({ax.get_xlim() for ax in panels}) == 1 and len({ax.get_ylim() for ax in panels}) == 1, name
    (first, *_) = [ax for ax in figures["densities_coinflip"].axes if ax.get_visible()]
    low, high = first.get_xlim()
    assert low <= 0.25 and high >= 0.9  # Beta(13, 9) is inside the axes, not clipped
    assert first.collections, "the exact density is drawn as a filled curve, not a histogram of draws"


def test_worst_marginal_axis_widens_for_a_near_method_and_notes_a_far_one():
    import numpy as np

    reference = np.random.default_rng(0).normal(0.0, 1.0, 10_000)
    low, high = plots.axis_limits(reference)
    near = np.random.default_rng(1).normal(3.0, 1.0, 2000)
    n_low, n_high, note = plots.marginal_axis(reference, near)
    assert n_low == low and n_high > np.percentile(near, 99.9) > high and note == ""
    far = np.random.default_rng(2).normal(1e4, 1.0, 2000)  # diamonds' sigma from a failed VI fit: 4e3 sd off
    assert plots.marginal_axis(reference, far) == (low, high, "100% of draws off the axis (median 1e+04)")


def test_plot_command_draws_posteriordb_worst_marginals(tmp_path):
    """What a user types after a posteriordb run: one figure per posterior, the reference beside
    each method's draws of the worst component (eight schools: the derived theta, from the
    reference's own draws, which hold theta and not theta_trans). The cell runs in this process."""
    from bench.execution import driver
    from bench.execution.plan import Request, build_plan
    from tests.test_bad_input import InlineExecutor

    store = tmp_path / "bench.sqlite"
    cells = build_plan(
        Request(
            suite="posteriordb", problems=["eight_schools_noncentered"], methods=["testing.exact"], repeats=1, draws=500
        )
    )
    driver.execute(cells, store, InlineExecutor())
    assert list(report.latest_records(store)["status"]) == ["ok"]
    plotted = bench(
        "plot",
        "--suite",
        "posteriordb",
        "--kind",
        "densities",
        "--store",
        str(store),
        "--out",
        str(tmp_path / "figs"),
        cwd=tmp_path,
    )
    assert plotted.returncode == 0, plotted.stderr
    assert [p.name for p in (tmp_path / "figs").iterdir()] == ["densities_eight_schools_noncentered.png"]
    assert (tmp_path / "figs" / "densities_eight_schools_noncentered.png").stat().st_size > 5000
