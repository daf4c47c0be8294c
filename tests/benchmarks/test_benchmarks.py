import json
import os

import pytest

from benchmarks import channel_chunks
from benchmarks import tflite_latency
from benchmarks import tflite_quantization
from tests.export.conftest import make_model

# The staged exports `benchmarks/webgpu_staged.py` times.
_STAGED_VARIANTS = {
    "static",
    "routed",
    "routed_prefix",
    "gates_open",
    "gates_open_unfused",
    "blocks_closed",
}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "lc_resnet8.keras"
    make_model("lc").save(path)
    return str(path)


def test_latency_benchmark_writes_json_and_plot(
    saved_model, cifar10_dir, tmp_path
):
    results = tflite_latency.run_benchmark(
        saved_model, None, cifar10_dir, 25, [1], str(tmp_path), ["0", "1"]
    )
    assert os.path.exists(tmp_path / "tflite_latency.png")
    saved = json.loads((tmp_path / "tflite_latency.json").read_text())
    assert saved["images"] == 25
    variants = saved["variants"]
    assert set(variants) == {
        "static",
        "dynamic",
        "masked",
        "staged",
        "dynamic_gates_open",
        "dynamic_blocks_closed",
        "dynamic_prefix",
        "staged_prefix",
        "dynamic_prefix_gates_open",
        "dynamic_prefix_tau_0",
        "dynamic_prefix_tau_1",
    }
    assert variants["static"]["flops_ratio"] == 1.0
    assert variants["static"]["threads_1"]["median_vs_static"] == 1.0
    masked = variants["masked"]["threads_1"]
    assert masked["median_vs_static"] == pytest.approx(
        masked["median_ms"] / variants["static"]["threads_1"]["median_ms"]
    )
    # The dynamic form at other thresholds: at 0 every gate opens, at 1
    # every gate shuts, blocks and channels (the row's own in between).
    opened = variants["dynamic_prefix_tau_0"]
    assert (
        opened["flops_ratio"] == variants["dynamic_gates_open"]["flops_ratio"]
    )
    assert opened["top1"] == variants["dynamic_gates_open"]["top1"]
    shut = variants["dynamic_prefix_tau_1"]["flops_ratio"]
    assert (
        shut < variants["dynamic_prefix"]["flops_ratio"] < opened["flops_ratio"]
    )
    assert shut < variants["dynamic_blocks_closed"]["flops_ratio"]
    # Free channels as a prefix: same decisions, no more than masking,
    # the same widths in the dynamic and the staged form.
    prefix = variants["dynamic_prefix"]
    assert prefix["top1"] == variants["dynamic"]["top1"]
    assert prefix["flops_ratio"] <= variants["dynamic"]["flops_ratio"]
    staged = variants["staged_prefix"]
    assert staged["top1"] == prefix["top1"]
    assert staged["flops_ratio"] <= variants["staged"]["flops_ratio"]
    assert variants["dynamic_gates_open"]["flops_ratio"] > 1.0  # + gates
    # Planned with every gate open: every channel runs, as without a plan.
    assert (
        variants["dynamic_prefix_gates_open"]["flops_ratio"]
        == variants["dynamic_gates_open"]["flops_ratio"]
    )
    assert (
        variants["dynamic_blocks_closed"]["flops_ratio"]
        < variants["dynamic_gates_open"]["flops_ratio"]
    )
    # Same decisions in every form: same accuracy.
    assert variants["dynamic"]["top1"] == variants["staged"]["top1"]
    assert variants["dynamic"]["top1"] == variants["masked"]["top1"]
    assert results["variants"]["dynamic"]["threads_1"]["mean_ms"] > 0


def test_latency_benchmark_rejects_a_bad_threshold(saved_model, tmp_path):
    with pytest.raises(ValueError, match="threshold `tau`"):
        tflite_latency.run_benchmark(
            saved_model, None, None, 4, [1], str(tmp_path), ["1.5"]
        )


