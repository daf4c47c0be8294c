"""Command-line entry points (`lcnet-train`, `lcnet-evaluate`, ...).

Each is a thin absl main over library functions; `lcnet_tf._startup`
keeps TensorFlow's start-up lines out of their output.
"""
