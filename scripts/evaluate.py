"""Thin wrapper of `lcnet-evaluate` for running from a checkout."""

from lcnet_tf.cli.evaluate import run

if __name__ == "__main__":
    run()
