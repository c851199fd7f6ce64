"""A stage's output says what it was made from, and the next stage checks it (issue 34).

The issue's case: normalize's output came from `dataset.task=multiclass`, the config then
said regression, and split stamped the stale data with the new config's fingerprint.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.core.errors import PipelineError
from pipeline.core.io import read_json
from pipeline.data.cache import ensure_prepared
from pipeline.data.fingerprint import data_fingerprint
from pipeline.data.normalize import normalize_folder
from pipeline.data.raw import ingest
from pipeline.data.split import split_folder


def folders(cfg):
    return Path(cfg.paths.raw_dir), Path(cfg.paths.interim_dir), Path(cfg.paths.processed_dir)


def one_line_saying_dvc_repro(err: pytest.ExceptionInfo[PipelineError], folder: Path) -> None:
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(folder)), message
    assert "from another" in message and "run `dvc repro`" in message, message


def test_split_refuses_data_normalized_with_another_dataset_config(make_config):
    before = make_config("dataset.task=regression")
    raw, interim, processed = folders(before)
    ingest(before.dataset, Path(before.paths.download_dir), raw)
    normalize_folder(before.dataset, raw, interim)
    after = make_config("dataset.task=auto")
    with pytest.raises(PipelineError) as err:
        split_folder(after.dataset, after.split, interim, processed)
    one_line_saying_dvc_repro(err, interim)
    assert not processed.exists()  # nothing stamped with a config its data did not come from
    with pytest.raises(PipelineError) as err:
        normalize_folder(after.dataset, raw, interim)
    one_line_saying_dvc_repro(err, raw)


def test_the_prepared_manifest_is_the_fingerprint_of_what_it_was_made_from(make_config):
    cfg = make_config()
    raw, interim, processed = folders(cfg)
    ingest(cfg.dataset, Path(cfg.paths.download_dir), raw)
    normalize_folder(cfg.dataset, raw, interim)
    split_folder(cfg.dataset, cfg.split, interim, processed)
    assert read_json(processed / "manifest.json")["fingerprint"] == data_fingerprint(cfg.dataset, cfg.split)
    assert ensure_prepared(cfg.dataset, cfg.split, cfg.paths) == processed  # the DVC output reused
    other = make_config("split.seed=7")
    assert ensure_prepared(other.dataset, other.split, other.paths) != processed


def test_the_train_stage_refuses_data_prepared_for_another_config_before_a_run(
    make_config, tmp_path, monkeypatch, isolated_tracking
):
    from pipeline.stages import train

    cfg = make_config()
    raw, interim, processed = folders(cfg)
    ingest(cfg.dataset, Path(cfg.paths.download_dir), raw)
    normalize_folder(cfg.dataset, raw, interim)
    split_folder(cfg.dataset, cfg.split, interim, processed)
    changed = make_config("split.seed=7").model_dump(mode="json")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PipelineError) as err:
        train.main()
    one_line_saying_dvc_repro(err, processed)
    assert not Path(cfg.paths.model_dir).exists()  # nothing trained
    store = Path(isolated_tracking.removeprefix("sqlite:///"))
    if store.exists():  # no run was opened
        import mlflow

        assert mlflow.search_runs(search_all_experiments=True).empty
