"""The staged form's host loop: the one place that decides what runs.

`StagedRunner` runs it over LiteRT signatures; the int8 exporter runs it
over the TensorFlow functions to feed the calibration, so both follow
the same bodies (the Kotlin runner follows the same protocol, and its
tests replay this loop's trace).
"""

import numpy as np


def run_staged(manifest, run, images, calibrate=False):
    """Runs one image through a staged model, as the manifest says.

    Run `stem`; for each block take its gate's outputs from the stage
    that produced the block's input (a stem or body also runs the next
    block's gate heads, `gate_fused`), or run its gate signature when the
    block before was skipped; skip the body when the block gate is
    closed (a block that changes shape then runs its `skip` signature,
    its projection shortcut alone), else run the body with the channel
    and block scales (for a block with width bodies, the narrowest that
    holds the last kept channel, `body_width`); run `head`.

    Args:
        manifest: dict. A staged manifest (`read_manifest`), or the one
            `staged_manifest` builds before the file is written.
        run: callable `run(signature, inputs) -> dict of outputs`.
        images: the stem's input, batch 1.
        calibrate: bool. Also run every other body of each block (the
            ones this image skips and every width of a nested gate) and
            every gate signature, so int8 calibration sees each
            signature; the outputs are the same.

    Returns:
        `{"logits": (1, classes), "flops": (1,), "decisions": (1,
        gated_blocks, 2)}` (no `"decisions"` without gates); the FLOPs
        are exactly what ran.

    Example:
    ```python
    outputs = run_staged(manifest, lambda s, i: runners[s](**i), images)
    ```
    """
    stage = run(manifest["stem"], {"images": images})
    x = stage["features"]
    flops = manifest["flops"]["outside_blocks"]
    decisions = []
    for block in manifest["blocks"]:
        body_inputs = {"features": x}
        runs, kept = 1.0, 1.0
        body = block["body"]
        body_flops = block["flops"]["body"]
        if block["gate"]:
            # The call that produced `x` also ran this gate (`gate_fused`);
            # after a skipped block, `x` is older: run the gate alone.
            gate = _next_gate(stage) if block.get("gate_fused") else None
            if gate is None or calibrate:
                alone = run(block["gate"], {"features": x})
                gate = alone if gate is None else gate
        stage = None
        if block["gate"]:
            if block["channel_gated"]:
                keep = np.asarray(gate["channel_keep"])
                body_inputs["channel_scale"] = gate["channel_scale"]
                kept = float(np.mean(keep))
                if "widths" in block:
                    width = body_width(block, keep)
                    body = block["widths"][width]
                    body_flops = block["flops"]["body_by_width"][width]
            if block["skippable"]:
                runs = float(np.asarray(gate["run"]).reshape(-1)[0])
                body_inputs["block_scale"] = gate["block_scale"]
            decisions.append([runs, kept * runs])
        flops += block["flops"]["always"]
        skip = block.get("skip")
        if calibrate:
            others = [block["body"], *block.get("widths", {}).values()]
            for other in others:
                if other != body or runs <= 0.5:
                    run(other, body_inputs)
            if skip and runs > 0.5:
                run(skip, {"features": x})
        if runs > 0.5:
            stage = run(body, body_inputs)
            x = stage["features"]
            flops += body_flops
        elif skip:
            # The projection's FLOPs are in `always`.
            stage = run(skip, {"features": x})
            x = stage["features"]
    logits = run(manifest["head"], {"features": x})["logits"]
    outputs = {
        "logits": np.asarray(logits),
        "flops": np.array([flops], np.int64),
    }
    if decisions:
        outputs["decisions"] = np.array([decisions], np.float32)
    return outputs


def body_width(block, keep):
    """The width body a block with `widths` runs for a channel decision.

    The narrowest listed width that holds the last kept channel: for a
    nested gate (a prefix of groups kept) exactly the kept width; for a
    free gate with reordered channels (`channel_selection` `"prefix"`)
    the kept channels' span, the closed ones inside it masked by their
    zero scale.

    Args:
        block: dict. A manifest block with `"widths"`.
        keep: the gate's `channel_keep` output, `(1, channels)`.

    Returns:
        str: the key of `block["widths"]` to run.
    """
    kept = np.flatnonzero(np.asarray(keep).reshape(-1) > 0.5)
    needed = int(kept[-1]) + 1 if kept.size else 0
    widths = sorted(int(width) for width in block["widths"])
    if block.get("channel_selection", "nested") == "nested" and (
        needed not in widths
    ):
        # Every kept width of a nested gate has its own body.
        raise ValueError(
            f"Block '{block['name']}' kept {needed} channels but has "
            f"bodies of widths {widths}."
        )
    for width in widths:
        if width >= needed:
            return str(width)
    raise ValueError(
        f"Block '{block['name']}' kept channel {needed - 1} but has "
        f"bodies of widths {widths}."
    )


def _next_gate(stage):
    """The next block's gate outputs a stage returned, or None."""
    if stage is None:
        return None
    gate = {k[len("next_") :]: v for k, v in stage.items() if k[:5] == "next_"}
    return gate or None
