"""Which gate-training recipe keeps LC-Net's routing per image?

Short runs, one per recipe, all alike except the gate-training terms:
an LC-ResNet-20 fine-tuned from the published static ResNet-20 toward
one FLOPs target (learning rate 0.02 cosine, budget weight 16, noise
0.5, the table's recipe), then evaluated on the first test images:
top-1, FLOPs ratio, distinct routings, per-image FLOPs spread, share of
conditional gates, train/inference agreement and the threshold sweep.
Each run resumes after a kill. Writes `benchmarks/results/
gate_recipes.json` and a plot:

    python benchmarks/gate_recipes.py --data_dir=../shared/data/cifar10 \
        --root=runs/gate_recipes --epochs=1 --target=0.3
"""

import dataclasses
import json
import os
import time

from absl import app
from absl import flags

from lcnet_tf.training.recipes import BOUNDS_SHAPING_RECIPE

FLAGS = flags.FLAGS

# name -> TrainConfig fields on top of the table's fine-tuning recipe.
RECIPES = {
    "budget_only": {},
    "annealed": dict(budget_anneal=0.5, gate_weight_decay=False),
    "bounds": dict(
        budget_anneal=0.5, gate_weight_decay=False, bounds_weight=20.0
    ),
    "shaping": dict(
        budget_anneal=0.5, gate_weight_decay=False, shaping_weight=1.0
    ),
    # The recipe the dynamic-routing table trains with.
    "bounds_shaping": {
        key: value
        for key, value in BOUNDS_SHAPING_RECIPE.items()
        if key not in ("budget_weight", "noise_std")
    },
}


def define_flags():
    flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.")
    flags.DEFINE_string("root", "runs/gate_recipes", "One folder a run.")
    flags.DEFINE_string(
        "init_from",
        "pretrained/resnet20_static_cifar10.keras",
        "Static ResNet-20 every run starts from.",
    )
    flags.DEFINE_list("recipes", list(RECIPES), "Recipes to run.")
    flags.DEFINE_float("target", 0.3, "FLOPs target of every run.")
    flags.DEFINE_integer("epochs", 1, "Fine-tuning epochs of every run.")
    flags.DEFINE_integer("eval_examples", 2000, "Test images evaluated.")
    flags.DEFINE_string(
        "output_dir", "benchmarks/results", "Where JSON and plot go."
    )


def recipe_config(name, target, epochs, data_dir, init_from, model_dir):
    """The `TrainConfig` of one recipe."""
    from lcnet_tf.training import TrainConfig

    return TrainConfig(
        depth=20,
        gating="lc",
        budget_target=target,
        budget_weight=16.0,
        noise_std=0.5,
        learning_rate=0.02,
        epochs=epochs,
        batch_size=128,
        seed=0,
        verbose=2,
        data_dir=data_dir,
        init_from=init_from,
        model_dir=model_dir,
        **RECIPES[name],
    )


def run_recipe(config, eval_examples):
    """Trains (or resumes) one recipe and measures its routing."""
    from lcnet_tf.analysis.threshold_sweep import threshold_sweep
    from lcnet_tf.data.cifar10 import cifar10_arrays
    from lcnet_tf.data.cifar10 import cifar10_dataset
    from lcnet_tf.training import evaluate_model
    from lcnet_tf.training import train

    start = time.perf_counter()
    model, _ = train(config)
    seconds = time.perf_counter() - start
    test = cifar10_dataset(
        "test", config.data_dir, batch_size=500, num_examples=eval_examples
    )
    agreement_images, _ = cifar10_arrays("test", config.data_dir, 1024)
    report = evaluate_model(model, test, agreement_images)
    sweep = threshold_sweep(model, test, (0.2, 0.35, 0.5, 0.6, 0.7, 0.8))
    return {
        "config": dataclasses.asdict(config),
        "train_seconds": seconds,
        "top1": report["top1"],
        "flops_ratio": report["flops_ratio"],
        "routing": report["routing"],
        "agreement": report["train_inference_agreement"],
        "sweep": sweep,
    }


def run_benchmark(
    data_dir, root, init_from, recipes, target, epochs, eval_examples, output
):
    """Every recipe in turn (finished ones are read back); JSON + plot."""
    results = {}
    for name in recipes:
        if name not in RECIPES:
            raise ValueError(f"Unknown recipe {name!r}; known: {list(RECIPES)}")
        folder = os.path.join(root, name)
        path = os.path.join(folder, "recipe.json")
        if os.path.exists(path):
            with open(path) as f:
                results[name] = json.load(f)
            continue
        config = recipe_config(
            name, target, epochs, data_dir, init_from, folder
        )
        results[name] = run_recipe(config, eval_examples)
        with open(path, "w") as f:
            json.dump(results[name], f, indent=2)
        print(name, json.dumps(results[name]["routing"]), flush=True)
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "gate_recipes.json"), "w") as f:
        json.dump(results, f, indent=2)
    _plot(results, os.path.join(output, "gate_recipes.png"))
    return results


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4.5))
    for name, result in results.items():
        points = sorted(result["sweep"], key=lambda p: p["flops_ratio"])
        axis.plot(
            [p["flops_ratio"] for p in points],
            [100 * p["top1"] for p in points],
            marker="o",
            markersize=3,
            label=f"{name} ({result['routing']['distinct_block_routings']}"
            " routings)",
        )
    axis.set_xlabel("FLOPs ratio (threshold sweep)")
    axis.set_ylabel("top-1 (%)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    run_benchmark(
        FLAGS.data_dir,
        FLAGS.root,
        FLAGS.init_from,
        FLAGS.recipes,
        FLAGS.target,
        FLAGS.epochs,
        FLAGS.eval_examples,
        FLAGS.output_dir,
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
