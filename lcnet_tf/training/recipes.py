"""The gate-training recipes of the CIFAR-10 dynamic table.

Each recipe is a dict of `TrainConfig` fields (or a number it uses), with
a comment that says what it changes and why it was tried; the rows of
`cifar10_dynamic_rows` combine them, and results/cifar10_dynamic.md
gives what each measured.
"""

# The first gate-training recipe (rows `..._e10`), chosen on one-epoch
# runs (`benchmarks/gate_recipes.py`): the only one whose gates routed
# per image. Ten epochs of it routed per image but lost to ResNet-8.
BOUNDS_SHAPING_RECIPE = dict(
    budget_weight=16.0,
    noise_std=0.5,
    budget_anneal=0.5,
    gate_weight_decay=False,
    bounds_weight=20.0,
    shaping_weight=1.0,
)

# The second recipe (row `lc_resnet20_t30_e10_r2`): the first, plus
# what its 10-epoch row lacked (results/cifar10_dynamic.md says why): the
# exploration noise fades out over 80% of training, so the last epochs
# train the decisions inference makes; the budget reaches its target
# after 30% of training instead of 50%; and every row, gated or frozen,
# learns from the static ResNet-20's logits (`DISTILL_RECIPE`).
DYNAMIC_RECIPE = dict(
    BOUNDS_SHAPING_RECIPE, budget_anneal=0.3, noise_anneal=0.8
)
DISTILL_RECIPE = dict(distill_weight=0.5, distill_temperature=4.0)

# The table's recipe (rows `..._e10_r3`), the best of the three at
# target 0.3: the second with the bounds and batch-shaping on block
# gates only. With 343 gate units in an LC-ResNet-20 (one per channel),
# bounding every one to [0.1, 0.9] forces each channel off for a tenth
# of the images, even where a fixed pruning is the better choice;
# per-image block routing is what the dynamism targets ask for.
BLOCK_RECIPE = dict(DYNAMIC_RECIPE, regularize_channel_gates=False)

# Recipe 4 (rows `..._r4`), a probe: recipe 3 fine-tuned at a quarter of
# the learning rate. Recipe 3's rows lose 3-4 points of the static
# ResNet-20's accuracy in their first epoch (0.855 -> 0.814 at t30,
# 0.825 at t65 with the gates still 90% open), before the budget bites:
# restarting at 0.02 undoes part of the static training.
FINETUNE_LR_PROBE = 0.005

# Recipe 5 (rows `..._r5`), a probe of why the frozen rows beat the LC
# rows: recipe 3 for the first `GATE_EPOCHS` of the fine-tuning, then the
# gates fixed (`TrainConfig.fix_gates_from`) and the body trained for
# the rest on exactly the per-image routing inference takes, as a frozen
# row trains its one routing. Same epochs in all.
GATE_EPOCHS = 6
# Recipe 6 (rows `..._r6`, at 0.3): recipe 5 with a shorter gate stage,
# so the body trains longer on the routing inference takes; the frozen
# row, which trains its one routing for all 10 epochs, beats recipe 5
# by 0.9 points.
SHORT_GATE_EPOCHS = 3

# Recipe 5 with block gates on the two projection blocks too (rows
# `..._r5_proj`): with ResNet-20's 7 other skippable blocks only 128
# block routings exist, and the issue asks for 100 of them; with 9, 512.

# Recipe 7 (rows `..._r7`, `..._r7_proj`): recipe 5's gate rows, then a
# body stage that keeps the block gates' keep-rate bounds and
# batch-shaping on the fixed gates. Trained for the mean FLOPs alone,
# recipe 5's body narrowed the routing its gates had learned (107 -> 85
# block routings at 0.3 with the projection blocks gated); here the
# terms act through the gates on the body's features instead. The
# bounds are tight from the first tenth of the stage: the gates met
# them already.
SPREAD_RECIPE = dict(
    bounds_weight=BLOCK_RECIPE["bounds_weight"],
    shaping_weight=BLOCK_RECIPE["shaping_weight"],
    regularize_channel_gates=False,
    regularizer_anneal=0.1,
)
# Recipe 8 (row `lc_resnet20_t30_e10_r8_proj`): recipe 7 at a quarter of
# its weights. At 0.3 recipe 7 kept the routing (109 block routings) for
# 0.49 points; does a lighter hold keep it for less?
LIGHT_SPREAD_RECIPE = dict(
    SPREAD_RECIPE,
    bounds_weight=SPREAD_RECIPE["bounds_weight"] / 4,
    shaping_weight=SPREAD_RECIPE["shaping_weight"] / 4,
)

# Recipe 10 (rows `..._r10_proj...`, at 0.65 and 0.5): recipe 8 from a
# gate row whose block gates are bounded to [0.2, 0.8] instead of
# [0.1, 0.9], in both stages. At 0.65 the gate rows of recipe 5 end
# with 95 block routings and their body rows with fewer (84 with recipe
# 7), short of the 100; a keep rate held further from 0 and 1
# is a less predictable decision, so more of the 512 routings occur.
WIDE_BOUNDS = dict(keep_rate_low=0.2, keep_rate_high=0.8)

# Recipe 17 (rows `..._r17_proj`): recipe 15's gate stage on the same
# body with the block gates' keep rates bounded to the default [0.1,
# 0.9], at recipe 8's light weight and without batch-shaping. Recipe 15
# ends with 85 block routings at 0.65, recipe 16 (bounds [0.2, 0.8] and
# batch-shaping) with 113 for 3.2 points; one-epoch probes there put
# the narrower bounds at 95-97 routings for 0.8 points, at weights 2
# and 5 and with [0.05, 0.95] alike (batch-shaping alone kept 85).
NARROW_BOUNDS_TUNE = dict(
    LIGHT_SPREAD_RECIPE,
    shaping_weight=0.0,
    keep_rate_low=0.1,
    keep_rate_high=0.9,
)