def test_latency_benchmark_of_a_model_without_block_gates(
    cifar10_dir, tmp_path
):
    path = str(tmp_path / "c_resnet8.keras")
    make_model("c", channel_groups=4, channel_selection="nested").save(path)
    results = tflite_latency.run_benchmark(
        path, None, cifar10_dir, 8, [1], str(tmp_path)
    )
    variants = results["variants"]
    # Nothing to close: no blocks-closed variant, the rest as usual.
    assert "dynamic_blocks_closed" not in variants
    # Nested gates keep their order: the dynamic form gets a conditional
    # only for the widths calibration images often need (an image that
    # needs another runs a wider one), and staged bodies need no plan.
    assert "staged_prefix" not in variants
    prefix = variants["dynamic_prefix"]
    assert prefix["top1"] == variants["dynamic"]["top1"]
    assert prefix["flops_ratio"] >= variants["dynamic"]["flops_ratio"]
    assert variants["dynamic"]["top1"] == variants["masked"]["top1"]
    assert variants["dynamic"]["flops_ratio"] < 1.0


def test_quantization_benchmark(saved_model, cifar10_dir, tmp_path):
    results = tflite_quantization.run_benchmark(
        saved_model, cifar10_dir, 20, 8, ["masked"], str(tmp_path)
    )
    assert [e["quantization"] for e in results["exports"]] == [
        "float32",
        "float16",
        "dynamic_range",
        "int8",
    ]
    float_export = results["exports"][0]
    assert float_export["top1_agreement"] == 1.0
    assert float_export["decision_agreement"] == 1.0
    assert all(e["gpu_compatible"] for e in results["exports"][:2])
    assert (tmp_path / "tflite_quantization.json").exists()


def test_training_throughput_benchmark(cifar10_dir, tmp_path):
    from benchmarks import training_throughput

    results = training_throughput.run_benchmark(
        cifar10_dir, 8, 16, 2, 2, str(tmp_path), ("float32", "mixed_bfloat16")
    )
    variants = results["variants"]
    assert set(variants) == {
        "none",
        "l",
        "c",
        "lc",
        "lc_no_noise",
        "none@mixed_bfloat16",
        "lc@mixed_bfloat16",
    }
    assert variants["lc@mixed_bfloat16"]["dtype_policy"] == "mixed_bfloat16"
    assert variants["none"]["step_time_vs_static"] == 1.0
    assert all(v["images_per_s"] > 0 for v in variants.values())
    assert (tmp_path / "training_throughput.json").exists()


def test_channel_chunks_benchmark(cifar10_dir, tmp_path):
    path = str(tmp_path / "c_resnet8.keras")
    make_model("c").save(path)
    results = channel_chunks.run_benchmark(
        path, cifar10_dir, 12, ["1", "2", "prefix"], 1, str(tmp_path)
    )
    assert os.path.exists(tmp_path / "channel_chunks.png")
    saved = json.loads((tmp_path / "channel_chunks.json").read_text())
    variants = saved["variants"]
    assert list(variants) == [
        "static",
        "chunks_1",
        "chunks_2",
        "chunks_prefix",
    ]
    # A prefix of reordered channels runs at most every channel, at least
    # the kept ones, and decides as the model does.
    prefix = variants["chunks_prefix"]
    assert saved["decided_flops_ratio"] <= prefix["executed_flops_ratio"]
    assert prefix["executed_flops_ratio"] <= 1.0
    assert prefix["top1"] == variants["chunks_1"]["top1"]
    assert variants["static"]["latency_vs_static"] == 1.0
    # One chunk runs every channel of a kept block; two chunks skip the
    # chunks whose channels are all off, never more than the decisions.
    one = variants["chunks_1"]["executed_flops_ratio"]
    two = variants["chunks_2"]["executed_flops_ratio"]
    assert saved["decided_flops_ratio"] <= two <= one
    # Same decisions whatever the chunking: same predictions.
    assert variants["chunks_1"]["top1"] == variants["chunks_2"]["top1"]
    assert results["variants"]["chunks_2"]["mean_ms"] > 0


