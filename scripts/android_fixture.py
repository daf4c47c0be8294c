"""Writes the Android runner's trace fixture from a published model.

python scripts/android_fixture.py --data_dir=../shared/data/cifar10
"""

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "model",
    "pretrained/lc_resnet20_t30_e10_cifar10.keras",
    "Published gated model to export (staged) and trace.",
)
flags.DEFINE_string("data_dir", None, "CIFAR-10 binary folder.", required=True)
flags.DEFINE_string(
    "output",
    "tflite/android/src/test/resources/staged_trace.json",
    "Trace file the Kotlin tests read.",
)
flags.DEFINE_integer("num_images", 16, "CIFAR-10 test images traced.")
flags.DEFINE_string(
    "nested_output",
    "tflite/android/src/test/resources/staged_trace_nested.json",
    "Trace of a nested-channel model (width bodies); empty: skip.",
)
flags.DEFINE_string(
    "prefix_model",
    "pretrained/lc_resnet20_t30_e10_r5_cifar10.keras",
    "Published free-channel model exported as a prefix (width bodies).",
)
flags.DEFINE_string(
    "prefix_output",
    "tflite/android/src/test/resources/staged_trace_prefix.json",
    "Trace of --prefix_model, channel_chunks='prefix'; empty: skip.",
)
flags.DEFINE_string(
    "projection_model",
    "pretrained/lc_resnet20_t30_e10_r5_proj_cifar10.keras",
    "Published model whose projection blocks are gated too.",
)
flags.DEFINE_string(
    "projection_output",
    "tflite/android/src/test/resources/staged_trace_projection.json",
    "Trace of --projection_model (skip signatures); empty: skip.",
)
flags.DEFINE_string(
    "static_model",
    "pretrained/resnet20_static_cifar10.keras",
    "Static ResNet-20 the nested fixture model starts from.",
)


def main(argv):
    del argv
    from lcnet_tf.export.android_fixture import nested_fixture_model
    from lcnet_tf.export.android_fixture import write_android_fixture

    # (output, model file, write_android_fixture options); an empty
    # output skips that trace.
    plan = [
        (FLAGS.output, FLAGS.model, {}),
        (
            FLAGS.nested_output,
            FLAGS.static_model,
            {"model": nested_fixture_model(FLAGS.static_model)}
            if FLAGS.nested_output
            else {},
        ),
        (FLAGS.prefix_output, FLAGS.prefix_model, {"prefix": True}),
        (FLAGS.projection_output, FLAGS.projection_model, {}),
    ]
    traces = {
        output: write_android_fixture(
            model, FLAGS.data_dir, output, FLAGS.num_images, **options
        )
        for output, model, options in plan
        if output
    }
    for path, trace in traces.items():
        images = trace["images"]
        skipped = sum(1 for i in images for d in i["decisions"] if d[0] < 1)
        widths = {
            call["signature"]
            for i in images
            for call in i["calls"]
            if "_body_w" in call["signature"]
        }
        projections = sum(
            1
            for i in images
            for call in i["calls"]
            if call["signature"].endswith("_skip")
        )
        print(
            f"Wrote {path}: {len(images)} images, "
            f"{len(trace['manifest']['blocks'])} blocks, {skipped} bodies "
            f"skipped, {len(widths)} width bodies called, {projections} "
            f"projections of skipped blocks run."
        )


if __name__ == "__main__":
    app.run(main)
