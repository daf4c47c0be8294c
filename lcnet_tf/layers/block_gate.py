import keras

from lcnet_tf.layers.gate_head import GateHead
from lcnet_tf.layers.gate_head import refuse_fixed_arguments as _refuse


@keras.saving.register_keras_serializable(package="lcnet_tf")
class BlockGate(GateHead):
    """L-Net gate: decides per image whether a residual block runs.

    One keep decision and one scale per image, read from the block input.
    The gated block computes `shortcut(x) + gate * scale * F(x)`.

    Args:
        hidden_units: int or None. Width of the hidden layer.
        scale: str. `"learned"`, `"gate"` or `"none"` (see `GateHead`).
        tau: float in [0, 1]. Decision threshold, adjustable after training.
        noise_std: float >= 0. Logistic exploration noise, training only.
        init_keep_logit: float. Initial keep logit (gates start open).
        seed: int or None. Seed of the exploration noise.
        regularizer: `GateRegularizer` or None (see `GateHead`).
        **kwargs: base layer arguments.

    Returns:
        `(gate, scale, prob)`, each shaped `(batch, 1)`.

    Example:

    ```python
    gate, scale, prob = BlockGate()(np.random.rand(2, 8, 8, 16))
    ```
    """

    def __init__(
        self,
        hidden_units=None,
        scale="learned",
        tau=0.5,
        noise_std=0.0,
        init_keep_logit=3.0,
        seed=None,
        regularizer=None,
        **kwargs,
    ):
        _refuse(kwargs, ("units",), "BlockGate has one unit per image")
        super().__init__(
            units=1,
            hidden_units=hidden_units,
            scale=scale,
            tau=tau,
            noise_std=noise_std,
            init_keep_logit=init_keep_logit,
            seed=seed,
            regularizer=regularizer,
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        del config["units"]
        return config
