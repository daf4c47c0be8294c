import math

import keras
from keras import ops

from lcnet_tf.layers.gate_regularizer import GateRegularizer

SCALE_MODES = ("learned", "gate", "none")


def check_threshold(tau):
    """Validates a gate threshold and returns it as a float.

    Args:
        tau: number. The keep-probability at or above which a gate opens.

    Returns:
        The threshold as a Python float.

    Raises:
        ValueError: if `tau` is not a finite number in [0, 1].
    """
    try:
        value = float(tau)
    except (TypeError, ValueError):
        raise ValueError(
            f"Gate threshold `tau` must be a number in [0, 1]. Received: "
            f"tau={tau!r}"
        ) from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"Gate threshold `tau` must be in [0, 1] (0 keeps everything, "
            f"0.5 is the default). Received: tau={tau!r}"
        )
    return value


def check_noise_std(noise_std):
    """Validates a gate's exploration-noise scale and returns it as a float.

    Args:
        noise_std: number >= 0. Scale of the logistic noise added to the
            keep logits in training.

    Returns:
        The scale as a Python float.

    Raises:
        ValueError: if `noise_std` is negative or NaN.
    """
    if not float(noise_std) >= 0.0:
        raise ValueError(f"`noise_std` must be >= 0. Received: {noise_std}")
    return float(noise_std)


def refuse_fixed_arguments(kwargs, names, why):
    """Raises if a gate subclass is given an argument it fixes itself.

    Silently dropping it would hide the user's mistake (Keras' own
    `Layer.__init__` refuses unknown keywords for the same reason).
    """
    given = sorted(name for name in names if name in kwargs)
    if given:
        values = ", ".join(f"{name}={kwargs[name]!r}" for name in given)
        raise ValueError(f"Unsupported argument(s) {values}: {why}.")


def logistic_noise(like, seed_generator):
    """Standard logistic noise shaped like `like` (the difference of two
    Gumbel variables), for exploration and Gumbel-softmax sampling."""
    uniform = keras.random.uniform(
        ops.shape(like),
        minval=1e-6,
        maxval=1.0 - 1e-6,
        seed=seed_generator,
        dtype=like.dtype,
    )
    return ops.log(uniform) - ops.log(1.0 - uniform)


