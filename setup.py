"""lcnet-tf: fully dynamic gated CNNs (L-Net, C-Net, LC-Net) for Keras 3.

TensorFlow itself is not a hard requirement so that users pick their
flavour (`tensorflow`, `tensorflow-cpu`, `tensorflow[and-cuda]`); the
extras `cpu` and `gpu` name one.
"""

from setuptools import find_packages
from setuptools import setup

setup(
    name="lcnet-tf",
    version="0.1.0",
    description=(
        "Fully dynamic inference for Keras 3: per-image layer and channel "
        "skipping (L-Net, C-Net, LC-Net) with exact FLOPs and TFLite export."
    ),
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["lcnet_tf", "lcnet_tf.*"]),
    install_requires=[
        "keras>=3.6",
        "numpy",
        "absl-py",
        "tensorflow-datasets",
        "importlib_resources",
        "tensorboard",
    ],
    extras_require={
        "cpu": ["tensorflow-cpu>=2.16"],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        "tflite": ["ai-edge-litert"],
        # Keras' JAX backend for the layers, models and model.fit.
        "jax": ["jax[cpu]"],
        "dev": [
            "jax[cpu]",
            "pytest",
            "pytest-xdist",
            "ruff",
            "matplotlib",
            "ai-edge-litert",
            "nbclient",
            "nbformat",
            "ipykernel",
        ],
    },
    entry_points={
        "console_scripts": [
            "lcnet-train=lcnet_tf.cli.train:run",
            "lcnet-evaluate=lcnet_tf.cli.evaluate:run",
            "lcnet-export=lcnet_tf.cli.export:run",
            "lcnet-experiments=lcnet_tf.cli.experiments:run",
            "lcnet-results=lcnet_tf.cli.results:run",
            "lcnet-demo=lcnet_tf.cli.demo:run",
        ]
    },
)
