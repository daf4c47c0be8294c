package org.lcnet.tflite

import java.io.Closeable

/** Logits, per-block decisions and the FLOPs that actually ran. */
class StagedResult(
    val logits: FloatArray,
    /** Per gated block: `[runs, share of channels kept * runs]`. */
    val decisions: List<FloatArray>,
    val flops: Long,
)

/**
 * Runs a staged lcnet-tf export: the host runs each block's gate and
 * skips the body when the block gate is closed. The same protocol as the
 * Python reference, `lcnet_tf.export.StagedRunner`: run `stem`; per
 * block, take its gate's outputs from the call that produced the
 * block's input (the stem and each body also run the next block's gate
 * heads, `gate_fused`), or run its gate signature when the block before
 * was skipped; skip the body when the block gate is closed (a block that
 * changes shape then runs its projection alone, the `skip` signature),
 * else run the body with the channel and block scales; run `head`. For a block
 * with width bodies (nested channel gates, or free ones exported with
 * `channel_chunks="prefix"`), the narrowest body that holds the last
 * kept channel runs (nothing is computed for the channels after it).
 * One image at a time.
 *
 * Example:
 * ```
 * val manifest = StagedManifest.parse(manifestText)
 * StagedRunner(manifest, LiteRtSignatures.open(model, manifest)).use {
 *     val result = it.run(normalisedPixels)  // 32 * 32 * 3 floats
 * }
 * ```
 *
 * @param manifest the export's manifest.
 * @param signatures runs the model's signatures; closed with the runner.
 * @throws StagedManifestException when the model lacks a signature.
 */
class StagedRunner(
    val manifest: StagedManifest,
    private val signatures: SignatureRunner,
) : Closeable {
    init {
        manifest.checkSignatures(signatures.signatureKeys)
    }

    /**
     * Runs one normalised image (`(pixel / 255 - mean) / std` per channel,
     * as in training), `height * width * channels` floats in NHWC order.
     *
     * @throws IllegalArgumentException on a wrong size or a NaN.
     */
    fun run(image: FloatArray): StagedResult {
        require(image.size == manifest.inputSize) {
            "Expected ${manifest.inputSize} floats " +
                "(input shape ${manifest.inputShape.contentToString()}), " +
                "got ${image.size}"
        }
        require(image.none { it.isNaN() }) { "The image contains NaN" }
        var stage: Map<String, FloatArray>? =
            signatures.run(manifest.stem, mapOf(manifest.inputName to image))
        var x = stage!!.need(manifest.stem, "features")
        var flops = manifest.outsideFlops
        val decisions = mutableListOf<FloatArray>()
        for (block in manifest.blocks) {
            val inputs = mutableMapOf("features" to x)
            var runs = 1f
            var kept = 1f
            var body = block.body
            var bodyFlops = block.bodyFlops
            // The call that produced `x` also ran this gate (gate_fused);
            // after a skipped block, `x` is older: run the gate alone.
            val fused = if (block.gateFused) nextGate(stage) else null
            stage = null
            if (block.gate != null) {
                val gate = fused ?: signatures.run(block.gate, mapOf("features" to x))
                if (block.channelGated) {
                    inputs["channel_scale"] = gate.need(block.gate, "channel_scale")
                    val keep = gate.need(block.gate, "channel_keep")
                    kept = keep.average().toFloat()
                    if (block.widths.isNotEmpty()) {
                        val width = bodyWidth(block, keep)
                        body = block.widths.getValue(width)
                        bodyFlops = block.bodyFlopsByWidth.getValue(width)
                    }
                }
                if (block.skippable) {
                    runs = gate.need(block.gate, "run")[0]
                    inputs["block_scale"] = gate.need(block.gate, "block_scale")
                }
                decisions.add(floatArrayOf(runs, kept * runs))
            }
            flops += block.alwaysFlops
            if (runs > 0.5f) {
                stage = signatures.run(body, inputs)
                x = stage.need(body, "features")
                flops += bodyFlops
            } else if (block.skip != null) {
                // The projection's FLOPs are in alwaysFlops.
                stage = signatures.run(block.skip, mapOf("features" to x))
                x = stage.need(block.skip, "features")
            }
        }
        val logits = output(manifest.head, mapOf("features" to x), "logits")
        return StagedResult(logits, decisions, flops)
    }

    /**
     * The narrowest width body that holds the last kept channel: for a
     * nested gate exactly the kept width, for a reordered free gate
     * (`channel_selection` "prefix") the kept channels' span, the closed
     * ones inside it masked by their zero scale.
     */
    private fun bodyWidth(block: StagedBlock, keep: FloatArray): Int {
        val needed = keep.indexOfLast { it > 0.5f } + 1
        val widths = block.widths.keys.sorted()
        if (block.channelSelection == StagedBlock.NESTED && needed !in block.widths) {
            throw StagedManifestException(
                "Block '${block.name}' kept $needed channels but has bodies of widths $widths"
            )
        }
        return widths.firstOrNull { it >= needed } ?: throw StagedManifestException(
            "Block '${block.name}' kept channel ${needed - 1} but has bodies of widths $widths"
        )
    }

    private fun output(
        signature: String,
        inputs: Map<String, FloatArray>,
        name: String,
    ): FloatArray = signatures.run(signature, inputs).need(signature, name)

    /** The next block's gate outputs a stage returned (`next_...`), or null. */
    private fun nextGate(stage: Map<String, FloatArray>?): Map<String, FloatArray>? {
        val gate = stage.orEmpty()
            .filterKeys { it.startsWith(NEXT) }
            .mapKeys { it.key.removePrefix(NEXT) }
        return gate.ifEmpty { null }
    }

    private fun Map<String, FloatArray>.need(signature: String, name: String) =
        this[name] ?: throw StagedManifestException(
            "Signature '$signature' has no output '$name' (it has ${keys.sorted()})"
        )

    override fun close() = signatures.close()

    private companion object {
        const val NEXT = "next_"
    }
}
