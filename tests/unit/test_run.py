"""Command-line choices of config group options are checked against conf/ before Hydra runs."""

from __future__ import annotations

from pathlib import Path

from pipeline.experiments.run import unknown_group_option

CONF = Path(__file__).resolve().parents[2] / "conf"
OPTIMIZERS = "adam, momentum, momentum_decay, rmsprop, sgd"


def test_an_unknown_option_names_the_missing_file_and_lists_the_valid_ones():
    message = unknown_group_option(["optimizer=adamax"], CONF)
    assert message == f"conf/optimizer/adamax.yaml does not exist; optimizer must be one of {OPTIMIZERS}"


def test_every_value_of_a_sweep_and_appended_groups_are_checked():
    assert "conf/optimizer/adamx.yaml" in unknown_group_option(["optimizer=sgd,adamx"], CONF)
    assert "conf/experiment/optimisers.yaml" in unknown_group_option(["+experiment=optimisers"], CONF)


def test_valid_choices_keys_and_hydra_groups_pass():
    arguments = [
        "optimizer=sgd,adam",
        "+experiment=optimizers",
        "dataset=facebook",
        "optimizer.learning_rate=0.1",
        "model.hidden_units=[8,8]",
        "hydra/launcher=joblib",
        "~penalty",
        "optimizer=null",
        "not-an-override",
    ]
    assert unknown_group_option(arguments, CONF) is None


def test_the_cli_and_the_api_refuse_overrides_with_the_same_checks():
    """`override_error` is what `python -m pipeline.run` prints after `error: ` and what
    `pipeline.api` raises: credentials, the grammar, then an unknown option."""
    from pipeline.experiments.run import override_error

    assert "holds credentials" in override_error(["tracking.uri=http://bob:secret@host:5000"], CONF)
    assert "not valid Hydra override syntax" in override_error(["dataset.separator=;,"], CONF)
    assert override_error(["optimizer=adamax"], CONF) == unknown_group_option(["optimizer=adamax"], CONF)
    assert override_error(["optimizer=adam", "training.epochs=3"], CONF) is None
