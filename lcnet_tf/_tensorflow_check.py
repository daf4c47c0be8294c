"""Imported first by the TensorFlow-only packages (`lcnet_tf.training`:
tf.data pipelines, tf.distribute, checkpoints; `lcnet_tf.export`: the
TFLite converter), so a machine without TensorFlow gets this error
rather than one from deep inside."""

try:
    import tensorflow  # noqa: F401
except ImportError as error:
    raise ImportError(
        "lcnet_tf.training and lcnet_tf.export need TensorFlow, which is "
        "not installed: pip install tensorflow-cpu (or tensorflow). "
        "Without it the layers, models, losses and FLOPs of lcnet_tf run "
        "on any Keras backend: build with lcnet_tf.models and call "
        "model.fit."
    ) from error
