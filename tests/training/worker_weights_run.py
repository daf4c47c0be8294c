"""One worker of a multi-worker run that also writes its final weights
(only the chief saves a model); `test_distributed_runs.py` compares them.

Usage: worker_weights_run.py '<TrainConfig fields as JSON>' weights.npz
"""

import json
import sys

import numpy as np

from lcnet_tf.training import TrainConfig
from lcnet_tf.training import train


def main(fields, out):
    model, _ = train(TrainConfig(**json.loads(fields)))
    np.savez(out, *model.get_weights())


if __name__ == "__main__":
    main(*sys.argv[1:])
