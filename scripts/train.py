"""Thin wrapper of `lcnet-train` for running from a checkout."""

from lcnet_tf.cli.train import run

if __name__ == "__main__":
    run()
