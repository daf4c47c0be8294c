import dataclasses
import json
import os

from lcnet_tf.layers.gate_head import SCALE_MODES
from lcnet_tf.layers.gate_head import check_threshold
from lcnet_tf.layers.gated_residual_block import check_gating
from lcnet_tf.losses import check_budget_target
from lcnet_tf.losses import check_budget_weight
from lcnet_tf.training.strategy import check_strategy

SCHEDULES = ("cosine", "step")
DTYPE_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
DATASETS = ("cifar10", "imagenet2012")
ROUTING_SPLITS = ("train", "test")
FROZEN_SCALES = ("constant", "learned")
# Images a frozen routing is counted over: the whole CIFAR-10 test set,
# or as many training images.
ROUTING_IMAGES = 10_000


@dataclasses.dataclass
class TrainConfig:
    """Everything one training run needs; the CLI flags override fields.

    Attributes:
        dataset: str. `"cifar10"` or `"imagenet2012"`.
        depth: int. ResNet depth (CIFAR: 6n + 2; ImageNet: 18/34/50/...).
        gating: str. `"none"`, `"l"`, `"c"`, `"lc"` or `"aig"`.
        scale: str. `"learned"`, `"gate"` or `"none"`.
        tau: float in [0, 1]. Gate threshold.
        channel_groups: int. Channels per C-Net decision.
        channel_selection: str. `"free"` or `"nested"` (C-Net keeps a
            prefix of the ordered channel groups).
        gate_projection_blocks: bool. Block gates on the blocks that
            change shape too (skipped, they run their projection
            shortcut alone); needs block gating (`"l"`, `"lc"`,
            `"aig"`).
        channel_min_groups: int >= 0. Channel groups that every block
            runs whatever its nested channel gate says (`ChannelGate`'s
            `min_groups`), so a prefix cannot shut a block; needs
            `channel_selection="nested"`.
        noise_std: float >= 0. Logistic exploration noise while training.
        budget_target: float in (0, 1]. Wanted mean FLOPs ratio.
        budget_weight: float >= 0. Weight of the budget loss.
        epochs: int. Training epochs.
        batch_size: int. Global batch size.
        learning_rate: float. Peak SGD learning rate.
        momentum: float. SGD momentum (Nesterov off).
        weight_decay: float. Decoupled weight decay on conv/dense kernels.
        schedule: str. `"cosine"` or `"step"` (x0.1 at 50% and 75%).
        warmup_epochs: float. Linear warm-up length.
        train_examples: int or None. Use only the first N training images.
        eval_examples: int or None. Evaluate on the first N test images.
        steps_per_epoch: int or None. Cap on steps per epoch.
        data_dir: str or None. Local dataset folder (CIFAR-10 binaries or
            the tfds data dir for ImageNet).
        model_dir: str. Where checkpoints, logs and the model go.
        init_from: str or None. A static `.keras` model to start from.
        distill_from: str or None. A trained `.keras` teacher (usually the
            static model of `init_from`) to distil from while training.
        distill_weight: float in [0, 1]. Weight of the distillation loss
            (the label loss gets the rest); used with `distill_from`.
        distill_temperature: float > 0. Softmax temperature of it.
        seed: int. Seed of weights, data order and noise.
        verbose: int. Keras progress output (0, 1 or 2).
        strategy: str. `"default"`, `"mirrored"` or `"multi_worker"`
            (see `lcnet_tf.training.strategy`).
        sync_batch_norm: bool. Batch statistics over the global batch
            (all replicas) instead of each replica's slice.
        cpu_replicas: int or None. Split this host's CPU into N logical
            devices for `"mirrored"` (tests and CPU-only machines).
        worker_timeout: float. Multi-worker: seconds to wait for every
            task of `TF_CONFIG`.
        image_size: int. ImageNet crop size (CIFAR-10 is always 32).
        recalibrate_batches: int >= 0. Training batches over which batch
            norms are re-estimated before each validation and after
            training (`BatchNormRecalibration`), so gates decide in
            inference as in training; 0 turns it off.
        budget_anneal: float in [0, 1]. Share of training over which the
            budget target falls from 1.0 to `budget_target` (0: off).
        keep_rate_low: float in [0, 1). Final lower bound of every gate
            unit's batch keep rate (`GateRegularizer`).
        keep_rate_high: float in (low, 1]. Final upper bound.
        bounds_weight: float >= 0. Weight of the keep-rate bounds (0: off).
        shaping_weight: float >= 0. Weight of batch-shaping (0: off),
            faded to 0 over training.
        shaping_alpha: float > 0. Beta prior of batch-shaping, first shape.
        shaping_beta: float > 0. Beta prior, second shape.
        regularizer_anneal: float in (0, 1]. Share of training over which
            the keep-rate bounds tighten from [0, 1].
        noise_anneal: float in [0, 1]. Share of training over which the
            exploration noise fades from `noise_std` to 0 (0: constant).
        regularize_channel_gates: bool. Apply the keep-rate bounds and
            batch-shaping to channel gates too (False: block gates only;
            channel gates may become a fixed pruning).
        gate_weight_decay: bool. Decay the gate heads' kernels like the
            rest (False keeps weight decay off the gates).
        dtype_policy: str. Keras dtype policy of the model: `"float32"`,
            `"mixed_float16"` (GPUs) or `"mixed_bfloat16"` (TPUs, recent
            CPUs). FLOPs, the budget and the logits stay float32.
        freeze_routing_from: str or None. A trained gated `.keras` model:
            train it with its most frequent routing frozen (a static
            pruned network of the same FLOPs;
            `lcnet_tf.training.freeze_routing`), the routing counted
            over `freeze_routing_split`'s CIFAR-10 images. Its architecture
            replaces `depth`, `gating` and the gate fields. With
            `init_from`, the pruned network starts from that static
            model's weights (learned scales 1) instead of the gated
            model's.
        fix_gates_from: str or None. A trained gated `.keras` model:
            train its body only, from all its weights, its gates fixed
            (`lcnet_tf.training.fix_gates`: each still decides per
            image, as in inference), the FLOPs budget kept at
            `budget_target` / `budget_weight`; `bounds_weight` and
            `shaping_weight` keep those terms on the fixed gates, where
            they act on the body's features. Its architecture replaces
            `depth`, `gating` and the gate fields.
        release_routing_from: str or None. A frozen-routing row's
            `.keras` model (`freeze_routing_from`): train it with its
            gates released (`lcnet_tf.training.release_routing`), so
            that from the frozen routing they learn to decide per image
            under `budget_target`, with `noise_std` and the gate
            regularizer fields ("prune, then route"). Its architecture
            replaces `depth`, `gating` and the gate fields.
        tune_gates_from: str or None. A trained gated `.keras` model:
            train it from all its weights with its gates learning again
            (`lcnet_tf.training.tune_gates`: hidden layer, decisions and
            learned scales; a frozen routing stays frozen, its scales
            learn), under this config's budget, noise and gate
            regularizer. With `train_body=False` the body is held and
            its batch norms use their moving statistics, so the gates
            and scales learn on what inference computes (recipe 13's
            last epoch). Its architecture replaces `depth`, `gating` and
            the gate fields.
        freeze_routing_split: str. Where `freeze_routing_from` counts
            routings: `"train"` (the first 10,000 training images, as
            many as the test set, unaugmented) or `"test"` (the test
            images, unlabelled; the project's first frozen rows).
        freeze_routing_scales: str. With `freeze_routing_from`:
            `"constant"` holds every LC-Net scale at a constant (1 with
            `init_from`), a plain pruned network; `"learned"` lets the
            gates' scale heads train (from 1 with `init_from`), so that
            the routing is fixed but each image still scales what it
            keeps.
        threshold_jitter_low: float in [0, 1] or None. With
            `threshold_jitter_high`: each training step runs every gate
            at one threshold drawn from that range
            (`lcnet_tf.training.ThresholdJitter`), so the body meets the
            routings a user's `set_threshold` asks for; the model keeps
            `tau`. A budget term at the drawn thresholds also pulls the
            FLOPs at `tau`; without one, fixed gates drift to more FLOPs.
            On CIFAR-10 it cost accuracy (results/cifar10_dynamic.md).
        threshold_jitter_high: float in [0, 1] or None. Top of that range.
        train_body: bool. False trains the gates alone: every other
            weight (stem, blocks, classifier; batch norms in inference
            mode) keeps its starting value, e.g. `init_from`'s static
            network, so the gates learn to route the network a
            `fix_gates_from` row then fine-tunes.
    """

    dataset: str = "cifar10"
    depth: int = 20
    gating: str = "lc"
    scale: str = "learned"
    tau: float = 0.5
    channel_groups: int = 1
    channel_selection: str = "free"
    gate_projection_blocks: bool = False
    channel_min_groups: int = 0
    noise_std: float = 0.0
    budget_target: float = 0.5
    budget_weight: float = 2.0
    epochs: int = 1
    batch_size: int = 128
    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    train_examples: int | None = None
    eval_examples: int | None = None
    steps_per_epoch: int | None = None
    data_dir: str | None = None
    model_dir: str = "runs/default"
    init_from: str | None = None
    distill_from: str | None = None
    distill_weight: float = 0.5
    distill_temperature: float = 4.0
    seed: int = 0
    verbose: int = 1
    strategy: str = "default"
    sync_batch_norm: bool = False
    cpu_replicas: int | None = None
    worker_timeout: float = 300.0
    image_size: int = 224
    recalibrate_batches: int = 20
    budget_anneal: float = 0.0
    keep_rate_low: float = 0.1
    keep_rate_high: float = 0.9
    bounds_weight: float = 0.0
    shaping_weight: float = 0.0
    shaping_alpha: float = 0.6
    shaping_beta: float = 0.4
    regularizer_anneal: float = 0.5
    noise_anneal: float = 0.0
    regularize_channel_gates: bool = True
    gate_weight_decay: bool = True
    freeze_routing_from: str | None = None
    fix_gates_from: str | None = None
    release_routing_from: str | None = None
    tune_gates_from: str | None = None
    freeze_routing_split: str = "train"
    freeze_routing_scales: str = "constant"
    threshold_jitter_low: float | None = None
    threshold_jitter_high: float | None = None
    dtype_policy: str = "float32"
    train_body: bool = True

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raises ValueError naming the first bad field."""
        if self.dataset not in DATASETS:
            raise ValueError(
                f"`dataset` must be one of {DATASETS}. Received: "
                f"{self.dataset!r}"
            )
        check_gating(self.gating)
        if self.dtype_policy not in DTYPE_POLICIES:
            raise ValueError(
                f"`dtype_policy` must be one of {DTYPE_POLICIES} (float16 "
                f"alone cannot hold the budget's FLOPs; use "
                f"'mixed_float16'). Received: {self.dtype_policy!r}"
            )
        if self.dataset == "cifar10" and (
            int(self.depth) < 8 or (int(self.depth) - 2) % 6
        ):
            raise ValueError(
                f"`depth` of a CIFAR ResNet must be 6n + 2 (8, 14, 20, 32, "
                f"56, 110). Received: depth={self.depth}"
            )
        if self.dataset == "imagenet2012" and int(self.depth) not in (
            18,
            34,
            50,
            101,
            152,
        ):
            raise ValueError(
                f"`depth` of an ImageNet ResNet must be 18, 34, 50, 101 or "
                f"152. Received: depth={self.depth}"
            )
        if self.scale not in SCALE_MODES:
            raise ValueError(
                f"`scale` must be one of {SCALE_MODES}. Received: "
                f"{self.scale!r}"
            )
        check_threshold(self.tau)
        if self.channel_selection not in ("free", "nested"):
            raise ValueError(
                "`channel_selection` must be 'free' or 'nested'. Received: "
                f"{self.channel_selection!r}"
            )
        if self.gate_projection_blocks and self.gating in ("none", "c"):
            raise ValueError(
                f"`gate_projection_blocks` gates the blocks that change "
                f"shape with block gates, which gating {self.gating!r} "
                f"does not have. Use gating 'l', 'lc' or 'aig', or "
                f"gate_projection_blocks=False."
            )
        if self.channel_min_groups < 0:
            raise ValueError(
                f"`channel_min_groups` must be >= 0. Received: "
                f"{self.channel_min_groups}"
            )
        if self.channel_min_groups and self.channel_selection != "nested":
            raise ValueError(
                f"`channel_min_groups` sets the narrowest prefix of nested "
                f"channel gates; channel_selection="
                f"{self.channel_selection!r} has none. Use "
                f"channel_selection='nested' or channel_min_groups=0."
            )
        check_budget_target(self.budget_target)
        check_budget_weight(self.budget_weight)
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"`schedule` must be one of {SCHEDULES}. Received: "
                f"{self.schedule!r}"
            )
        for field in ("epochs", "batch_size", "image_size"):
            if int(getattr(self, field)) < 1:
                raise ValueError(
                    f"`{field}` must be >= 1. Received: {getattr(self, field)}"
                )
        for field in ("train_examples", "eval_examples", "steps_per_epoch"):
            value = getattr(self, field)
            if value is not None and int(value) < 1:
                raise ValueError(
                    f"`{field}` must be >= 1 or None. Received: {value}"
                )
        if not self.learning_rate > 0:
            raise ValueError(
                f"`learning_rate` must be > 0. Received: {self.learning_rate}"
            )
        if not 0 <= self.momentum < 1 or self.weight_decay < 0:
            raise ValueError(
                f"Need 0 <= momentum < 1 and weight_decay >= 0. Received: "
                f"momentum={self.momentum}, weight_decay={self.weight_decay}"
            )
        check_strategy(self.strategy)
        if self.cpu_replicas is not None and int(self.cpu_replicas) < 1:
            raise ValueError(
                f"`cpu_replicas` must be >= 1 or None. Received: "
                f"{self.cpu_replicas}"
            )
        if not self.worker_timeout > 0:
            raise ValueError(
                f"`worker_timeout` must be > 0. Received: {self.worker_timeout}"
            )
        if not 0 <= self.distill_weight <= 1:
            raise ValueError(
                "`distill_weight` must be in [0, 1]. Received: "
                f"{self.distill_weight}"
            )
        if not self.distill_temperature > 0:
            raise ValueError(
                "`distill_temperature` must be > 0. Received: "
                f"{self.distill_temperature}"
            )
        if int(self.recalibrate_batches) < 0:
            raise ValueError(
                "`recalibrate_batches` must be >= 0 (0: off). Received: "
                f"{self.recalibrate_batches}"
            )
        if not 0.0 <= self.budget_anneal <= 1.0:
            raise ValueError(
                "`budget_anneal` is a share of training in [0, 1]. "
                f"Received: {self.budget_anneal}"
            )
        regularizer = self.gate_regularizer()
        if regularizer is not None and self.gating == "aig":
            raise ValueError(
                "`bounds_weight` / `shaping_weight` / `noise_anneal` apply to "
                "gating 'l', "
                "'c' and 'lc'; 'aig' has its own target-rate loss. "
                f"Received: gating={self.gating!r}, bounds_weight="
                f"{self.bounds_weight}, shaping_weight={self.shaping_weight}"
            )
        if regularizer is not None and self.gating == "none":
            raise ValueError(
                "`bounds_weight` / `shaping_weight` / `noise_anneal` need a "
                "gated model; "
                "gating='none' has no gates."
            )
        if self.freeze_routing_from and (self.gating == "none" or regularizer):
            raise ValueError(
                "`freeze_routing_from` starts from a trained gated model "
                "and fixes its gates: it excludes gating 'none' and gate "
                "regularizers (bounds, shaping, noise_anneal). Received: "
                f"gating={self.gating!r}"
            )
        if self.freeze_routing_from and self.dataset != "cifar10":
            raise ValueError(
                "`freeze_routing_from` counts routings over CIFAR-10 "
                "images; other datasets have no frozen-routing baseline. "
                f"Received: dataset={self.dataset!r}"
            )
        if self.freeze_routing_split not in ROUTING_SPLITS:
            raise ValueError(
                f"`freeze_routing_split` must be one of {ROUTING_SPLITS}. "
                f"Received: {self.freeze_routing_split!r}"
            )
        if self.freeze_routing_scales not in FROZEN_SCALES:
            raise ValueError(
                f"`freeze_routing_scales` must be one of {FROZEN_SCALES}. "
                f"Received: {self.freeze_routing_scales!r}"
            )
        if self.fix_gates_from:
            self._refuse_clashes(
                "`fix_gates_from` trains a gated model's body with its "
                "gates fixed: it excludes gating 'none', other starting "
                "weights, exploration noise and a budget schedule "
                "(bounds and batch-shaping may stay).",
                {
                    "freeze_routing_from": self.freeze_routing_from,
                    "init_from": self.init_from,
                    "noise_std": self.noise_std,
                    "budget_anneal": self.budget_anneal,
                    "noise_anneal": self.noise_anneal,
                },
                gatings=("none",),
            )
        self._validate_release()
        if self.tune_gates_from:
            self._refuse_clashes(
                "`tune_gates_from` trains a gated model's gates again, from "
                "its own weights: it excludes gating 'none', other starting "
                "weights, fixed gates and a frozen or released routing.",
                {
                    "freeze_routing_from": self.freeze_routing_from,
                    "fix_gates_from": self.fix_gates_from,
                    "release_routing_from": self.release_routing_from,
                    "init_from": self.init_from,
                },
                gatings=("none",),
            )
        self._validate_threshold_jitter()
        if not self.train_body:
            self._refuse_clashes(
                "`train_body=False` trains the gates alone: it needs a "
                "gated model whose gates learn, so it excludes gating "
                "'none', fixed gates and a frozen routing.",
                {
                    "freeze_routing_from": self.freeze_routing_from,
                    "fix_gates_from": self.fix_gates_from,
                },
                gatings=("none",),
            )
        if self.noise_std < 0 or self.warmup_epochs < 0:
            raise ValueError("`noise_std` and `warmup_epochs` must be >= 0.")
        if self.noise_anneal and not self.noise_std:
            raise ValueError(
                "`noise_anneal` fades the exploration noise, but "
                f"`noise_std` is 0. Received: noise_anneal="
                f"{self.noise_anneal}, noise_std={self.noise_std}"
            )

    def _validate_release(self):
        if not self.release_routing_from:
            return
        self._refuse_clashes(
            "`release_routing_from` trains a frozen-routing model's gates "
            "again, from its own weights: it excludes gating 'none' and "
            "'aig', other starting weights, fixed gates and threshold "
            "jitter.",
            {
                "freeze_routing_from": self.freeze_routing_from,
                "fix_gates_from": self.fix_gates_from,
                "init_from": self.init_from,
                "threshold_jitter_low": self.threshold_jitter_low is not None,
            },
            gatings=("none", "aig"),
        )

    def _refuse_clashes(self, why, clashes, gatings):
        """Raises `why`, naming the set fields of `clashes` (and the
        gating, if one of `gatings`), when there are any."""
        set_fields = {k: v for k, v in clashes.items() if v}
        if set_fields or self.gating in gatings:
            raise ValueError(
                f"{why} Received: gating={self.gating!r}, "
                + ", ".join(f"{k}={v!r}" for k, v in set_fields.items())
            )

    def _validate_threshold_jitter(self):
        low, high = self.threshold_jitter_low, self.threshold_jitter_high
        if low is None and high is None:
            return
        if low is None or high is None or self.gating == "none":
            raise ValueError(
                "`threshold_jitter_low` and `threshold_jitter_high` come "
                "together, on a gated model. Received: threshold_jitter_low="
                f"{low}, threshold_jitter_high={high}, gating={self.gating!r}"
            )
        # The callback's own checks name the bad bound.
        self.threshold_jitter()

    def threshold_jitter(self):
        """The `ThresholdJitter` of these fields, or None."""
        from lcnet_tf.training.threshold_jitter import ThresholdJitter

        if self.threshold_jitter_low is None:
            return None
        return ThresholdJitter(
            self.threshold_jitter_low, self.threshold_jitter_high, self.seed
        )

    @classmethod
    def field_help(cls):
        """One line of help per field, from this class's docstring.

        The docstring is the one home of each field's meaning; the CLI
        flags take their help text from here.

        Returns:
            dict from field name to its description (type prefix
            dropped, continuation lines joined).
        """
        import inspect
        import re

        text = inspect.getdoc(cls).split("Attributes:", 1)[1]
        found = {}
        for match in re.finditer(
            r"^    (\w+): (.+?)(?=^    \w+: |\Z)", text, re.M | re.S
        ):
            name, body = match.groups()
            body = " ".join(body.split())
            # Drop the leading "type." (e.g. "int.", "str or None.").
            found[name] = re.sub(r"^[\w |]+?\. ", "", body, count=1)
        return found

    def gate_regularizer(self):
        """The `GateRegularizer` these fields describe, or None (off).

        Raises:
            ValueError: naming the field, on bad bounds, weights, prior
                or annealing share.
        """
        from lcnet_tf.layers.gate_regularizer import GateRegularizer

        try:
            regularizer = GateRegularizer(
                low=self.keep_rate_low,
                high=self.keep_rate_high,
                bounds_weight=self.bounds_weight,
                alpha=self.shaping_alpha,
                beta=self.shaping_beta,
                shaping_weight=self.shaping_weight,
                anneal=self.regularizer_anneal,
                noise_anneal=self.noise_anneal,
                channel_gates=self.regularize_channel_gates,
            )
        except ValueError as error:
            raise ValueError(
                f"Bad gate regularizer fields (GateRegularizer's low, high, "
                f"alpha, beta, anneal are keep_rate_low, keep_rate_high, "
                f"shaping_alpha, shaping_beta, regularizer_anneal here): "
                f"{error}"
            ) from None
        if not (self.bounds_weight or self.shaping_weight or self.noise_anneal):
            return None
        return regularizer

    def model_signature(self):
        """The fields that fix the architecture (for resume checks)."""
        return {
            key: getattr(self, key)
            for key in (
                "dataset",
                "depth",
                "gating",
                "scale",
                "channel_groups",
                "channel_selection",
                "gate_projection_blocks",
                "channel_min_groups",
                "image_size",
            )
        }

    def to_json(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(dataclasses.asdict(self), f, indent=2)

    @classmethod
    def from_json(cls, path):
        with open(path) as f:
            return cls(**json.load(f))
