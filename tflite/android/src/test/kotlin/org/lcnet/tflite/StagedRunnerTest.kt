package org.lcnet.tflite

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class StagedRunnerTest {
    private val trace = Trace.load()
    private val manifest = StagedManifest.parse(trace.manifestJson.toString())

    private fun runner(image: TracedImage, keys: Set<String> = manifest.signatures.toSet()) =
        ReplaySignatures(keys, image).let { it to StagedRunner(manifest, it) }

    @Test
    fun `follows the Python runner on every traced image`() {
        assertTrue(trace.images.size >= 16)
        for ((i, image) in trace.images.withIndex()) {
            val (replay, runner) = runner(image)
            val result = runner.run(image.image)
            assertEquals(image.calls.map { it.signature }, replay.called, "Calls of image $i")
            assertEquals(image.flops, result.flops, "FLOPs of image $i")
            assertArrayEquals(image.logits, result.logits, "Logits of image $i")
            assertEquals(image.decisions.size, result.decisions.size)
            for ((expected, actual) in image.decisions.zip(result.decisions)) {
                assertArrayEquals(expected, actual, 1e-6f, "Decisions of image $i")
            }
        }
    }

    @Test
    fun `the trace skips different blocks for different images`() {
        val routings = trace.images.map { image -> image.decisions.map { it[0] } }.toSet()
        assertTrue(routings.size > 1, "Every image took the same blocks")
        val skipped = trace.images.sumOf { image -> image.decisions.count { it[0] < 0.5f } }
        assertTrue(skipped > 0)
        // A skipped body is never called.
        for (image in trace.images) {
            val bodies = image.calls.count { it.signature.endsWith("_body") }
            val run = manifest.blocks.size - image.decisions.count { it[0] < 0.5f }
            assertEquals(run, bodies)
        }
    }

    @Test
    fun `bad images are refused by name`() {
        val image = trace.images[0]
        val (_, runner) = runner(image)
        val short = assertThrows<IllegalArgumentException> { runner.run(FloatArray(10)) }
        assertTrue("Expected ${manifest.inputSize} floats" in short.message!!, short.message)
        val nan = image.image.copyOf().also { it[5] = Float.NaN }
        val error = assertThrows<IllegalArgumentException> { runner.run(nan) }
        assertTrue("NaN" in error.message!!)
    }

    @Test
    fun `a model without a signature of the manifest is refused`() {
        val keys = manifest.signatures.toSet() - "block4_body"
        val error = assertThrows<StagedManifestException> { runner(trace.images[0], keys) }
        assertTrue("[block4_body]" in error.message!!, error.message)
    }
}