def test_nested_channels_benchmark(cifar10_dir, tmp_path):
    from benchmarks import nested_channels

    results = nested_channels.run_benchmark(
        cifar10_dir, 4, [1.0, 0.5], 1, str(tmp_path), groups=16, depth=8
    )
    assert results["depth"] == 8
    points = {(p["selection"], p["keep"]): p for p in results["points"]}
    assert set(points) == {
        (selection, keep)
        for selection in ("free", "nested", "staged-nested", "pruned")
        for keep in (1.0, 0.5)
    }
    assert results["staged_static_ms"] > 0
    assert points["staged-nested", 0.5]["flops_ratio"] == pytest.approx(
        points["nested", 0.5]["flops_ratio"]
    )
    # The same FLOPs either way: only where the kept groups lie differs.
    assert points["free", 0.5]["flops_ratio"] == pytest.approx(
        points["nested", 0.5]["flops_ratio"]
    )
    assert points["nested", 0.5]["flops_ratio"] < 0.5
    assert (tmp_path / "nested_channels.png").exists()


def test_webgpu_staged_benchmark(saved_model, cifar10_dir, tmp_path):
    from benchmarks import webgpu_staged
    from lcnet_tf.export import gpu_available

    if not gpu_available():
        if os.environ.get("LCNET_REQUIRE_GPU"):
            pytest.fail("LCNET_REQUIRE_GPU is set but no Vulkan driver found")
        pytest.skip("no Vulkan driver for LiteRT's WebGPU accelerator")
    webgpu_staged.run_benchmark(saved_model, cifar10_dir, 5, str(tmp_path))
    assert os.path.exists(tmp_path / "webgpu_staged.png")
    results = json.loads((tmp_path / "webgpu_staged.json").read_text())
    # The report names the Vulkan driver the ratios were measured on.
    assert results["vulkan_icd"] and results["delegate"].startswith("LiteRT")
    variants = results["variants"]
    assert set(variants) == _STAGED_VARIANTS | {
        "static_host_copies",
        "gates_open_host_copies",
    }
    # Free channel gates as a prefix: the same decisions, wider bodies
    # than the kept channels but never the masked full ones.
    prefix = variants["routed_prefix"]
    assert prefix["top1"] == variants["routed"]["top1"]
    assert prefix["flops_ratio"] <= variants["routed"]["flops_ratio"]
    fused, apart = variants["gates_open"], variants["gates_open_unfused"]
    copied = variants["gates_open_host_copies"]
    for key in ("flops_ratio", "top1"):
        assert fused[key] == apart[key] == copied[key]
    assert (
        variants["blocks_closed"]["flops_ratio"]
        < (variants["routed"]["flops_ratio"])
    )
    assert (
        variants["routed"]["flops_ratio"]
        <= (variants["gates_open"]["flops_ratio"])
    )
    # The routed run decides as the model does: same accuracy as open
    # gates only by chance, but never a different image count.
    assert variants["routed"]["images"] == variants["static"]["images"] == 5


def test_op_profile_benchmark_splits_the_time(
    saved_model, cifar10_dir, tmp_path
):
    from benchmarks import op_profile

    results = op_profile.run_benchmark(
        [saved_model], None, cifar10_dir, 6, str(tmp_path)
    )
    assert (tmp_path / "op_profile.png").exists()
    saved = json.loads((tmp_path / "op_profile.json").read_text())
    assert list(saved["variants"]) == [
        "static",
        "lc_resnet8, own routing",
        "lc_resnet8, gates open",
    ]
    static = results["variants"]["static"]
    opened = results["variants"]["lc_resnet8, gates open"]
    assert static["interpreter_calls"] == {}
    assert opened["interpreter_calls"]["IF"] > 0
    # Gates open: the same convolutions as the static net run.
    conv = op_profile.CONVOLUTION
    assert opened["kernel_calls"][conv] == static["kernel_calls"][conv]
    for entry in results["variants"].values():
        parts = (
            entry["convolution_us"]
            + entry["other_kernels_us"]
            + entry["runtime_us"]
        )
        assert parts == pytest.approx(entry["latency_us"])
    assert [
        (cost["threads"], cost["kilobytes"]) for cost in saved["if_cost"]
    ] == [(1, 64), (1, 32), (1, 16), (2, 64), (2, 32), (2, 16)]