# Recipe 18 (rows `..._r18_proj_body`, then `..._r18_proj`, at 0.65):
# recipe 15 with its body stage at thresholds drawn from [0.4, 0.6]
# (`ThresholdJitter`), so the body trains on the routings that images
# near a gate's threshold take. Recipe 17's extra routings are such
# images, and cost accuracy: is it because the body never ran them?
# Measured: 84 block routings at 82.30% (0.662), against recipe 15's 85
# at 83.21%: no.
NEAR_THRESHOLD_JITTER = dict(
    threshold_jitter_low=0.4, threshold_jitter_high=0.6
)

# Recipe 11 (rows `..._r11_pruned`, then `..._r11`): prune, then route.
# The frozen rows beat every LC row: one routing trained on all images
# beats a body shared among many. Here the LC row's most frequent
# routing (counted on training images) is frozen and trained for the
# first `PRUNED_EPOCHS`, as a frozen row is; then its gates are released
# (`TrainConfig.release_routing_from`) and learn, from that routing,
# which images can skip more, under a budget below the routing's own
# FLOPs. The bounds hold every block gate's keep rate at most 0.9 (so
# each kept block is skipped for some images) and at least 0: blocks
# the routing closed were never trained on it and may stay closed.
PRUNED_EPOCHS = 6
ROUTE_RECIPE = dict(
    budget_weight=BLOCK_RECIPE["budget_weight"],
    noise_std=BLOCK_RECIPE["noise_std"],
    noise_anneal=BLOCK_RECIPE["noise_anneal"],
    gate_weight_decay=False,
    bounds_weight=LIGHT_SPREAD_RECIPE["bounds_weight"],
    keep_rate_low=0.0,
    keep_rate_high=0.9,
    regularize_channel_gates=False,
)

# Recipe 9 (row `lc_resnet20_t65_e10_r9`): recipe 5's gate row, then a
# body stage trained at thresholds drawn from [0.05, 0.5]
# (`ThresholdJitter`), so the body meets the routings of a lowered
# threshold: recipe 5's threshold sweep loses accuracy where it spends
# more FLOPs than it trained at (tau 0.05). No budget term: in a
# one-epoch probe at 0.3, the budget at the drawn thresholds pulled the
# trained threshold's FLOPs and accuracy down (75.5% against 80.7%).
# Measured (seed 1): 80.72% at 0.729 against recipe 5's 82.52% at 0.652,
# the sweep still not monotone; seeds 0 and 2 are left untrained.
JITTER_RECIPE = dict(
    threshold_jitter_low=0.05,
    threshold_jitter_high=0.5,
    budget_weight=0.0,
)

# Recipe 12 (rows `..._r12_nested16_gates`, then `..._r12_nested16`):
# route the static network, then train its body on that routing. Recipe
# 5's gate stage trains the body too, under exploration noise and a
# routing still moving (81.5% after it at 0.65), and leaves the body
# stage 4 epochs; a frozen row trains the static body on its one
# routing for all 10. Here the gates learn for `ROUTE_EPOCHS` on the
# static ResNet-20 held fixed (`train_body=False`), then the body trains
# on the fixed gates for the rest, from the static weights they learned
# to route.
ROUTE_EPOCHS = 3

# Channels per group of the nested C-Net rows (`..._nested`): 2, 4 and 8
# widths in ResNet-20's three stages, so the dynamic export has few
# width branches per block (tflite/README.md, "The dynamic form").
NESTED_GROUPS = 8
# Widths in multiples of 16 floats, the AVX-512 lane count.
NESTED_LANE_GROUPS = 16

# Recipe 13 (rows `..._r13...`): recipe 12 with its last epoch given to
# the gates alone, on the body as the body stage left it
# (`TrainConfig.tune_gates_from`, `train_body=False`). While the body
# trains, its batch norms normalise with each batch's statistics, and
# the gates and LC-Net's scales (which read the body's features) learn
# on those; held, the body normalises as in inference, and the gates
# learn what inference computes. As in every gate recipe, no weight
# decay on the gates. No budget term, noise or regularizer:
# the decisions start where the body stage left them, at the target
# (measured in a one-epoch probe on recipe 12's row: a budget term at
# the target itself moved 7% of the test images onto a cheaper routing:
# 82.88% at 0.644, against 83.68% at 0.652 without one). Its
# learned-scales frozen twin gets the same last epoch.
TUNE_EPOCHS = 1
TUNE_RECIPE = dict(train_body=False, budget_weight=0.0, gate_weight_decay=False)

# Recipe 14 (rows `..._r14_body`, then `..._r14`): recipe 13's last
# stage on recipe 5. Recipe 5's gate row (free channels, the LC recipe
# whose seeds agree), its body trained `TUNE_EPOCHS` fewer epochs, then
# the gates alone on the held body. Recipe 5's 343 channel gates move
# the FLOPs where recipe 12's nested ones did not (one-epoch probes on
# recipe 5's trained rows without a budget term: 0.316 -> 0.419 at
# 0.3, 0.648 -> 0.786 at 0.65), so the budget term stays, at the row's
# target and weight (with it: 82.21% at 0.320 against 80.68% at 0.316,
# 83.91% at 0.649 against 82.62% at 0.648).
TUNE_BUDGET_RECIPE = dict(
    TUNE_RECIPE, budget_weight=BLOCK_RECIPE["budget_weight"]
)
