"""A block's gate heads as few TFLite ops as possible.

An LC block has two heads (L: run the block; C: which channels) that
read the same pooled features. Evaluated apart they cost about ten small
ops each, and on a 0.4 ms network every op dispatch counts (and, at two
threads, every thread-pool hand-off). Fused, one hidden layer carries
both heads' hidden units side by side and one block-diagonal layer gives
every keep logit (and, likewise, every scale logit): the same values up
to float rounding, half the ops.
"""

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
    hidden = tf.nn.relu(
        tf.matmul(pooled, gate.hidden_kernel) + gate.hidden_bias
    )
    prob = tf.sigmoid(tf.matmul(hidden, gate.keep_kernel) + gate.keep_bias)
    # keep = [prob >= tau] with arithmetic only: tau - prob <= 0 exactly
    # when prob >= tau, and relu(tau - prob) is in (0, 1] otherwise, so
    # 1 + floor(-relu(tau - prob)) is 1 or 0. No comparison or bool cast
    # splits the XNNPACK partitions, and every op runs on the GPU.
    keep = 1.0 + tf.floor(-tf.nn.relu(np.float32(gate.tau) - prob))
    if gate.nested:
        keep, prob = prefix(gate, keep, prob)
    if gate.scale == "learned":
        logits = tf.matmul(hidden, gate.scale_kernel) + gate.scale_bias
        scale = 2.0 * tf.sigmoid(logits)
    elif gate.scale == "gate":
        scale = prob
    else:
        scale = None
    return keep, scale


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
    fused = fuse_heads(lgate, cgate)
    hidden = tf.nn.relu(
        tf.matmul(pooled, fused["hidden_kernel"]) + fused["hidden_bias"]
    )
    prob = tf.sigmoid(
        tf.matmul(hidden, fused["keep_kernel"]) + fused["keep_bias"]
    )
    # As in `gate_values`: [prob >= tau] with arithmetic only.
    keep = 1.0 + tf.floor(-tf.nn.relu(fused["tau"] - prob))
    scale = None
    if lgate.scale == "learned":
        logits = tf.matmul(hidden, fused["scale_kernel"]) + fused["scale_bias"]
        scale = 2.0 * tf.sigmoid(logits)
    elif lgate.scale == "gate":
        scale = prob
    run, c_keep = keep[:, :1], keep[:, 1:]
    c_prob = prob[:, 1:]
    if cgate.nested:
        c_keep, c_prob = prefix(cgate, c_keep, c_prob)
    b_scale = c_scale = None
    if scale is not None:
        b_scale, c_scale = scale[:, :1], scale[:, 1:]
        if lgate.scale == "gate":
            c_scale = c_prob
    return (run, b_scale), (c_keep, c_scale)


def fuse_heads(lgate, cgate):
    """The two `FoldedGate`s' weights as one hidden and one output layer.

    Returns:
        dict of float32 arrays: `hidden_kernel`, `hidden_bias`,
        `keep_kernel`, `keep_bias`, `tau` (one per output) and, for
        learned scales, `scale_kernel`, `scale_bias`. Output 0 is the
        block gate's; outputs 1.. are the channel gate's.
    """

    def diagonal(top, bottom):
        out = np.zeros(
            (top.shape[0] + bottom.shape[0], top.shape[1] + bottom.shape[1]),
            np.float32,
        )
        out[: top.shape[0], : top.shape[1]] = top
        out[top.shape[0] :, top.shape[1] :] = bottom
        return out

    fused = {
        "hidden_kernel": np.concatenate(
            [lgate.hidden_kernel, cgate.hidden_kernel], axis=1
        ),
        "hidden_bias": np.concatenate([lgate.hidden_bias, cgate.hidden_bias]),
        "keep_kernel": diagonal(lgate.keep_kernel, cgate.keep_kernel),
        "keep_bias": np.concatenate([lgate.keep_bias, cgate.keep_bias]),
        "tau": np.concatenate(
            [
                np.full(lgate.keep_bias.shape, lgate.tau, np.float32),
                np.full(cgate.keep_bias.shape, cgate.tau, np.float32),
            ]
        ),
    }
    if lgate.scale == "learned":
        fused["scale_kernel"] = diagonal(lgate.scale_kernel, cgate.scale_kernel)
        fused["scale_bias"] = np.concatenate(
            [lgate.scale_bias, cgate.scale_bias]
        )
    return {key: value.astype(np.float32) for key, value in fused.items()}
