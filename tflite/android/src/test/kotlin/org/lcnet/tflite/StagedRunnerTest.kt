package org.lcnet.tflite

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

class StagedRunnerTest {
    private fun runner(trace: Trace, image: TracedImage, keys: Set<String>? = null): Pair<ReplaySignatures, StagedRunner> {
        val manifest = StagedManifest.parse(trace.manifestJson.toString())
        val replay = ReplaySignatures(keys ?: manifest.signatures.toSet(), image)
        return replay to StagedRunner(manifest, replay)
    }

    @ParameterizedTest
    @ValueSource(
        strings = [
            "staged_trace.json", "staged_trace_nested.json", "staged_trace_prefix.json",
            "staged_trace_projection.json",
        ]
    )
    fun `follows the Python runner on every traced image`(name: String) {
        val trace = Trace.load(name)
        assertTrue(trace.images.size >= 16)
        for ((i, image) in trace.images.withIndex()) {
            val (replay, runner) = runner(trace, image)
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

    @ParameterizedTest
    @ValueSource(
        strings = [
            "staged_trace.json", "staged_trace_nested.json", "staged_trace_prefix.json",
            "staged_trace_projection.json",
        ]
    )
    fun `the traces skip different blocks for different images`(name: String) {
        val trace = Trace.load(name)
        val manifest = StagedManifest.parse(trace.manifestJson.toString())
        val routings = trace.images.map { image -> image.decisions.map { it[0] } }.toSet()
        assertTrue(routings.size > 1, "Every image took the same blocks")
        // A skipped body is never called.
        for (image in trace.images) {
            val bodies = image.calls.count { "_body" in it.signature }
            val run = manifest.blocks.size - image.decisions.count { it[0] < 0.5f }
            assertEquals(run, bodies)
        }
    }

    @Test
    fun `nested channels run bodies of several widths, never the masked one`() {
        val trace = Trace.load("staged_trace_nested.json")
        val calls = trace.images.flatMap { image -> image.calls.map { it.signature } }
        val widths = calls.filter { "_body_w" in it }.toSet()
        assertTrue(widths.size >= 3, "Widths called: $widths")
        val manifest = StagedManifest.parse(trace.manifestJson.toString())
        val nested = manifest.blocks.filter { it.widths.isNotEmpty() }.map { it.body }.toSet()
        assertTrue(nested.isNotEmpty())
        assertTrue(calls.none { it in nested }, "A masked body of a nested block ran")
    }

    @Test
    fun `free gates as a prefix run the body that holds the last kept channel`() {
        val trace = Trace.load("staged_trace_prefix.json")
        val manifest = StagedManifest.parse(trace.manifestJson.toString())
        val prefix = manifest.blocks.filter { it.channelSelection == StagedBlock.PREFIX }
        assertTrue(prefix.isNotEmpty())
        val calls = trace.images.flatMap { image -> image.calls.map { it.signature } }
        assertTrue(calls.none { it in prefix.map { b -> b.body } }, "A masked body of a prefix block ran")
        val widths = calls.filter { "_body_w" in it }.toSet()
        assertTrue(widths.size >= 3, "Widths called: $widths")
        // A prefix block runs the span of its kept channels, which may
        // hold closed ones: wider than the count it keeps.
        val gated = manifest.blocks.filter { it.gate != null }
        var wider = false
        for (image in trace.images) {
            val called = image.calls.map { it.signature }
            for ((j, block) in gated.withIndex()) {
                if (block.channelSelection != StagedBlock.PREFIX) continue
                val body = called.firstOrNull { it.startsWith("${block.body}_w") } ?: continue
                val kept = image.decisions[j][1] * block.widths.keys.max()
                if (body.substringAfterLast("_w").toInt() > kept + 0.5f) wider = true
            }
        }
        assertTrue(wider, "No prefix block ran wider than its kept channels")
    }

    @Test
    fun `a skipped projection block runs its projection, an open one its body`() {
        val trace = Trace.load("staged_trace_projection.json")
        val manifest = StagedManifest.parse(trace.manifestJson.toString())
        val gated = manifest.blocks.filter { it.gate != null }
        val projections = gated.withIndex().filter { it.value.skip != null }
        assertEquals(2, projections.size)
        var skipped = 0
        for (image in trace.images) {
            val called = image.calls.map { it.signature }
            for ((j, block) in projections) {
                val runs = image.decisions[j][0] > 0.5f
                assertEquals(runs, block.body in called)
                assertEquals(!runs, block.skip in called)
                if (!runs) skipped++
            }
        }
        assertTrue(skipped > 0, "No traced image skipped a projection block")
    }

    @Test
    fun `bad images are refused by name`() {
        val trace = Trace.load()
        val image = trace.images[0]
        val (_, runner) = runner(trace, image)
        val size = runner.manifest.inputSize
        val short = assertThrows<IllegalArgumentException> { runner.run(FloatArray(10)) }
        assertTrue("Expected $size floats" in short.message!!, short.message)
        val nan = image.image.copyOf().also { it[5] = Float.NaN }
        val error = assertThrows<IllegalArgumentException> { runner.run(nan) }
        assertTrue("NaN" in error.message!!)
    }

    @Test
    fun `a model without a signature of the manifest is refused`() {
        val trace = Trace.load()
        val manifest = StagedManifest.parse(trace.manifestJson.toString())
        val keys = manifest.signatures.toSet() - "block4_body"
        val error = assertThrows<StagedManifestException> { runner(trace, trace.images[0], keys) }
        assertTrue("[block4_body]" in error.message!!, error.message)
    }
}
