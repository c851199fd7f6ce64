"""What the network's output means for each task, and the loss it is trained on.

The output layer is linear for every task: one unit for regression and binary tasks, one per
class for multiclass. For classification its outputs are logits, and the loss is computed
from them (TensorFlow's `*_cross_entropy_with_logits`): no probability is ever rounded to 0
or 1 before its logarithm is taken, so the loss stays finite where a sigmoid or softmax
output followed by a logarithm would not. The probabilities are
`pipeline.data.outputs.probabilities(task, logits)`.
"""

from __future__ import annotations

import tensorflow as tf

TASKS = ("regression", "binary", "multiclass")


def output_units(task: str, classes: int) -> int:
    """Units of the output layer: 1, 1, or one per class."""
    return classes if task == "multiclass" else 1


def metric_names(task: str) -> tuple[str, ...]:
    """The per-epoch quantities beside the loss (which adds the penalties): the plain data
    loss, and for classification the accuracy. History keys are `train_<name>`, `val_<name>`."""
    return ("mse",) if task == "regression" else ("crossentropy", "accuracy")


def batch_terms(task: str, outputs: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The batch's mean data loss (MSE or cross-entropy) and its count of correct predictions
    (0 for regression). `y` holds the (scaled) target, or class indices as floats."""
    if task == "regression":
        pred = tf.reshape(outputs, [-1])
        return tf.reduce_mean(tf.square(pred - y)), tf.constant(0.0)
    if task == "binary":
        logits = tf.reshape(outputs, [-1])
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        correct = tf.cast(tf.equal(tf.cast(logits > 0.0, tf.float32), y), tf.float32)
        return loss, tf.reduce_sum(correct)
    labels = tf.cast(y, tf.int32)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=outputs))
    correct = tf.cast(tf.equal(tf.argmax(outputs, axis=1, output_type=tf.int32), labels), tf.float32)
    return loss, tf.reduce_sum(correct)


def output_probabilities(task: str, outputs: tf.Tensor) -> tf.Tensor | None:
    """Inside a compiled function: the class probabilities of the outputs (None for regression)."""
    if task == "binary":
        return tf.sigmoid(outputs)
    if task == "multiclass":
        return tf.nn.softmax(outputs, axis=-1)
    return None
