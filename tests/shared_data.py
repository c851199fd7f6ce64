"""Where the tests find the shared public data sets (`../shared/data/`, or $SHARED_DATA_DIR)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
FACEBOOK_CSV = SHARED_DATA / "dataset_Facebook.csv"
HOUSING_CSV = SHARED_DATA / "housing.csv"
