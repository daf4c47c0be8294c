package org.lcnet.tflite

import android.content.Context
import android.util.Log
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import java.security.MessageDigest
import org.json.JSONObject
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate

/** One residual block of a staged export, as the manifest describes it. */
data class StagedBlock(
    val name: String,
    val gate: String?,
    val body: String,
    val skippable: Boolean,
    val channelGated: Boolean,
    val alwaysFlops: Long,
    val bodyFlops: Long,
)

/** The lcnet-tf staged manifest, format version 1 (tflite/README.md). */
class StagedManifest(json: JSONObject) {
    val tflite: String
    val sha256: String
    val inputShape: IntArray
    val stem: String
    val head: String
    val numClasses: Int
    val outsideFlops: Long
    val blocks: List<StagedBlock>

    init {
        require(json.optString("format") == "lcnet-tf-staged") {
            "Not an lcnet-tf staged manifest (format=${json.optString("format")})"
        }
        require(json.optInt("version") == 1) {
            "Manifest version ${json.optInt("version")}; this runner reads 1"
        }
        tflite = json.getString("tflite")
        sha256 = json.getString("tflite_sha256")
        val shape = json.getJSONObject("input").getJSONArray("shape")
        inputShape = IntArray(shape.length()) { shape.getInt(it) }
        stem = json.getString("stem")
        head = json.getString("head")
        numClasses = json.getInt("num_classes")
        outsideFlops = json.getJSONObject("flops").getLong("outside_blocks")
        val array = json.getJSONArray("blocks")
        blocks = (0 until array.length()).map { i ->
            val b = array.getJSONObject(i)
            val flops = b.getJSONObject("flops")
            StagedBlock(
                name = b.getString("name"),
                gate = if (b.isNull("gate")) null else b.getString("gate"),
                body = b.getString("body"),
                skippable = b.getBoolean("skippable"),
                channelGated = b.getBoolean("channel_gated"),
                alwaysFlops = flops.getLong("always"),
                bodyFlops = flops.getLong("body"),
            )
        }
    }
}

/** Logits, per-block decisions and the FLOPs that actually ran. */
class StagedResult(
    val logits: FloatArray,
    val decisions: List<FloatArray>,
    val flops: Long,
)

/**
 * Runs a staged lcnet-tf export: the host runs each block's gate and
 * skips the body when the block gate is closed. Follows the same protocol
 * as the Python reference, `lcnet_tf.export.StagedRunner`.
 *
 * The GPU delegate is used when the device supports it; otherwise the
 * runner logs the reason and runs on the CPU (XNNPACK). `onGpu` says which.
 *
 * Example:
 * ```
 * StagedRunner(context, "lc_resnet20_staged.json").use { runner ->
 *     val result = runner.run(normalisedPixels)  // 32 * 32 * 3 floats
 * }
 * ```
 */
