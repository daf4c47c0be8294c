package org.lcnet.tflite

import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate

/**
 * [SignatureRunner] over the LiteRT interpreter, on the GPU delegate when
 * the device supports it and on the CPU (XNNPACK) otherwise.
 *
 * @property onGpu whether the GPU delegate runs the model.
 * @property fallbackReason why the GPU was not used, or null.
 */
class LiteRtSignatures private constructor(
    private val interpreter: Interpreter,
    private val gpuDelegate: GpuDelegate?,
    val fallbackReason: String?,
) : SignatureRunner {
    val onGpu: Boolean
        get() = gpuDelegate != null

    override val signatureKeys: Set<String> = interpreter.signatureKeys.toSet()

    override fun run(
        signature: String,
        inputs: Map<String, FloatArray>,
    ): Map<String, FloatArray> {
        val outputs = interpreter.getSignatureOutputs(signature).associateWith { name ->
            val tensor = interpreter.getOutputTensorFromSignature(name, signature)
            ByteBuffer.allocateDirect(tensor.numBytes()).order(ByteOrder.nativeOrder())
        }
        interpreter.runSignature(inputs.mapValues { direct(it.value) }, outputs, signature)
        return outputs.mapValues { (_, buffer) ->
            buffer.rewind()
            val floats = buffer.asFloatBuffer()
            FloatArray(floats.remaining()).also { floats.get(it) }
        }
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    companion object {
        /**
         * Opens a checked model.
         *
         * @param model the `.tflite`, memory-mapped or read.
         * @param manifest its manifest: the model's SHA-256 must match.
         * @param useGpu try the GPU delegate first.
         * @param numThreads CPU threads when on the CPU.
         * @param log receives the reason when the GPU is not used.
         * @throws StagedManifestException when the model does not match.
         */
        fun open(
            model: ByteBuffer,
            manifest: StagedManifest,
            useGpu: Boolean = true,
            numThreads: Int = 2,
            log: (String) -> Unit = {},
        ): LiteRtSignatures {
            manifest.checkModel(model)
            var reason: String? = null
            if (useGpu) {
                val compatibility = CompatibilityList()
                try {
                    if (compatibility.isDelegateSupportedOnThisDevice) {
                        val delegate = GpuDelegate(compatibility.bestOptionsForThisDevice)
                        try {
                            val options = Interpreter.Options().addDelegate(delegate)
                            return LiteRtSignatures(Interpreter(model, options), delegate, null)
                        } catch (e: Exception) {
                            delegate.close()
                            throw e
                        }
                    }
                    reason = "the GPU delegate does not support this device"
                } catch (e: Exception) {
                    reason = "the GPU delegate failed to start: ${e.message}"
                } finally {
                    compatibility.close()
                }
                log("$reason; running on the CPU")
            }
            val options = Interpreter.Options().setNumThreads(numThreads)
            return LiteRtSignatures(Interpreter(model, options), null, reason)
        }

        private fun direct(values: FloatArray): ByteBuffer {
            val buffer = ByteBuffer.allocateDirect(values.size * 4).order(ByteOrder.nativeOrder())
            buffer.asFloatBuffer().put(values)
            return buffer
        }
    }
}
