"""Where each data set comes from: bundled, generated, a local file, or a verified download."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.config import DatasetConfig, SyntheticConfig
from pipeline.core.errors import PipelineError
from pipeline.core.io import atomic_path, sha256_file

DOWNLOAD_TIMEOUT_S = 60


def diabetes_frame() -> pd.DataFrame:
    """scikit-learn's bundled diabetes data with raw, unscaled features; target `target`."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(scaled=False, as_frame=True).frame


def digits_frame() -> pd.DataFrame:
    """scikit-learn's bundled 8x8 handwritten digits: 64 pixel columns (0-16), target `digit`
    (10 classes; the offline stand-in for MNIST)."""
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame
    return frame.rename(columns={"target": "digit"})


def breast_cancer_frame() -> pd.DataFrame:
    """scikit-learn's bundled Wisconsin breast cancer data: 30 measurements, target
    `diagnosis` as text (`malignant` or `benign`)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = bunch.target_names[bunch.target.to_numpy()]
    return frame


def moons_frame(spec: SyntheticConfig) -> pd.DataFrame:
    """Two interleaving half circles in the plane (scikit-learn's make_moons), seeded:
    inputs `x1`, `x2`, class `label` 0 or 1."""
    from sklearn.datasets import make_moons

    x, label = make_moons(n_samples=spec.n_samples, noise=spec.noise, random_state=spec.seed)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": label})


def synthetic_frame(spec: SyntheticConfig) -> pd.DataFrame:
    """A noisy smooth 1-D function: y = sin(2 pi f x) + N(0, noise^2), x uniform on [0, 1],
    f = `spec.frequency` periods."""
    rng = np.random.default_rng(spec.seed)
    x = rng.uniform(0.0, 1.0, spec.n_samples)
    y = np.sin(2.0 * np.pi * spec.frequency * x) + rng.normal(0.0, spec.noise, spec.n_samples)
    return pd.DataFrame({"x": x, "y": y})


def fetch(url: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> bytes:
    """Download `url`; network problems become one PipelineError naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PipelineError(
            f"download of {url} failed ({reason}); set dataset.path to a local copy instead"
        ) from None


def extract_member(payload: bytes, member: str | None, url: str) -> bytes:
    """Return the file itself, or `member` from a zip archive."""
    if member is None:
        return payload
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            return archive.read(member)
    except zipfile.BadZipFile:
        raise PipelineError(f"{url}: not a zip archive; cannot extract {member!r}") from None
    except KeyError:
        raise PipelineError(f"{url}: the archive has no member {member!r}") from None


def download_verified(dataset: DatasetConfig, download_dir: Path) -> Path:
    """Download the data set once into `download_dir`, verified against `dataset.sha256`."""
    assert dataset.url is not None
    name = dataset.archive_member or Path(dataset.url).name or f"{dataset.name}.csv"
    target = download_dir / f"{dataset.name}-{name}"
    if target.is_file() and (dataset.sha256 is None or sha256_file(target) == dataset.sha256):
        return target
    content = extract_member(fetch(dataset.url), dataset.archive_member, dataset.url)
    with atomic_path(target) as tmp:
        tmp.write_bytes(content)
        if dataset.sha256 is not None:
            got = sha256_file(tmp)
            if got != dataset.sha256:
                raise PipelineError(
                    f"{dataset.url}: checksum mismatch: sha256 {got}, expected {dataset.sha256} "
                    "(dataset.sha256); the file was not kept"
                )
    return target


def local_source(dataset: DatasetConfig, download_dir: Path) -> Path:
    """The local file for a file-backed data set: `dataset.path` if given, else the download."""
    if dataset.path:
        path = Path(dataset.path).expanduser()
        if not path.is_file():
            raise PipelineError(f"dataset.path: {path} does not exist or is not a file")
        return path
    if dataset.url:
        return download_verified(dataset, download_dir)
    raise PipelineError(f"dataset={dataset.name} needs dataset.path or dataset.url")
