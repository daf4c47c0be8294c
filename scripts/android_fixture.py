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


def main(argv):
    del argv
    from lcnet_tf.export.android_fixture import write_android_fixture

    trace = write_android_fixture(
        FLAGS.model, FLAGS.data_dir, FLAGS.output, FLAGS.num_images
    )
    skipped = sum(
        1 for image in trace["images"] for d in image["decisions"] if d[0] < 1
    )
    print(
        f"Wrote {FLAGS.output}: {len(trace['images'])} images, "
        f"{len(trace['manifest']['blocks'])} blocks, {skipped} bodies skipped."
    )


if __name__ == "__main__":
    app.run(main)