@keras.saving.register_keras_serializable(package="lcnet_tf")
class GateHead(keras.layers.Layer):
    """Shared gate network of L-Net and C-Net.

    Reads a feature map, pools it globally and runs a small two-layer MLP
    that gives, per unit, a keep logit `z` and (for `scale="learned"`) a
    scale pre-activation `a`. The forward value of the gate is the hard
    decision `1[sigmoid(z) >= tau]`; its gradient is that of
    `sigmoid(z)` (straight-through estimator), so gates learn even though
    the network only ever sees 0/1 decisions.

    A fresh head keeps every unit (`z` starts at `init_keep_logit`) and
    has a learned scale of exactly 1 (`s = 2 * sigmoid(a)`, `a = 0`), so a
    freshly gated network computes what its base network computes.

    Args:
        units: int. Number of independent gates.
        hidden_units: int or None. Width of the hidden layer. Defaults to
            `max(16, in_channels // 4)`.
        scale: str. How kept outputs are scaled: `"learned"` (a learned
            function of the input, from the same head), `"gate"` (the
            keep-probability itself) or `"none"` (scale 1).
        tau: float in [0, 1]. Decision threshold on the keep-probability.
            Stored in a non-trainable variable, so `layer.tau = 0.3`
            changes a trained or compiled model without rebuilding it.
        noise_std: float >= 0. Scale of logistic noise added to the keep
            logits during training only, for exploration.
        init_keep_logit: float. Initial bias of the keep logits (3.0 gives
            a keep-probability of 0.95).
        seed: int or None. Seed of the exploration noise.
        regularizer: `GateRegularizer` (or its config) or None. Training
            terms that keep the gate conditional (keep-rate bounds,
            batch-shaping), added with `add_loss` while training.
        **kwargs: base layer arguments such as `name` and `dtype`.

    Returns:
        A tuple `(gate, scale, prob)` of tensors shaped `(batch, units)`:
        the straight-through 0/1 decisions, the scales to apply to kept
        outputs, and the keep-probabilities.

    Example:

    ```python
    head = GateHead(units=4)
    gate, scale, prob = head(np.random.rand(2, 8, 8, 16))
    ```
    """

    def __init__(
        self,
        units,
        hidden_units=None,
        scale="learned",
        tau=0.5,
        noise_std=0.0,
        init_keep_logit=3.0,
        seed=None,
        regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"`units` must be >= 1. Received: {units}")
        if scale not in SCALE_MODES:
            raise ValueError(
                f"`scale` must be one of {SCALE_MODES}. Received: "
                f"scale={scale!r}"
            )
        if hidden_units is not None and int(hidden_units) < 1:
            raise ValueError(
                f"`hidden_units` must be >= 1. Received: {hidden_units}"
            )
        noise_std = check_noise_std(noise_std)
        self.units = int(units)
        self.hidden_units = hidden_units
        self.scale = scale
        self._initial_tau = check_threshold(tau)
        self.noise_std = noise_std
        self.init_keep_logit = float(init_keep_logit)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        if isinstance(regularizer, dict):
            regularizer = keras.saving.deserialize_keras_object(regularizer)
        if regularizer is not None and not isinstance(
            regularizer, GateRegularizer
        ):
            raise ValueError(
                f"`regularizer` must be a GateRegularizer or None. "
                f"Received: regularizer={regularizer!r}"
            )
        self.regularizer = regularizer
        # Not config: `deterministic_gates` turns sampling off for a
        # training-mode pass that must decide as inference does.
        self.sampling = True

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{self.__class__.__name__} expects a 4D feature map "
                f"(batch, height, width, channels). Received shape: "
                f"{input_shape}"
            )
        self.in_channels = int(input_shape[-1])
        hidden = self.hidden_units or max(16, self.in_channels // 4)
        self._hidden_width = int(hidden)
        self.hidden = keras.layers.Dense(
            self._hidden_width,
            activation="relu",
            kernel_initializer="he_normal",
            name="hidden",
            dtype=self.dtype_policy,
        )
        self.hidden.build((None, self.in_channels))
        self.keep_logits = keras.layers.Dense(
            self.units,
            # A zero kernel makes a fresh gate's decision independent of
            # the input, so gates start open whatever the activations.
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(self.init_keep_logit),
            name="keep_logits",
            dtype=self.dtype_policy,
        )
        self.keep_logits.build((None, self._hidden_width))
        if self.scale == "learned":
            self.scale_logits = keras.layers.Dense(
                self.units,
                kernel_initializer="zeros",
                bias_initializer="zeros",
                name="scale_logits",
                dtype=self.dtype_policy,
            )
            self.scale_logits.build((None, self._hidden_width))
        self.threshold = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self._initial_tau),
            trainable=False,
            name="threshold",
        )
        if self.regularizer is not None:
            # Training progress in [0, 1], set by `GateSchedule`; 1 (the
            # final bounds) when nothing sets it.
            self.progress = self.add_weight(
                shape=(),
                initializer="ones",
                trainable=False,
                name="progress",
            )

    @property
    def tau(self):
        if not self.built:
            return self._initial_tau
        return float(ops.convert_to_numpy(self.threshold))

    @tau.setter
    def tau(self, value):
        value = check_threshold(value)
        self._initial_tau = value
        if self.built:
            self.threshold.assign(value)

    def head_flops(self):
        """Multiply-accumulates of one run of this head (pooling excluded)."""
        outputs = self.units * (2 if self.scale == "learned" else 1)
        return (
            self.in_channels * self._hidden_width + self._hidden_width * outputs
        )

    def call(self, inputs, training=None):
        pooled = ops.mean(inputs, axis=(1, 2))
        hidden = self.hidden(pooled)
        logits = self.keep_logits(hidden)
        if training and self.sampling and self.noise_std > 0.0:
            noise_std = ops.convert_to_tensor(self.noise_std, logits.dtype)
            if self.regularizer is not None:
                factor = self.regularizer.noise_factor(self.progress)
                noise_std = noise_std * ops.cast(factor, logits.dtype)
            logits = logits + noise_std * logistic_noise(
                logits, self.seed_generator
            )
        prob = ops.sigmoid(logits)
        threshold = ops.cast(self.threshold, prob.dtype)
        hard = ops.cast(ops.greater_equal(prob, threshold), prob.dtype)
        # `prob - stop_gradient(prob)` is exactly zero forward, so the gate
        # is exactly 0 or 1 while its gradient is that of `prob`.
        gate = hard + (prob - ops.stop_gradient(prob))
        if training and self._regularized():
            self.add_loss(self.regularizer(gate, prob, self.progress))
        if self.scale == "learned":
            scale = 2.0 * ops.sigmoid(self.scale_logits(hidden))
        elif self.scale == "gate":
            scale = prob
        else:
            scale = ops.ones_like(prob)
        return gate, scale, prob

    def _regularized(self):
        """Whether the regularizer's loss terms apply to this gate."""
        return self.regularizer is not None

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.units)
        return shape, shape, shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "hidden_units": self.hidden_units,
                "scale": self.scale,
                "tau": self.tau,
                "noise_std": self.noise_std,
                "init_keep_logit": self.init_keep_logit,
                "seed": self.seed,
                "regularizer": (
                    keras.saving.serialize_keras_object(self.regularizer)
                    if self.regularizer is not None
                    else None
                ),
            }
        )
        return config
