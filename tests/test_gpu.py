"""The GPU path: the pre-flight (real probes here, and its decision rule), synchronised clocks,
peak memory, and (marked `gpu`, skipped without one) every backend's fit on a GPU."""

import math
import os
import subprocess
import sys

import pytest

from bench.runtime import gpu
from bench.runtime.environment import gpus
from bench.spec.errors import BenchInputError
from tests.conftest import requires_numpyro, requires_torch

NO = {
    "jax": gpu.Probe("jax", False, "jax has no CUDA backend (pip install 'bench[gpu]')"),
    "torch": gpu.Probe("torch", False, "torch 2.13.0+cpu is a CPU build (...)"),
}
YES = {"jax": gpu.Probe("jax", True), "torch": gpu.Probe("torch", True)}


def test_no_framework_seeing_a_gpu_is_one_error_naming_each_fix():
    methods = {"numpyro.svi": "jax", "torch.vi": "torch", "pymc.advi": None}
    with pytest.raises(BenchInputError) as caught:
        gpu.decide(NO, methods, gpus_listed=False)
    message = str(caught.value)
    assert "\n" not in message and "nvidia-smi lists none" in message and message.endswith("valid choices: cpu")
    assert NO["jax"].reason in message and NO["torch"].reason in message


def test_frameworks_that_see_no_gpu_make_their_methods_unsupported():
    methods = {"numpyro.svi": "jax", "blackjax.meanfield_vi": "jax", "torch.vi": "torch", "pymc.advi": None}
    assert gpu.decide({"jax": YES["jax"], "torch": NO["torch"]}, methods, True) == {"torch.vi": NO["torch"].reason}
    assert gpu.decide({"jax": NO["jax"], "torch": YES["torch"]}, methods, True) == {
        "numpyro.svi": NO["jax"].reason,
        "blackjax.meanfield_vi": NO["jax"].reason,
    }
    assert gpu.decide(YES, methods, True) == {}
    assert gpu.decide({}, {"pymc.advi": None}, False) == {}  # PyMC keeps its own unsupported reason


def test_framework_of_a_method():
    assert gpu.framework_of("numpyro.svi") == "jax"
    assert gpu.framework_of("blackjax.meanfield_vi") == "jax"
    assert gpu.framework_of("torch.vi") == "torch"
    assert gpu.framework_of("pymc.advi") is None


def test_plan_marks_the_cells_of_a_framework_without_a_gpu(monkeypatch):
    """The plan's wiring: the pre-flight's reasons land on the cells (probe outcomes substituted:
    this machine has no GPU to make one of them true)."""
    from bench.execution.plan import Request, build_plan

    monkeypatch.setattr(gpu, "probe_all", lambda frameworks: {"jax": YES["jax"], "torch": NO["torch"]})
    cells = build_plan(
        Request(
            "scale",
            problems=["moons_n200_h2"],
            methods=["numpyro.svi:auto_normal", "torch.vi", "pymc.advi"],
            device="gpu",
        )
    )
    reasons = {c.method: c.unsupported for c in cells}
    assert reasons["numpyro.svi"] is None and reasons["torch.vi"] == NO["torch"].reason
    assert "8359" in reasons["pymc.advi"]  # PyMC's own reason stays


@pytest.mark.skipif(bool(gpus()), reason="a GPU is visible: the probes may succeed")
def test_real_probes_name_the_fix_on_a_machine_without_a_gpu():
    found = gpu.probe_all(tuple(name for name in gpu.gpu_frameworks() if _installed(name)))
    for name, probe in found.items():
        assert not probe.ok and probe.reason.startswith(name)
    if "jax" in found and not any(_installed(p) for p in ("jax_cuda12_plugin", "jax_cuda13_plugin")):
        assert "bench[gpu]" in found["jax"].reason and "bench[cuda13]" in found["jax"].reason
    if "torch" in found and found["torch"].info.get("cuda") is None:
        assert "CPU build" in found["torch"].reason and "download.pytorch.org" in found["torch"].reason
    assert set(gpu.probed()) >= set(found)  # and what they found goes into the environment record


@pytest.mark.skipif(bool(gpus()), reason="a GPU is visible")
def test_gpu_run_without_a_gpu_exits_two_with_one_line_and_writes_nothing(tmp_path):
    store = tmp_path / "results" / "bench.sqlite"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--suite",
            "bnn",
            "--device",
            "gpu",
            "--methods",
            "numpyro.svi,torch.vi",
            "--store",
            str(store),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device gpu: no GPU is visible to any chosen framework")
    assert "jax" in lines[0] and "torch" in lines[0] and "'bench[gpu]'" in lines[0]  # the extra, not eaten as markup
    assert not (tmp_path / "results").exists()


