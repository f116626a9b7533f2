"""Draws that open in ArviZ: `--save-draws` and `bench draws` write netCDF with chains and sample_stats."""

import numpy as np
import pytest

from bench.scoring.figure_data import kept_rows
from tests.conftest import requires_numpyro
from tests.test_cli import bench


def test_kept_rows_stay_in_equal_chain_blocks():
    rows = kept_rows(4 * 1000, chains=4, keep=2000)
    assert len(rows) == 2000
    blocks = rows.reshape(4, 500)
    for chain, block in enumerate(blocks):
        assert block.min() >= chain * 1000 and block.max() < (chain + 1) * 1000
    assert list(kept_rows(10, None, keep=4)) == [0, 3, 6, 9]  # VI: evenly spaced, as before


@requires_numpyro
def test_saved_nuts_draws_open_in_arviz_with_rhat_and_sample_stats(tmp_path):
    from bench.spec.arviz_setup import arviz

    az = arviz()
    store = tmp_path / "out" / "bench.sqlite"
    result = bench(
        "run",
        "--suite",
        "toy",
        "--problems",
        "coinflip",
        "--methods",
        "numpyro.nuts",
        "--set",
        "chains=2",
        "--set",
        "warmup=200",
        "--set",
        "draws=300",
        "--repeats",
        "1",
        "--draws",
        "2000",
        "--store",
        str(store),
        "--save-draws",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    (saved,) = (tmp_path / "out" / "draws").glob("*.nc")
    idata = az.from_netcdf(saved)
    assert idata.posterior["f"].shape == (2, 300)  # chains kept
    assert set(idata.sample_stats.data_vars) >= {"diverging", "acceptance_rate", "lp", "n_steps"}
    assert idata.sample_stats["diverging"].dtype == bool
    summary = az.summary(idata, var_names=["f"])
    assert np.isfinite(summary["r_hat"].iloc[0]) and summary["r_hat"].iloc[0] < 1.1
    assert summary["mean"].iloc[0] == pytest.approx(13 / 22, abs=0.05)

    key = "toy/coinflip|numpyro.nuts|seed=0|cpu|float32"
    exported = bench("draws", key, "--out", str(tmp_path / "again.nc"), "--store", str(store), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    again = az.from_netcdf(tmp_path / "again.nc")
    np.testing.assert_array_equal(again.posterior["f"].values, idata.posterior["f"].values)


def test_draws_of_a_vi_like_cell_and_bad_keys(tmp_path):
    from bench.spec.arviz_setup import arviz

    store = tmp_path / "bench.sqlite"
    result = bench(
        "run",
        "--suite",
        "toy",
        "--problems",
        "gaussian2d",
        "--methods",
        "testing.exact,testing.raise",
        "--repeats",
        "1",
        "--draws",
        "2000",
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "g.nc"
    ok = bench(
        "draws",
        "toy/gaussian2d|testing.exact|seed=0|cpu|float32",
        "--out",
        str(out),
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    idata = arviz().from_netcdf(out)
    assert idata.posterior["x"].shape == (1, 2000) and "sample_stats" not in idata.groups()
    for key, needle in (
        ("nosuch", "unknown cell key 'nosuch'"),
        ("toy/gaussian2d|testing.raise|seed=0|cpu|float32", "has no stored draws"),
    ):
        bad = bench("draws", key, "--out", str(tmp_path / "bad.nc"), "--store", str(store), cwd=tmp_path)
        assert bad.returncode == 2 and needle in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad.nc").exists()
