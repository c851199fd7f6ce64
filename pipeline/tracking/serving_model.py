"""The logged MLflow model: raw rows in, predictions in the target's original units out; for
a classifier, a frame with the predicted class `label` and `probability_<class>` per class.

MLflow "models from code": MLflow executes this file when it loads the model, so the
last line registers the model with `set_model`; the package never imports this module.
The network itself is the `.keras` artifact, loaded with Keras' safe mode; nothing is
unpickled.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from pipeline.data.features import encode, standardize, unstandardize, with_similarities
from pipeline.data.outputs import label_frame, probabilities


class RawRowsRegressor(PythonModel):
    """Encode raw columns, scale with the training-set statistics, predict, unscale."""

    def load_context(self, context: Any) -> None:
        import keras

        self.network = keras.saving.load_model(
            context.artifacts["keras_model"], safe_mode=True, compile=False
        )
        with open(context.artifacts["preprocessing"], encoding="utf-8") as handle:
            self.spec = json.load(handle)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: Any = None
    ) -> np.ndarray | pd.DataFrame:
        frame = pd.DataFrame(model_input)
        raw = self.spec["raw_features"]
        missing = [c for c in raw if c not in frame.columns]
        if missing:
            raise ValueError(f"missing input column(s) {missing}; the model takes {raw}")
        encoded = with_similarities(encode(frame[raw], self.spec), self.spec.get("clusters"))
        x = encoded.to_numpy(dtype="float64")
        if self.spec["scale_features"]:
            x = standardize(x, self.spec["features"])
        outputs = np.asarray(self.network(x.astype("float32"), training=False), dtype="float64")
        classes = self.spec.get("classes")
        if classes:
            return label_frame(probabilities(self.spec["task"], outputs), classes)
        y = outputs.reshape(-1)
        target = {"mean": [self.spec["target"]["mean"]], "std": [self.spec["target"]["std"]]}
        return unstandardize(y, target) if self.spec["scale_target"] else y.astype("float64")


mlflow.models.set_model(RawRowsRegressor())
