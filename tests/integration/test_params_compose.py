"""The committed params.yaml is exactly what DVC's Hydra integration composes from conf/."""

from __future__ import annotations

from pathlib import Path

from pipeline.experiments.compose import compose_params

ROOT = Path(__file__).resolve().parents[2]


def test_committed_params_yaml_is_the_composition_of_conf(tmp_path: Path) -> None:
    composed = tmp_path / "params.yaml"
    compose_params(composed, [], config_dir=ROOT / "conf")
    assert (ROOT / "params.yaml").read_text(encoding="utf-8") == composed.read_text(encoding="utf-8"), (
        "params.yaml is stale: recompose it from conf/ with `make params`"
    )
