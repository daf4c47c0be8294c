import math

import keras
from keras import ops

from lcnet_tf.layers.aig_gate import AigGate
from lcnet_tf.layers.block_gate import BlockGate
from lcnet_tf.layers.channel_gate import ChannelGate
from lcnet_tf.layers.gate_head import SCALE_MODES
from lcnet_tf.layers.gate_head import check_threshold

GATING_MODES = ("none", "l", "c", "lc", "aig")


def check_gating(gating):
    """Validates a gating mode name and returns it."""
    if gating not in GATING_MODES:
        raise ValueError(
            f"`gating` must be one of {GATING_MODES} ('l': L-Net skips "
            f"blocks, 'c': C-Net skips channels, 'lc': both, 'aig': the "
            f"ConvNet-AIG baseline). Received: gating={gating!r}"
        )
    return gating


class GatedResidualBlock(keras.layers.Layer):
    """Base of the gated residual blocks: gates, masks and FLOPs.

    A subclass defines the residual body `F` through `_build_body`,
    `_run_body` and `body_flops`. This class adds the L-Net gate (block
    skipping, `shortcut(x) + gate * scale * F(x)`), the C-Net gate
    (middle-channel skipping with per-channel scales) and the exact cost
    of what the decisions run.

    Called with gating `"none"`, the block returns its output tensor.
    Otherwise it returns `(outputs, flops, decisions)`: the per-image
    multiply-accumulates this block runs (gate heads included), and a
    `(batch, 2)` tensor of `[block_run, kept_channel_fraction]`. Both are
    straight-through values: exact forward, differentiable backward, so
    the budget loss trains the gates.

    While training, every branch is computed and multiplied by its
    decisions (a batch mixes decisions); skipping for speed happens in the
    deployment forms built from the same decisions.
    """

    def __init__(
        self,
        filters,
        strides=1,
        gating="none",
        scale="learned",
        tau=0.5,
        channel_groups=1,
        channel_selection="free",
        gate_hidden_units=None,
        noise_std=0.0,
        seed=None,
        gate_regularizer=None,
        skip_projection=False,
        channel_min_groups=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"`filters` must be >= 1. Received: {filters}")
        if int(strides) not in (1, 2):
            raise ValueError(f"`strides` must be 1 or 2. Received: {strides}")
        self.filters = int(filters)
        self.strides = int(strides)
        self.gating = check_gating(gating)
        if scale not in SCALE_MODES:
            raise ValueError(
                f"`scale` must be one of {SCALE_MODES}. Received: "
                f"scale={scale!r}"
            )
        self.scale = scale
        self._tau = check_threshold(tau)
        self.channel_groups = int(channel_groups)
        self.channel_selection = channel_selection
        self.gate_hidden_units = gate_hidden_units
        self.noise_std = float(noise_std)
        self.seed = seed
        self.skip_projection = bool(skip_projection)
        self.channel_min_groups = int(channel_min_groups)
        if self.channel_min_groups and "c" not in self.gating:
            raise ValueError(
                f"`channel_min_groups` applies to channel gates; "
                f"gating={gating!r} has none. Use 'c' or 'lc', or "
                f"channel_min_groups=0."
            )
        gate_args = dict(
            hidden_units=gate_hidden_units,
            scale=scale,
            tau=tau,
            noise_std=noise_std,
            regularizer=gate_regularizer,
            dtype=self.dtype_policy,
        )
        # Gates are created here so that bad gate settings fail at
        # construction, not at the first call.
        if gating == "aig" and gate_regularizer is not None:
            raise ValueError(
                "`gate_regularizer` applies to L-Net and C-Net gates; the "
                "ConvNet-AIG baseline ('aig') has its own target-rate "
                "loss. Use gating 'l', 'c' or 'lc' with it."
            )
        self.block_gate = None
        self.channel_gate = None
        if "l" in gating:
            self.block_gate = BlockGate(
                seed=seed, name="block_gate", **gate_args
            )
        elif gating == "aig":
            self.block_gate = AigGate(
                hidden_units=gate_hidden_units,
                tau=tau,
                seed=seed,
                name="block_gate",
                dtype=self.dtype_policy,
            )
        if "c" in gating:
            self.channel_gate = ChannelGate(
                self.filters,
                groups=self.channel_groups,
                selection=channel_selection,
                min_groups=self.channel_min_groups,
                seed=None if seed is None else seed + 1,
                name="channel_gate",
                **gate_args,
            )

    # Output channels per middle channel (4 for bottleneck blocks).
    expansion = 1

    @property
    def tau(self):
        """The gate threshold; the gates hold it (one home), so it follows
        `set_threshold`. The block gate's when L- and C-Net disagree."""
        if self.gates:
            return self.gates[0].tau
        return self._tau

    @property
    def out_channels(self):
        return self.expansion * self.filters

    @property
    def gates(self):
        """The gate heads of this block (possibly empty)."""
        return [g for g in (self.block_gate, self.channel_gate) if g]

    @property
    def always_runs(self):
        """Whether the block changes shape and L-Net may not skip it."""
        return self.projection and not self.skip_projection

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{self.__class__.__name__} expects 4D inputs (batch, "
                f"height, width, channels). Received shape: {input_shape}"
            )
        height, width, channels = input_shape[1:]
        if height is None or width is None or channels is None:
            raise ValueError(
                f"{self.__class__.__name__} needs a fixed spatial size and "
                f"channel count to count FLOPs exactly. Received shape: "
                f"{input_shape}"
            )
        self.in_channels = int(channels)
        self.in_size = (int(height), int(width))
        self.out_size = (
            math.ceil(height / self.strides),
            math.ceil(width / self.strides),
        )
        self.projection = (
            self.strides != 1 or self.in_channels != self.out_channels
        )
        if self.block_gate is not None and self.always_runs:
            raise ValueError(
                f"Block '{self.name}' changes shape ({input_shape} -> "
                f"{self.out_channels} channels, stride {self.strides}), so "
                f"it always runs: block gating ('{self.gating}') is not "
                f"allowed here. Use gating 'none' or 'c' for this block, "
                f"or `skip_projection=True` (a skipped block then runs "
                f"its projection shortcut alone)."
            )
        self._build_body(input_shape)
        if self.projection:
            self.shortcut_conv = keras.layers.Conv2D(
                self.out_channels,
                1,
                strides=self.strides,
                use_bias=False,
                kernel_initializer="he_normal",
                name="shortcut_conv",
                dtype=self.dtype_policy,
            )
            self.shortcut_conv.build(input_shape)
            self.shortcut_bn = keras.layers.BatchNormalization(
                name="shortcut_bn", dtype=self.dtype_policy
            )
            self.shortcut_bn.build(
                (None,) + self.out_size + (self.out_channels,)
            )
        for gate in self.gates:
            gate.build(input_shape)

    def body_layers(self):
        """Sublayers of the static block, in a fixed order."""
        layers = list(self._body_layers())
        if self.projection:
            layers += [self.shortcut_conv, self.shortcut_bn]
        return layers

    @property
    def shortcut_flops(self):
        if not self.projection:
            return 0
        h, w = self.out_size
        return self.in_channels * self.out_channels * h * w

    def base_flops(self):
        """FLOPs of the static (ungated) block."""
        return self.shortcut_flops + self.body_flops(self.filters)

    def flops_for(self, run, kept):
        """Exact FLOPs of the block for given decisions.

        Works on Python numbers, NumPy arrays and tensors alike.

        Args:
            run: 0 or 1 (or an array of them): whether the body runs.
            kept: number of middle channels kept (an array is fine).

        Returns:
            Multiply-accumulates, gate heads included.
        """
        total = self.shortcut_flops
        body = self.body_flops(kept)
        if self.channel_gate is not None:
            body = body + self.channel_gate.head_flops()
        if self.block_gate is not None:
            total = total + self.block_gate.head_flops()
            body = run * body
        return total + body

    def skipped_flops(self):
        """FLOPs that run even when the body is skipped, in a form that
        runs every gate head before deciding (the staged form): the
        shortcut and all gate heads. With the body (`body_flops`) they
        make `flops_for(1, filters)`."""
        return self.shortcut_flops + sum(g.head_flops() for g in self.gates)

    def open_flops(self):
        """FLOPs with every gate open (gate heads included)."""
        return self.flops_for(1, self.filters)

    def call(self, inputs, training=None):
        if self.projection:
            shortcut = self.shortcut_bn(
                self.shortcut_conv(inputs), training=training
            )
        else:
            shortcut = inputs
        channel_mask = channel_scale = None
        if self.channel_gate is not None:
            c_gate, c_scale, _ = self.channel_gate(inputs, training=training)
            channel_mask = c_gate[:, None, None, :]
            channel_scale = (c_gate * c_scale)[:, None, None, :]
        residual = self._run_body(inputs, channel_mask, channel_scale, training)
        if self.block_gate is not None:
            b_gate, b_scale, _ = self.block_gate(inputs, training=training)
            residual = residual * ops.reshape(b_gate * b_scale, (-1, 1, 1, 1))
        outputs = ops.relu(shortcut + residual)
        if self.gating == "none":
            return outputs

        # FLOPs and decisions in float32 whatever the compute dtype: a
        # block's millions of MACs overflow float16.
        batch_ones = ops.ones_like(inputs[:, 0, 0, 0], dtype="float32")
        run = batch_ones
        if self.block_gate is not None:
            run = ops.cast(b_gate[:, 0], "float32")
        if self.channel_gate is not None:
            kept = ops.sum(ops.cast(c_gate, "float32"), axis=-1)
        else:
            kept = batch_ones * self.filters
        flops = self.flops_for(run, kept)
        decisions = ops.stack([run, kept / self.filters], axis=-1)
        return outputs, flops, decisions

    def compute_output_shape(self, input_shape):
        # From `input_shape`, so it also answers before `build`.
        size = tuple(
            None if d is None else math.ceil(d / self.strides)
            for d in input_shape[1:3]
        )
        out = (input_shape[0],) + size + (self.out_channels,)
        if self.gating == "none":
            return out
        return out, (input_shape[0],), (input_shape[0], 2)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "gating": self.gating,
                "scale": self.scale,
                "tau": self.tau,
                "channel_groups": self.channel_groups,
                "channel_selection": self.channel_selection,
                "gate_hidden_units": self.gate_hidden_units,
                "noise_std": self.noise_std,
                "seed": self.seed,
                "gate_regularizer": self._regularizer_config(),
                "skip_projection": self.skip_projection,
                "channel_min_groups": self.channel_min_groups,
            }
        )
        return config

    def _regularizer_config(self):
        for gate in self.gates:
            if getattr(gate, "regularizer", None) is not None:
                return keras.saving.serialize_keras_object(gate.regularizer)
        return None

    def _conv(self, filters, kernel_size, strides, name):
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            name=name,
            dtype=self.dtype_policy,
        )

    def _bn(self, name):
        return keras.layers.BatchNormalization(
            name=name,
            dtype=self.dtype_policy,
        )

    def _build_body(self, input_shape):
        raise NotImplementedError

    def _body_layers(self):
        raise NotImplementedError

    def _run_body(self, inputs, channel_mask, channel_scale, training):
        # `channel_mask` (0/1) and `channel_scale` (mask times learned
        # scale) are `(batch, 1, 1, filters)` tensors, or None without
        # C-Net; the scale is applied once, where the body ends its use of
        # the middle channels.
        raise NotImplementedError

    def body_flops(self, kept):
        raise NotImplementedError
