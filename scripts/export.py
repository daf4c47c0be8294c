"""Thin wrapper of `lcnet-export` for running from a checkout."""

from lcnet_tf.cli.export import run

if __name__ == "__main__":
    run()
