"""Thin wrapper of `lcnet-experiments` for running from a checkout."""

from lcnet_tf.cli.experiments import run

if __name__ == "__main__":
    run()
