import numpy as np

from lcnet_tf.export.interpreter import load_interpreter
from lcnet_tf.validation import check_images


class TFLiteModel:
    """Runs a masked or dynamic `.tflite` export with LiteRT.

    The masked form takes any batch; the dynamic form takes exactly one
    image per call (use `predict` to loop over a batch).

    Args:
        path: str. A `.tflite` file written by `to_tflite` with
            `form="masked"` or `"dynamic"`.
        num_threads: int or None. CPU threads.
        interpreter_options: dict or None. Interpreter switches by name
            (`lcnet_tf.export.interpreter.INTERPRETER_OPTIONS`).

    Example:
    ```python
    model = TFLiteModel("lc_resnet20_dynamic.tflite", num_threads=1)
    outputs = model(x_test[:1])  # {"logits", "decisions", "chunks"}
    logits = model.predict(x_test[:100])["logits"]
    ```
    """

    def __init__(self, path, num_threads=None, interpreter_options=None):
        self.path = path
        self.interpreter = load_interpreter(
            path, num_threads=num_threads, options=interpreter_options
        )
        signatures = self.interpreter.get_signature_list()
        if "serving_default" not in signatures:
            raise ValueError(
                f"'{path}' has signatures {sorted(signatures)}, not "
                f"'serving_default': is it a staged export? Use "
                f"StagedRunner with its manifest."
            )
        self._runner = self.interpreter.get_signature_runner()
        details = self._runner.get_input_details()
        if list(details) != ["images"]:
            raise ValueError(
                f"'{path}' is not an lcnet_tf export (inputs: {list(details)})."
            )
        shape = details["images"]["shape_signature"]
        self.input_shape = tuple(int(d) for d in shape[1:])
        self.batch_size = None if shape[0] < 0 else int(shape[0])
        # "uint8" for an export that takes camera pixels.
        self.input_dtype = np.dtype(details["images"]["dtype"]).name

    def __call__(self, images):
        """Runs one batch; returns a dict of NumPy outputs."""
        images = check_images(images, self.input_shape, dtype=self.input_dtype)
        if self.batch_size is not None and len(images) != self.batch_size:
            raise ValueError(
                f"'{self.path}' serves batch {self.batch_size} (dynamic "
                f"form); received a batch of {len(images)}. Call predict() "
                f"to run images one by one, or export the masked form for "
                f"batches."
            )
        outputs = self._runner(images=images)
        return {key: np.asarray(value) for key, value in outputs.items()}

    def predict(self, images, batch_size=64):
        """Runs any number of images; returns the concatenated outputs."""
        images = check_images(images, self.input_shape, dtype=self.input_dtype)
        step = self.batch_size or batch_size
        parts = [
            self(images[start : start + step])
            for start in range(0, len(images), step)
        ]
        return {
            key: np.concatenate([part[key] for part in parts])
            for key in parts[0]
        }