def test_clock_stops_only_after_the_device_sync(monkeypatch):
    """time_repeats reads the clock, runs the fit, waits for the sync, then reads the clock again."""
    import time

    from bench.spec.fitting import time_repeats

    events = []
    ticks = iter(range(100))

    def clock():
        events.append("clock")
        return float(next(ticks))

    def sync(output):
        events.append(f"sync {output}")
        return output

    def call():
        events.append("call")
        return len(events)

    monkeypatch.setattr(time, "perf_counter", clock)
    output, samples, _ = time_repeats(call, sync, repeats=3)
    assert events == ["clock", "call", "sync 2", "clock"] + ["clock", "call", "sync 6", "clock"] + [
        "clock",
        "call",
        "sync 10",
        "clock",
    ]
    assert output == 10 and samples == [1.0, 1.0, 1.0]


@requires_torch
def test_torch_sync_waits_for_cuda_only_on_cuda():
    import torch

    from backends.torch.target import synchronize

    calls = []
    original = torch.cuda.synchronize
    try:
        torch.cuda.synchronize = lambda device=None: calls.append(device)
        assert synchronize(torch.device("cpu"))("out") == "out" and calls == []
        synchronize(torch.device("cuda"))("out")
        assert calls == [torch.device("cuda")]
    finally:
        torch.cuda.synchronize = original


@requires_numpyro
def test_peak_memory_is_what_the_framework_reports_or_nan():
    import jax
    import jax.numpy as jnp

    jnp.ones(1000).block_until_ready()
    memory = gpu.peak_memory("cpu", "jax")
    stats = jax.devices()[0].memory_stats()
    if stats is None:
        assert math.isnan(memory["peak_device_bytes"])  # JAX's CPU client reports none: NaN, never a guess
    else:
        assert memory["peak_device_bytes"] == stats["peak_bytes_in_use"]
    assert memory["peak_rss_bytes"] > 1e6
    assert math.isnan(gpu.peak_memory("cpu", None)["peak_device_bytes"])


def test_gpu_cells_get_no_preallocation():
    from bench.records.cells import Cell
    from bench.execution.executors import worker_environment

    cell = Cell(
        suite="toy",
        problem="coinflip",
        method="numpyro.svi",
        variant="auto_normal",
        seed=0,
        device="gpu",
        dtype="float32",
        repeats=1,
        draws=10,
    )
    env = worker_environment(cell, threads=1, cache_dir=None)
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" and env["JAX_PLATFORMS"] == "cuda"


def test_environment_records_cuda_versions():
    from bench.runtime import environment

    captured = environment.capture("float32", "cpu")
    assert "driver_cuda" in captured["cuda"] and "gpu_probe" in captured
    if not gpus():
        assert captured["cuda"]["driver_cuda"] is None


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- on a GPU ---------------------------------------------------------------------------------------
GPU_METHODS = ["numpyro.svi:auto_normal", "numpyro.nuts", "blackjax.meanfield_vi", "torch.vi"]


@pytest.mark.gpu
@pytest.mark.parametrize("method", GPU_METHODS)
def test_each_backend_fits_on_the_gpu_with_its_data_there(method, tmp_path):
    """A real GPU cell, in its own worker process: ok, data on the GPU, peak device memory recorded."""
    from bench.execution.executors import run_in_subprocess
    from bench.execution.plan import Request, build_plan

    overrides = {"warmup": "20", "draws": "20", "chains": "2"} if method == "numpyro.nuts" else {"steps": "50"}
    (cell,) = build_plan(
        Request(
            "scale",
            problems=["moons_n1e3_h4"],
            methods=[method],
            device="gpu",
            repeats=1,
            draws=50,
            overrides=overrides,
        )
    )
    if cell.unsupported:
        pytest.skip(f"{method}: {cell.unsupported}")
    record = run_in_subprocess(cell, timeout=600)
    assert record.status == "ok", record.reason
    assert record.info["data_device"].startswith(("gpu", "cuda"))
    assert record.metrics["peak_device_bytes"] > 0
    assert record.metrics["time_per_step_s"] > 0


@pytest.mark.gpu
def test_preflight_finds_a_gpu_framework():
    found = gpu.probe_all(("jax", "torch"))
    assert any(p.ok for p in found.values()), {k: p.reason for k, p in found.items()}
    for probe in found.values():
        if probe.ok:
            assert probe.info["devices"]  # the framework names the GPU it sees