def test_interpreter_options_benchmark(saved_model, cifar10_dir, tmp_path):
    from benchmarks import interpreter_options

    options = ["experimental_preserve_all_tensors"]
    results = interpreter_options.run_benchmark(
        [saved_model], None, cifar10_dir, 4, [1], str(tmp_path), options
    )
    assert (tmp_path / "interpreter_options.png").exists()
    saved = json.loads((tmp_path / "interpreter_options.json").read_text())
    ratios = saved["ratios"]["1"]
    assert list(ratios) == ["defaults", *options]
    assert list(ratios["defaults"]) == [
        "static",
        "lc_resnet8, own routing",
        "lc_resnet8, gates open",
    ]
    # Each ratio is against the static network with the defaults.
    assert ratios["defaults"]["static"] == 1.0
    for by_name in results["mean_ms"]["1"].values():
        assert all(ms > 0 for ms in by_name.values())
    # A switch changes how the graph runs, not what it computes.
    assert saved["same_logits"]["1"] == {"defaults": True, options[0]: True}
    with pytest.raises(ValueError, match="Unknown interpreter option"):
        interpreter_options.run_benchmark(
            [saved_model], None, cifar10_dir, 2, [1], str(tmp_path), ["x"]
        )


def test_frozen_scales_benchmark(cifar10_dir, tmp_path):
    from benchmarks import frozen_scales
    from lcnet_tf.models import cifar_resnet
    from lcnet_tf.training.frozen_routing import freeze_routing
    from lcnet_tf.training.frozen_routing import most_frequent_routing
    from tests.fixtures import random_images
    from tests.fixtures import randomize_gates

    images = random_images(n=16, size=32)
    models = {}
    for name in ("static", "baseline"):
        models[name] = cifar_resnet(8)
    for name in ("frozen", "scaled", "gated"):
        model = models[name] = cifar_resnet(8, gating="lc")
        randomize_gates(model, seed=1, scale=0.5)
        if name == "gated":
            continue
        routing, _ = most_frequent_routing(model, images)
        freeze_routing(model, routing, per_image_scales=name == "scaled")
    paths = {}
    for name, model in models.items():
        paths[name] = str(tmp_path / f"{name}.keras")
        model.save(paths[name])
    results = frozen_scales.run_benchmark(
        paths, cifar10_dir, 12, [1], str(tmp_path / "out"), ["0", "1"]
    )
    assert os.path.exists(tmp_path / "out" / "frozen_scales.png")
    saved = json.loads((tmp_path / "out" / "frozen_scales.json").read_text())
    assert saved["images"] == 12
    variants = saved["variants"]
    assert list(variants) == list(frozen_scales.VARIANTS) + [
        "gated_dynamic",
        "gated_prefix",
        "gated_prefix_tau_0",
        "gated_prefix_tau_1",
    ]
    assert variants["gated_prefix"]["channel_chunks"] == "prefix"
    # The gated model at other thresholds: every gate open costs the
    # static network's FLOPs and more (its gate heads), every gate shut
    # less than its own threshold; then its own threshold comes back.
    assert variants["static"]["keras_flops_ratio"] == 1.0
    opened = variants["gated_prefix_tau_0"]
    assert opened["tau"] == 0.0 and opened["keras_flops_ratio"] > 1.0
    assert (
        variants["gated_prefix_tau_1"]["keras_flops_ratio"]
        < variants["gated_prefix"]["keras_flops_ratio"]
        < opened["keras_flops_ratio"]
    )
    assert variants["gated_prefix"]["tau"] is None
    # Every export decides and scales as its Keras model does, the gated
    # model's channels at planned widths included.
    assert all(v["keras_agreement"] == 1.0 for v in variants.values())
    assert (
        variants["scaled_pruned"]["top1"]
        == (variants["scaled_dynamic"]["top1"])
    )
    # Pruned, the per-image scales keep only their heads: far smaller
    # than the dynamic form with every gate and conditional.
    assert variants["scaled_pruned"]["bytes"] < (
        0.8 * variants["scaled_dynamic"]["bytes"]
    )
    assert results["latency"]["1"]["static"]["ratio"] == 1.0
    # A row without a learned-scales twin leaves its variants out.
    del paths["scaled"]
    results = frozen_scales.run_benchmark(
        paths, cifar10_dir, 4, [1], str(tmp_path / "out2")
    )
    with pytest.raises(ValueError, match="threshold `tau`"):
        frozen_scales.run_benchmark(
            paths, cifar10_dir, 4, [1], str(tmp_path / "out3"), ["-1"]
        )
    assert list(results["variants"]) == [
        "static",
        "baseline",
        "frozen_pruned",
        "gated_dynamic",
        "gated_prefix",
    ]


