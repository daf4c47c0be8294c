"""Training at thresholds around the trained one."""

import keras
import numpy as np

from lcnet_tf.flops import model_gates
from lcnet_tf.layers.gate_head import check_threshold


class ThresholdJitter(keras.callbacks.Callback):
    """Trains each step at a threshold drawn from `[low, high]`.

    A model trained at one threshold only meets the routings of that
    threshold; lowered at inference (`set_threshold`) to spend more
    FLOPs, it runs blocks that its body never learned to run for those
    images and may lose accuracy where a user expects it to gain. Drawing
    one threshold per training step for every gate shows the body the
    routings of the whole range of the inference knob.

    The gates' own thresholds come back after every step, so validation,
    checkpoints and the saved model keep them.

    Args:
        low: float in [0, 1]. Lowest threshold drawn.
        high: float in [low, 1]. Highest threshold drawn.
        seed: int or None. Seed of the draws (with the optimizer's step
            count: a resumed `fit` draws as the uninterrupted one).

    Example:

    ```python
    model.fit(train_ds, epochs=4, callbacks=[ThresholdJitter(0.05, 0.5)])
    ```
    """

    def __init__(self, low, high, seed=None):
        super().__init__()
        self.low = check_threshold(low)
        self.high = check_threshold(high)
        if self.low > self.high:
            raise ValueError(
                "`low` must not exceed `high`. "
                f"Received: low={low}, high={high}"
            )
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._gates = None

    def _find(self):
        self._gates = model_gates(self.model)
        if not self._gates:
            raise ValueError(
                f"Model '{self.model.name}' has no gates to move the "
                f"threshold of."
            )
        self._nominal = [gate.tau for gate in self._gates]

    def _draw(self):
        if self.seed is None:
            return float(self._rng.uniform(self.low, self.high))
        # Seeded by the optimizer's step, so a resumed run draws what the
        # uninterrupted one would have.
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        rng = np.random.default_rng([self.seed, step])
        return float(rng.uniform(self.low, self.high))

    def on_train_batch_begin(self, batch, logs=None):
        if self._gates is None:
            self._find()
        tau = self._draw()
        for gate in self._gates:
            gate.threshold.assign(tau)

    def on_train_batch_end(self, batch, logs=None):
        for gate, tau in zip(self._gates, self._nominal):
            gate.threshold.assign(tau)
