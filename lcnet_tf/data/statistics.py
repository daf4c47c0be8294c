"""Per-channel pixel statistics of the datasets ([0, 1] pixels).

Kept apart from the pipelines (which need TensorFlow's tf.data) so that
the models' preprocessing layers use them on any Keras backend.
"""

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