class StagedRunner(
    context: Context,
    manifestAsset: String,
    useGpu: Boolean = true,
    numThreads: Int = 2,
) : Closeable {
    val manifest: StagedManifest
    val onGpu: Boolean
    var fallbackReason: String? = null
        private set
    private val interpreter: Interpreter
    private var gpuDelegate: GpuDelegate? = null

    init {
        val text = context.assets.open(manifestAsset).bufferedReader().use {
            it.readText()
        }
        manifest = StagedManifest(JSONObject(text))
        val model = mapAsset(context, manifest.tflite)
        require(sha256(model) == manifest.sha256) {
            "Manifest $manifestAsset does not match ${manifest.tflite} " +
                "(SHA-256 differs): export them together"
        }
        var interp: Interpreter? = null
        if (useGpu) {
            val compatibility = CompatibilityList()
            if (compatibility.isDelegateSupportedOnThisDevice) {
                try {
                    val delegate = GpuDelegate(
                        compatibility.bestOptionsForThisDevice
                    )
                    interp = Interpreter(
                        model, Interpreter.Options().addDelegate(delegate)
                    )
                    gpuDelegate = delegate
                } catch (e: Exception) {
                    fallbackReason = "GPU delegate failed: ${e.message}"
                }
            } else {
                fallbackReason = "GPU delegate not supported on this device"
            }
        }
        if (interp == null) {
            if (useGpu) Log.w(TAG, "$fallbackReason; running on the CPU")
            interp = Interpreter(
                model, Interpreter.Options().setNumThreads(numThreads)
            )
        }
        interpreter = interp
        onGpu = gpuDelegate != null
        checkSignatures()
    }

    private fun checkSignatures() {
        val available = interpreter.signatureKeys.toSet()
        val wanted = mutableListOf(manifest.stem, manifest.head)
        manifest.blocks.forEach { b ->
            b.gate?.let { wanted.add(it) }
            wanted.add(b.body)
        }
        val missing = wanted.filter { it !in available }
        require(missing.isEmpty()) {
            "Manifest names signatures $missing that the model lacks"
        }
    }

    /** Runs one normalised image (H * W * C floats, NHWC order). */
    fun run(image: FloatArray): StagedResult {
        val expected = manifest.inputShape.drop(1).fold(1) { a, b -> a * b }
        require(image.size == expected) {
            "Expected $expected floats ${manifest.inputShape.contentToString()}, got ${image.size}"
        }
        var x = call(manifest.stem, mapOf("images" to floats(image)))["features"]!!
        var flops = manifest.outsideFlops
        val decisions = mutableListOf<FloatArray>()
        for (block in manifest.blocks) {
            val inputs = mutableMapOf<String, Any>("features" to x)
            var runs = 1f
            var kept = 1f
            if (block.gate != null) {
                val gate = call(block.gate, mapOf("features" to x))
                if (block.channelGated) {
                    inputs["channel_scale"] = gate.getValue("channel_scale")
                    kept = mean(gate.getValue("channel_keep"))
                }
                if (block.skippable) {
                    runs = gate.getValue("run").getFloat(0)
                    inputs["block_scale"] = gate.getValue("block_scale")
                }
                decisions.add(floatArrayOf(runs, kept * runs))
            }
            flops += block.alwaysFlops
            if (runs > 0.5f) {
                x = call(block.body, inputs)["features"]!!
                flops += block.bodyFlops
            }
        }
        val logits = call(manifest.head, mapOf("features" to x))["logits"]!!
        return StagedResult(toArray(logits), decisions, flops)
    }

    private fun call(signature: String, inputs: Map<String, Any>): Map<String, ByteBuffer> {
        val outputs = interpreter.getSignatureOutputs(signature).associateWith { name ->
            val tensor = interpreter.getOutputTensorFromSignature(name, signature)
            ByteBuffer.allocateDirect(tensor.numBytes()).order(ByteOrder.nativeOrder())
        }
        inputs.values.forEach { (it as? ByteBuffer)?.rewind() }
        interpreter.runSignature(inputs, outputs, signature)
        outputs.values.forEach { it.rewind() }
        return outputs
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    private companion object {
        const val TAG = "LcnetStagedRunner"

        fun mapAsset(context: Context, name: String): MappedByteBuffer {
            context.assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).channel.use { channel ->
                    return channel.map(
                        FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength
                    )
                }
            }
        }

        fun sha256(buffer: ByteBuffer): String {
            val digest = MessageDigest.getInstance("SHA-256")
            digest.update(buffer.duplicate())
            return digest.digest().joinToString("") { "%02x".format(it) }
        }

        fun floats(values: FloatArray): ByteBuffer {
            val buffer = ByteBuffer.allocateDirect(values.size * 4)
                .order(ByteOrder.nativeOrder())
            buffer.asFloatBuffer().put(values)
            return buffer
        }

        fun toArray(buffer: ByteBuffer): FloatArray {
            val floats = buffer.asFloatBuffer()
            return FloatArray(floats.remaining()).also { floats.get(it) }
        }

        fun mean(buffer: ByteBuffer): Float = toArray(buffer).average().toFloat()
    }
}
