package org.lcnet.tflite

import java.nio.ByteBuffer
import java.security.MessageDigest
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class StagedManifestTest {
    private val json = Trace.load().manifestJson

    private fun edited(edit: (JSONObject) -> Unit): String =
        JSONObject(json.toString()).also(edit).toString()

    private fun refused(text: String): String =
        assertThrows<StagedManifestException> { StagedManifest.parse(text) }.message!!

    @Test
    fun `every field is read as the exporter wrote it`() {
        val manifest = StagedManifest.parse(json.toString())
        assertEquals(json.getString("model"), manifest.model)
        assertEquals(json.getString("tflite"), manifest.tflite)
        assertEquals(json.getString("tflite_sha256"), manifest.sha256)
        assertEquals("images", manifest.inputName)
        assertArrayEquals(intArrayOf(1, 32, 32, 3), manifest.inputShape)
        assertEquals(32 * 32 * 3, manifest.inputSize)
        assertEquals("stem", manifest.stem)
        assertEquals("head", manifest.head)
        assertEquals(10, manifest.numClasses)
        val flops = json.getJSONObject("flops")
        assertEquals(flops.getLong("outside_blocks"), manifest.outsideFlops)
        assertEquals(flops.getLong("static"), manifest.staticFlops)
        val blocks = json.getJSONArray("blocks")
        assertEquals(blocks.length(), manifest.blocks.size)
        for ((i, block) in manifest.blocks.withIndex()) {
            val b = blocks.getJSONObject(i)
            assertEquals(b.getString("name"), block.name)
            if (b.isNull("gate")) assertNull(block.gate) else assertEquals(b.getString("gate"), block.gate)
            assertEquals(b.getString("body"), block.body)
            assertEquals(b.getBoolean("skippable"), block.skippable)
            assertEquals(b.getBoolean("channel_gated"), block.channelGated)
            assertEquals(b.getJSONObject("flops").getLong("always"), block.alwaysFlops)
            assertEquals(b.getJSONObject("flops").getLong("body"), block.bodyFlops)
        }
        assertEquals("stem", manifest.signatures.first())
        assertEquals("head", manifest.signatures.last())
    }

    @Test
    fun `nested blocks list a body and its FLOPs per width`() {
        val nested = Trace.load("staged_trace_nested.json").manifestJson
        val manifest = StagedManifest.parse(nested.toString())
        val blocks = nested.getJSONArray("blocks")
        var seen = 0
        for ((i, block) in manifest.blocks.withIndex()) {
            val b = blocks.getJSONObject(i)
            if (!b.has("widths")) {
                assertTrue(block.widths.isEmpty())
                continue
            }
            seen++
            val widths = b.getJSONObject("widths")
            val flops = b.getJSONObject("flops").getJSONObject("body_by_width")
            assertEquals(widths.keySet().map { it.toInt() }.toSet(), block.widths.keys)
            for (key in widths.keySet()) {
                assertEquals(widths.getString(key), block.widths.getValue(key.toInt()))
                assertEquals(flops.getLong(key), block.bodyFlopsByWidth.getValue(key.toInt()))
            }
            assertTrue(block.widths.values.all { it in manifest.signatures })
            assertEquals(block.bodyFlops, block.bodyFlopsByWidth.getValue(block.widths.keys.max()))
        }
        assertEquals(manifest.blocks.size, seen)
        val broken = JSONObject(nested.toString())
        broken.getJSONArray("blocks").getJSONObject(2).getJSONObject("flops").remove("body_by_width")
        val message = refused(broken.toString())
        assertTrue("'blocks[2].flops.body_by_width'" in message, message)
    }

    @Test
    fun `nested widths the model does not have, or has unlisted, are named`() {
        val nested = Trace.load("staged_trace_nested.json").manifestJson
        val block = nested.getJSONArray("blocks").getJSONObject(2)
        val name = block.getString("name")
        val channels = block.getInt("channels")
        val wider = JSONObject(nested.toString())
        wider.getJSONArray("blocks").getJSONObject(2).getJSONObject("widths")
            .put((channels + 4).toString(), "x")
        val message = refused(wider.toString())
        assertTrue("'$name' has $channels channels but widths" in message, message)

        val manifest = StagedManifest.parse(nested.toString())
        val available = manifest.signatures.toSet()
        manifest.checkSignatures(available)
        val body = manifest.blocks[2].body
        val extra = assertThrows<StagedManifestException> {
            manifest.checkSignatures(available + "${body}_w999")
        }.message!!
        assertTrue("[${body}_w999] of block '$name'" in extra, extra)
        val missing = assertThrows<StagedManifestException> {
            manifest.checkSignatures(available - manifest.blocks[2].widths.getValue(0))
        }.message!!
        assertTrue(manifest.blocks[2].widths.getValue(0) in missing, missing)
    }

    @Test
    fun `prefix blocks may start at any width but end at their channels`() {
        val prefix = Trace.load("staged_trace_prefix.json").manifestJson
        val manifest = StagedManifest.parse(prefix.toString())
        val index = manifest.blocks.indexOfFirst { it.channelSelection == StagedBlock.PREFIX }
        assertTrue(index >= 0)
        val block = manifest.blocks[index]
        assertEquals(block.bodyFlops, block.bodyFlopsByWidth.getValue(block.widths.keys.max()))
        val channels = block.widths.keys.max()
        val short = JSONObject(prefix.toString())
        val b = short.getJSONArray("blocks").getJSONObject(index)
        b.getJSONObject("widths").remove(channels.toString())
        b.getJSONObject("flops").getJSONObject("body_by_width").remove(channels.toString())
        val message = refused(short.toString())
        assertTrue("'${block.name}' has $channels channels but widths" in message, message)
        assertTrue("a prefix block needs widths up to its channels" in message, message)
        val unknown = JSONObject(prefix.toString())
        unknown.getJSONArray("blocks").getJSONObject(index).put("channel_selection", "sorted")
        val selection = refused(unknown.toString())
        assertTrue("channel_selection 'sorted'" in selection, selection)
    }

    @Test
    fun `a skip signature belongs to a skippable block`() {
        val manifest = StagedManifest.parse(json.toString())
        val skippable = manifest.blocks.indexOfFirst { it.skippable }
        val fixed = manifest.blocks.indexOfFirst { !it.skippable }
        assertTrue(skippable >= 0 && fixed >= 0)
        val withSkip = StagedManifest.parse(
            edited { it.getJSONArray("blocks").getJSONObject(skippable).put("skip", "x_skip") }
        )
        assertEquals("x_skip", withSkip.blocks[skippable].skip)
        assertTrue("x_skip" in withSkip.signatures)
        assertTrue(manifest.blocks.all { it.skip == null })
        val message = refused(
            edited { it.getJSONArray("blocks").getJSONObject(fixed).put("skip", "x_skip") }
        )
        assertTrue("'${manifest.blocks[fixed].name}' has skip signature 'x_skip'" in message, message)
    }

    @Test
    fun `wrong format`() {
        val message = refused(edited { it.put("format", "keras") })
        assertTrue("'format' is 'keras', expected 'lcnet-tf-staged'" in message, message)
    }

    @Test
    fun `wrong version`() {
        val message = refused(edited { it.put("version", 2) })
        assertTrue("'version' is 2; this runner reads version 1" in message, message)
    }

    @Test
    fun `missing fields are named`() {
        assertTrue("'head'" in refused(edited { it.remove("head") }))
        val message = refused(edited { it.getJSONArray("blocks").getJSONObject(3).remove("body") })
        assertTrue("'blocks[3].body'" in message, message)
        val flops = refused(edited { it.getJSONObject("flops").remove("outside_blocks") })
        assertTrue("'flops.outside_blocks'" in flops, flops)
    }

    @Test
    fun `wrong input shape and bad JSON`() {
        val message = refused(edited { it.getJSONObject("input").put("shape", listOf(4, 32, 32, 3)) })
        assertTrue("'input.shape' is [4, 32, 32, 3]" in message, message)
        assertTrue("not valid JSON" in refused("{\"format\": "))
        val pixels = refused(edited { it.getJSONObject("input").put("dtype", "uint8") })
        assertTrue("'input.dtype' is 'uint8'" in pixels, pixels)
    }

    @Test
    fun `the model must have the recorded SHA-256`() {
        val model = "not the exported model".toByteArray()
        val manifest = StagedManifest.parse(json.toString())
        val error = assertThrows<StagedManifestException> { manifest.checkModel(ByteBuffer.wrap(model)) }
        val actual = MessageDigest.getInstance("SHA-256").digest(model).joinToString("") { "%02x".format(it) }
        assertTrue(manifest.sha256 in error.message!! && actual in error.message!!, error.message)
        val matching = StagedManifest.parse(edited { it.put("tflite_sha256", actual) })
        matching.checkModel(ByteBuffer.wrap(model))
    }
}
