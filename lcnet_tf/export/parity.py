"""Compares an export with the Keras model it came from."""

import numpy as np

from lcnet_tf.flops import decision_model
from lcnet_tf.flops import flops_from_decisions
from lcnet_tf.flops import gated_blocks
from lcnet_tf.flops import inference_model


def keras_reference(model, images, batch_size=256):
    """Keras logits, canonical decisions and exact FLOPs per image.

    Decisions are `[block_run, kept_fraction]` with the fraction set to 0
    where the block does not run, as every export reports them.

    Returns:
        dict with `"logits"`, `"decisions"` (or None) and `"flops"`.
    """
    if not gated_blocks(model):
        logits = inference_model(model).predict(
            images, batch_size=batch_size, verbose=0
        )
        return {"logits": logits, "decisions": None, "flops": None}
    outputs = decision_model(model).predict(
        images, batch_size=batch_size, verbose=0
    )
    decisions = np.stack(outputs["decisions"], axis=1)
    flops = flops_from_decisions(model, outputs["decisions"])
    decisions[..., 1] *= decisions[..., 0]
    return {
        "logits": outputs["logits"],
        "decisions": decisions,
        "flops": flops,
    }


def parity_report(reference, outputs, labels=None):
    """How closely an export's outputs follow the Keras model's.

    Args:
        reference: dict from `keras_reference`.
        outputs: dict of the export's outputs on the same images.
        labels: int array or None, to report both top-1 accuracies.

    Returns:
        dict: `images`, `top1_agreement`, `decision_agreement` (share of
        images whose every block decision and kept fraction match),
        `max_logit_diff` (a pruned export, which has no decisions, gets
        no `decision_agreement`) and, with labels, `keras_top1`/`export_top1`.
    """
    ref_logits = np.asarray(reference["logits"])
    logits = np.asarray(outputs["logits"])
    report = {
        "images": int(len(logits)),
        "top1_agreement": float(
            np.mean(ref_logits.argmax(-1) == logits.argmax(-1))
        ),
        "max_logit_diff": float(np.max(np.abs(ref_logits - logits))),
    }
    if reference.get("decisions") is not None and "decisions" in outputs:
        same = np.abs(reference["decisions"] - outputs["decisions"]) < 1e-6
        report["decision_agreement"] = float(np.mean(same.all(axis=(1, 2))))
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        report["keras_top1"] = float(np.mean(ref_logits.argmax(-1) == labels))
        report["export_top1"] = float(np.mean(logits.argmax(-1) == labels))
    return report
