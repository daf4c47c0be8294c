"""Thin wrapper of `lcnet-results` for running from a checkout."""

from lcnet_tf.cli.results import run

if __name__ == "__main__":
    run()