def test_webgpu_staged_benchmark_in_litertjs(
    saved_model, cifar10_dir, tmp_path
):
    from benchmarks import webgpu_staged
    from lcnet_tf.export.browser_check import browser_available

    if not browser_available():
        if os.environ.get("LCNET_REQUIRE_GPU"):
            pytest.fail("LiteRT.js driver missing: run `make gpu-test`")
        pytest.skip("node, chromium or tflite/web/node_modules missing")
    webgpu_staged.run_benchmark(
        saved_model, cifar10_dir, 5, str(tmp_path), runtime="litertjs"
    )
    assert os.path.exists(tmp_path / "litertjs_staged.png")
    results = json.loads((tmp_path / "litertjs_staged.json").read_text())
    assert results["delegate"].startswith("LiteRT.js")
    variants = results["variants"]
    assert set(variants) == _STAGED_VARIANTS
    assert variants["static"]["latency_vs_static"] == 1.0
    assert variants["static"]["flops_ratio"] == pytest.approx(1.0)
    assert variants["gates_open"]["flops_ratio"] >= 1.0
    assert (
        variants["blocks_closed"]["flops_ratio"]
        < (variants["routed"]["flops_ratio"])
    )
    assert variants["routed_prefix"]["top1"] == variants["routed"]["top1"]
    # Each gate in its own call: more signature calls, same answers.
    fused, apart = variants["gates_open"], variants["gates_open_unfused"]
    assert apart["calls_per_image"] > fused["calls_per_image"]
    assert apart["top1"] == fused["top1"]


def test_gate_overhead_benchmark(saved_model, cifar10_dir, tmp_path):
    from benchmarks import gate_overhead
    from lcnet_tf.export.overhead import RUNGS

    results = gate_overhead.run_benchmark(
        [saved_model], cifar10_dir, 12, ["1"], str(tmp_path), rounds=2
    )
    assert os.path.exists(tmp_path / "gate_overhead.png")
    saved = json.loads((tmp_path / "gate_overhead.json").read_text())
    assert saved == json.loads(json.dumps(results))
    entry = saved["models"][saved_model]
    stats = entry["threads_1"]
    assert list(stats) == list(RUNGS)
    assert stats["static"]["median_vs_static"] == 1.0
    assert all(s["images"] == 12 for s in stats.values())
    assert 0.0 < entry["flops_ratio"] < 1.2
    assert set(entry["top1"]) == {"masked_open", "dynamic_open", "dynamic"}
    # Every gate open: the same answers with or without conditionals.
    assert entry["top1"]["masked_open"] == entry["top1"]["dynamic_open"]
    with pytest.raises(ValueError, match="empty"):
        gate_overhead.run_benchmark([], cifar10_dir, 4, ["1"], str(tmp_path))
