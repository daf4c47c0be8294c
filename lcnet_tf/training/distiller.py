"""Knowledge distillation of a gated network from its static teacher."""

import keras


@keras.saving.register_keras_serializable(package="lcnet_tf")
class GatedDistiller(keras.distillation.Distiller):
    """`keras.distillation.Distiller` that keeps a gated student's budget.

    Keras' `Distiller` combines the label loss and the distillation loss
    but drops the losses the student adds itself, and hides the metrics
    of its layers. A gated student adds its FLOPs budget loss with
    `add_loss` and reports `flops_ratio` / `keep_<block>` from its
    `FlopsBudget` layer, so without both the gates would never be pushed
    toward the budget and the logs would not show it. This subclass adds
    the student's own losses to the total and lists its layer metrics.

    The natural teacher is the static network the student was initialised
    from (`init_from_static`): the gated model starts equal to it, and
    distillation pulls the pruned sub-networks toward its predictions.

    Args:
        teacher: a trained `keras.Model` (frozen).
        student: the gated `keras.Model` to train.
        temperature: float > 0. Softmax temperature of the logits loss.
        distillation_weight: float in [0, 1]. Weight of the distillation
            loss; the label loss gets `1 - distillation_weight`. The
            budget loss is added on top, unweighted.
        **kwargs: passed to `keras.distillation.Distiller`.

    Example:

    ```python
    student = cifar_resnet(20, gating="lc", budget_target=0.3)
    init_from_static(student, "static.keras")
    distiller = GatedDistiller(
        keras.saving.load_model("static.keras"), student
    )
    distiller.compile("sgd", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    distiller.fit(train_ds, epochs=3)
    distiller.student.save("lc.keras")
    ```
    """

    def __init__(
        self,
        teacher,
        student,
        temperature=4.0,
        distillation_weight=0.5,
        **kwargs,
    ):
        # `LogitsDistillation` checks the temperature; the weight is
        # checked here so the error names this argument, not Keras'
        # `student_loss_weight`.
        if not 0.0 <= distillation_weight <= 1.0:
            raise ValueError(
                "`distillation_weight` must be in [0, 1]. Received: "
                f"{distillation_weight}"
            )
        # Set from the two arguments above (also when `from_config` hands
        # back what `Distiller.get_config` wrote).
        for key in (
            "distillation_losses",
            "distillation_loss_weights",
            "student_loss_weight",
        ):
            kwargs.pop(key, None)
        super().__init__(
            teacher=teacher,
            student=student,
            # A loss instance, not the default "kl_divergence" string: in
            # Keras 3.15 the string becomes a plain function, which
            # `LogitsDistillation` applies to the scaled logits instead
            # of to their softmax (and without the T^2 factor).
            distillation_losses=keras.distillation.LogitsDistillation(
                temperature=temperature, loss=keras.losses.KLDivergence()
            ),
            student_loss_weight=1.0 - distillation_weight,
            **kwargs,
        )
        self.temperature = temperature
        self.distillation_weight = distillation_weight

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if y_pred is None:
            y_pred = self(x, training=training)
        loss = super().compute_loss(
            x=x,
            y=y,
            y_pred=y_pred,
            sample_weight=sample_weight,
            training=training,
        )
        # The forward pass above ran the student, which refilled its
        # `losses` (the budget loss) for this batch.
        own = self.student.losses
        if own:
            loss = keras.ops.add(loss, keras.ops.sum(keras.ops.stack(own)))
        return loss

    @property
    def metrics(self):
        metrics = list(super().metrics)
        for layer in self.student.layers:
            for metric in layer.metrics:
                if not any(metric is m for m in metrics):
                    metrics.append(metric)
        return metrics

    def get_config(self):
        config = super().get_config()
        config.update(
            temperature=self.temperature,
            distillation_weight=self.distillation_weight,
        )
        return config
