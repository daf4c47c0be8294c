package org.lcnet.tflite

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue

/**
 * Replays the Python runner's signature calls for one image.
 *
 * Each call must be the next recorded one (same signature), with the
 * same input names and sizes; small inputs must equal the recorded
 * values, the image must be the traced image, and every feature map must
 * be exactly the one this replay produced last (feature maps are
 * recorded by shape, so the replay hands out marker arrays and checks
 * they are passed on, unchanged, to the right signature).
 */
class ReplaySignatures(
    override val signatureKeys: Set<String>,
    private val traced: TracedImage,
) : SignatureRunner {
    val called = mutableListOf<String>()
    private var lastFeatures: FloatArray? = null

    override fun run(signature: String, inputs: Map<String, FloatArray>): Map<String, FloatArray> {
        val index = called.size
        assertTrue(index < traced.calls.size, "Call $index ($signature) beyond the trace")
        val expected = traced.calls[index]
        assertEquals(expected.signature, signature, "Call $index")
        called.add(signature)
        assertEquals(expected.inputs.keys, inputs.keys, "Inputs of $signature")
        for ((name, tensor) in expected.inputs) {
            val value = inputs.getValue(name)
            assertEquals(tensor.size, value.size, "Size of $signature/$name")
            when {
                tensor.data != null -> assertArrayEquals(tensor.data, value, "$signature/$name")
                name == "features" -> assertSame(lastFeatures, value, "$signature/$name")
                else -> assertArrayEquals(traced.image, value, "$signature/$name")
            }
        }
        return expected.outputs.mapValues { (name, tensor) ->
            tensor.data ?: FloatArray(tensor.size) { index + 0.5f }.also {
                assertEquals("features", name)
                lastFeatures = it
            }
        }
    }

    override fun close() {}
}
