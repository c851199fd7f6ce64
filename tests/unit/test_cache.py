"""Prepared data for a configuration (pipeline.data.cache.ensure_prepared)."""

from __future__ import annotations

import shutil

from pipeline.data.cache import ensure_prepared


def test_a_worker_without_the_source_file_uses_the_prepared_data_it_received(make_config, tmp_path):
    source = tmp_path / "houses.csv"
    source.write_text("a,b,y\n" + "".join(f"{i},{i % 7},{i * 2 % 11}\n" for i in range(60)))
    cfg = make_config("dataset=csv", f"dataset.path={source}", "dataset.target=y")
    prepared = ensure_prepared(cfg.dataset, cfg.split, cfg.paths)  # the driver, with the file
    shipped = tmp_path / "elsewhere.csv"
    shutil.move(source, shipped)  # the worker has the prepared data, not the file
    assert ensure_prepared(cfg.dataset, cfg.split, cfg.paths) == prepared
