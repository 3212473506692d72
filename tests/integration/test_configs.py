"""Compose every config in conf/ and validate it; typos fail before any model loads."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import blip2_bench.cli  # noqa: F401  (registers the run-name resolver)
from blip2_bench.config import split_run_config, validate_section
from blip2_bench.errors import BadInputError
from blip2_bench.paths import conf_dir
from blip2_bench.plugins import load_task_class

BACKENDS = sorted(p.stem for p in (conf_dir() / "backend").glob("*.yaml"))
TASKS = sorted(p.stem for p in (conf_dir() / "task").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml"))


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=False)


def _validate(cfg):
    run, backend, _, tasks = split_run_config(cfg)
    for name, options in tasks.items():
        validate_section(load_task_class(name).Options, options, f"task.{name}")
    return run, backend, tasks


def test_every_task_config_has_a_plugin_and_vice_versa():
    from blip2_bench.plugins import task_files

    assert TASKS and sorted(task_files()) == TASKS


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_composes_with_all_tasks(backend):
    _, b, tasks = _validate(_compose([f"backend={backend}", f"task=[{','.join(TASKS)}]"]))
    assert b.name == backend and sorted(tasks) == TASKS
    # Each pairing names its family so the protocol follows: -coco checkpoints run at 364.
    family = "itm" if ("itm" in backend or "retrieval" in backend) else "t5" if "t5" in backend else "opt"
    assert getattr(b, "family", "itm") == family
    if backend.startswith("blip2-"):
        assert b.image_size == (364 if backend.endswith("-coco") else 224)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment):
    _, _, tasks = _validate(_compose([f"+experiment={experiment}"]))
    assert tasks


def test_per_task_options_live_under_task_name():
    _, _, tasks = _validate(_compose(["task.vqav2.scorer=lavis"]))
    assert tasks["vqav2"]["scorer"] == "lavis"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["+backend.batchsize=3"], r"config error in backend: unknown key 'batchsize'; did you mean 'batch_size'"),
        (["+task.vqav2.scorr=lavis"], r"config error in task.vqav2: unknown key 'scorr'; did you mean 'scorer'"),
        (["backend.impl=hf_blip"], r"unknown backend 'hf_blip'; did you mean 'hf_blip2'"),
        (["backend.device=tpu"], r"backend.device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"),
        (["task.vqav2.scorer=vqa"], r"task.vqav2.scorer must be one of"),
        (["+limt=3"], r"unknown top-level key 'limt'; did you mean 'limit'"),
        (["backend.batch_size=zero"], r"config error in backend: Value 'zero' of type 'str' could not be converted"),
        (["backend=blip2-flan-t5-xl", "backend.dtype=float16"], "float16 is refused for Flan-T5"),
    ],
)
def test_typos_and_bad_values_fail_validation(overrides, message):
    with pytest.raises(BadInputError, match=message):
        _validate(_compose(overrides))


def test_fp16_is_allowed_for_opt():
    assert _validate(_compose(["backend.dtype=float16"]))[1].dtype == "float16"


def test_conf_dir_is_the_checkout_folder():
    assert conf_dir() == Path(__file__).resolve().parents[2] / "conf"
