"""Settings resolution and planning: defaults from one place, every bad input a clear error."""

import pytest

import backends
import suites
from bench.spec.errors import BenchInputError
from bench.spec.methods import resolve_settings
from bench.execution.plan import Request, build_plan, parse_overrides


def svi():
    return backends.get_method("numpyro.svi")


def test_settings_precedence_generic_problem_variant_override():
    coin = suites.get_problem("coinflip")
    settings = resolve_settings(svi(), coin, "beta", {"steps": "200"})
    assert settings["guide"] == "beta"
    assert settings["steps"] == 200  # user override, typed from the CLI string
    assert settings["learning_rate"] == coin.recipe.learning_rate  # the seed's recipe
    assert settings["init_scale"] == 0.1  # the generic default


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"stepz": "10"},
            "unknown setting 'stepz'.*valid settings: batch_size, early_stopping, flow_depth, flow_hidden, guide",
        ),
        ({"steps": "ten"}, "setting steps='ten'"),
        ({"steps": "0"}, "steps must be positive"),
        ({"learning_rate": "-1"}, "learning_rate must be positive"),
    ],
)
def test_bad_settings_are_rejected(overrides, message):
    with pytest.raises(BenchInputError, match=message):
        resolve_settings(svi(), suites.get_problem("coinflip"), "", overrides)


def test_plan_expands_every_applicable_guide_and_hashes_stably():
    cells = build_plan(Request("toy"))
    labels = {(c.problem, c.label) for c in cells}
    assert ("coinflip", "numpyro.svi:beta") in labels and ("bimodal", "numpyro.svi:mixture") in labels
    assert ("gamma", "numpyro.svi:beta") not in labels
    assert ("banana", "numpyro.svi:auto_iaf") in labels and (
        "gamma",
        "numpyro.svi:auto_iaf",
    ) not in labels  # 2-D and up
    assert len(cells) == 20 and all(c.unsupported is None for c in cells)
    again = build_plan(Request("toy"))
    assert [c.hash for c in cells] == [c.hash for c in again]
    assert len({c.hash for c in cells}) == len(cells)
    changed = build_plan(Request("toy", overrides={"steps": "10"}))
    assert not {c.hash for c in cells} & {c.hash for c in changed}


def test_variant_that_does_not_apply_becomes_an_unsupported_cell():
    cells = build_plan(Request("toy", problems=["gamma", "coinflip"], methods=["numpyro.svi:beta"]))
    by_problem = {c.problem: c for c in cells}
    assert by_problem["coinflip"].unsupported is None
    assert "does not apply to gamma" in by_problem["gamma"].unsupported


@pytest.mark.parametrize(
    "request_, message",
    [
        (Request("toyz"), "unknown suite 'toyz'; valid choices: bnn, nightly, posteriordb, scale, toy"),
        (Request("toy", problems=["moons"]), "unknown problem in suite toy 'moons'; valid choices: .*gamma"),
        (Request("toy", methods=["numpyro.sv"]), "unknown method 'numpyro.sv'; valid choices: .*numpyro.svi"),
        (Request("toy", methods=["numpyro.svi:foo"]), "valid choices: auto_bnaf, auto_iaf, auto_mvn, auto_normal"),
        (Request("toy", seeds=0), "--seeds must be a positive number"),
        (Request("toy", repeats=-1), "--repeats must be a positive number"),
        (Request("toy", device="tpu"), "unknown device 'tpu'; valid choices: cpu, gpu"),
        (Request("toy", overrides={"nope": "1"}), "unknown setting 'nope'"),
    ],
)
def test_bad_requests_name_the_problem_and_the_choices(request_, message):
    with pytest.raises(BenchInputError, match=message):
        build_plan(request_)


def test_gpu_request_without_a_gpu_is_refused(monkeypatch):
    from bench.runtime import environment

    monkeypatch.setattr(environment, "gpus", lambda: [])
    with pytest.raises(BenchInputError, match="no GPU is visible"):
        build_plan(Request("toy", device="gpu"))


def test_parse_overrides():
    assert parse_overrides(["steps=10", " lr = 0.1 "]) == {"steps": "10", "lr": "0.1"}
    with pytest.raises(BenchInputError, match="name=value"):
        parse_overrides(["steps"])
