"""A block's gate heads as few TFLite ops as possible.

An LC block has two heads (L: run the block; C: which channels) that
read the same pooled features. Evaluated apart they cost about ten small
ops each, and on a 0.4 ms network every op dispatch counts (and, at two
threads, every thread-pool hand-off). Fused, one hidden layer carries
both heads' hidden units side by side and one block-diagonal layer gives
every keep logit (and, likewise, every scale logit): the same values up
to float rounding, half the ops.
"""

import dataclasses

import numpy as np
import tensorflow as tf


def pool(x):
    return tf.reduce_mean(x, axis=[1, 2])


def gate_values(gate, x, pooled=None):
    """Per-image `(keep, scale)`, each `(batch, units)`; keep is 0. or 1.

    `pooled` lets the two gates of a block share one pooling. The scale is
    None for gates without one (`scale="none"`): a `ones_like` would put
    shape ops, which the GPU delegate rejects, into the graph.
    """
    if pooled is None:
        pooled = pool(x)
    keep, prob, learned = _head(gate, pooled)
    if gate.nested:
        keep, prob = prefix(gate, keep, prob)
    return keep, _scale(gate, prob, learned)


def _head(gate, pooled):
    """`(keep, prob, learned scale or None)` before any prefix; `gate.tau`
    may be one threshold per unit (fused heads)."""
    hidden = tf.nn.relu(
        tf.matmul(pooled, gate.hidden_kernel) + gate.hidden_bias
    )
    prob = tf.sigmoid(tf.matmul(hidden, gate.keep_kernel) + gate.keep_bias)
    # keep = [prob >= tau] with arithmetic only: tau - prob <= 0 exactly
    # when prob >= tau, and relu(tau - prob) is in (0, 1] otherwise, so
    # 1 + floor(-relu(tau - prob)) is 1 or 0. No comparison or bool cast
    # splits the XNNPACK partitions, and every op runs on the GPU.
    keep = 1.0 + tf.floor(-tf.nn.relu(np.float32(gate.tau) - prob))
    learned = _learned(gate, hidden) if gate.scale == "learned" else None
    return keep, prob, learned


def _learned(gate, hidden):
    logits = tf.matmul(hidden, gate.scale_kernel) + gate.scale_bias
    return 2.0 * tf.sigmoid(logits)


def head_scales(block, x):
    """A pruned block's per-image learned scales (`scale_heads`).

    Only the hidden and scale layers run: a pruned block decides
    nothing. Both heads fused into one, as in `block_gates`.

    Args:
        block: a `FoldedBlock` with `scale_heads`.
        x: the block's input.

    Returns:
        `(block_scale, channel_scale)`, each `(batch, units)` or None.
    """
    lgate, cgate = block.scale_heads
    gate = lgate or cgate
    if lgate is not None and cgate is not None:
        gate = fuse_heads(lgate, cgate)
    hidden = tf.nn.relu(
        tf.matmul(pool(x), gate.hidden_kernel) + gate.hidden_bias
    )
    scales = _learned(gate, hidden)
    if lgate is None or cgate is None:
        return (scales, None) if cgate is None else (None, scales)
    return scales[:, :1], scales[:, 1:]


def _scale(gate, prob, learned):
    if gate.scale == "learned":
        return learned
    return prob if gate.scale == "gate" else None


def prefix(gate, keep, prob):
    """Nested selection: a group runs only if every earlier one passes.

    As matrix products (GPU-delegable, no CUMPROD): with `M[j, k] =
    1 / groups` where channel `j`'s group is not after channel `k`'s,
    `(1 - keep) @ M` counts the closed groups up to `k`'s, and
    `log(prob) @ M` sums their log-probabilities.
    """
    channels = gate.keep_kernel.shape[-1]
    group = np.arange(channels) // gate.groups
    up_to = (group[:, None] <= group[None, :]).astype(np.float32)
    up_to /= np.float32(gate.groups)
    closed = tf.matmul(1.0 - keep, up_to)
    keep = tf.nn.relu(1.0 - closed)
    # A floor keeps log finite: -inf * 0 in the product would be NaN.
    log_prob = tf.math.log(tf.maximum(prob, 1e-30))
    prob = tf.exp(tf.matmul(log_prob, up_to))
    return keep, prob


def block_gates(block, x, pooled=None):
    """The block's gate values, its two heads fused where they can be.

    Args:
        block: a `FoldedBlock`.
        x: the block's input.
        pooled: `pool(x)`, if already computed.

    Returns:
        `(block_gate, channel_gate)`: each `(keep, scale)` as
        `gate_values` returns it, or None for a missing gate.
    """
    if pooled is None:
        pooled = pool(x)
    lgate, cgate = block.block_gate, block.channel_gate
    if lgate is None or cgate is None or lgate.scale != cgate.scale:
        return (
            None if lgate is None else gate_values(lgate, x, pooled),
            None if cgate is None else gate_values(cgate, x, pooled),
        )
    keep, prob, learned = _head(fuse_heads(lgate, cgate), pooled)
    run, c_keep, c_prob = keep[:, :1], keep[:, 1:], prob[:, 1:]
    if cgate.nested:
        c_keep, c_prob = prefix(cgate, c_keep, c_prob)
    b_learned = c_learned = None
    if learned is not None:
        b_learned, c_learned = learned[:, :1], learned[:, 1:]
    return (
        (run, _scale(lgate, prob[:, :1], b_learned)),
        (c_keep, _scale(cgate, c_prob, c_learned)),
    )


def fuse_heads(lgate, cgate):
    """The two `FoldedGate`s as one: one hidden and one output layer.

    Returns:
        A `FoldedGate` whose output 0 is the block gate's and outputs 1..
        the channel gate's, with one threshold per output (`tau` is an
        array) and no prefix (the caller applies the channel gate's).
    """

    def diagonal(top, bottom):
        out = np.zeros(
            (top.shape[0] + bottom.shape[0], top.shape[1] + bottom.shape[1]),
            np.float32,
        )
        out[: top.shape[0], : top.shape[1]] = top
        out[top.shape[0] :, top.shape[1] :] = bottom
        return out

    learned = lgate.scale == "learned"
    return dataclasses.replace(
        lgate,
        hidden_kernel=np.concatenate(
            [lgate.hidden_kernel, cgate.hidden_kernel], axis=1
        ),
        hidden_bias=np.concatenate([lgate.hidden_bias, cgate.hidden_bias]),
        keep_kernel=diagonal(lgate.keep_kernel, cgate.keep_kernel),
        keep_bias=np.concatenate([lgate.keep_bias, cgate.keep_bias]),
        scale_kernel=(
            diagonal(lgate.scale_kernel, cgate.scale_kernel)
            if learned
            else None
        ),
        scale_bias=(
            np.concatenate([lgate.scale_bias, cgate.scale_bias])
            if learned
            else None
        ),
        tau=np.concatenate(
            [
                np.full(lgate.keep_bias.shape, lgate.tau, np.float32),
                np.full(cgate.keep_bias.shape, cgate.tau, np.float32),
            ]
        ),
        nested=False,
    )
