package org.lcnet.tflite

import java.nio.ByteBuffer
import java.security.MessageDigest
import org.json.JSONException
import org.json.JSONObject

/** A staged export or its manifest does not fit this runner. */
class StagedManifestException(message: String) : IllegalArgumentException(message)

/** One residual block of a staged export, as the manifest describes it. */
data class StagedBlock(
    val name: String,
    val gate: String?,
    /** The stem or the previous block's bodies also return this gate's outputs. */
    val gateFused: Boolean = false,
    val body: String,
    val skippable: Boolean,
    val channelGated: Boolean,
    val alwaysFlops: Long,
    val bodyFlops: Long,
    /** Width bodies: the body signature of each width. */
    val widths: Map<Int, String> = emptyMap(),
    /** FLOPs of each width's body. */
    val bodyFlopsByWidth: Map<Int, Long> = emptyMap(),
    /** How the gate's channels pick a width: [NESTED] or [PREFIX]. */
    val channelSelection: String = NESTED,
    /** What a skipped block that changes shape runs: its projection. */
    val skip: String? = null,
) {
    companion object {
        /** A prefix of groups is kept: a body for every kept width. */
        const val NESTED = "nested"

        /** A free gate's reordered channels: the span of the kept ones. */
        const val PREFIX = "prefix"
    }
}

/**
 * The lcnet-tf staged manifest, format version 1 (tflite/README.md), as
 * written by `lcnet_tf.export.to_tflite(..., form="staged")`.
 *
 * Every check names the field and both values, so a manifest exported
 * for another model or by another version says what does not match.
 *
 * Example:
 * ```
 * val manifest = StagedManifest.parse(File("lc_staged.json").readText())
 * manifest.checkModel(modelBytes)
 * ```
 */
class StagedManifest private constructor(json: JSONObject) {
    val model: String
    val tflite: String
    val sha256: String
    val inputName: String
    val inputShape: IntArray
    val stem: String
    val head: String
    val numClasses: Int
    val outsideFlops: Long
    val staticFlops: Long
    val blocks: List<StagedBlock>

    init {
        val format = json.optString("format", "<missing>")
        if (format != FORMAT) {
            throw StagedManifestException(
                "Not an lcnet-tf staged manifest: field 'format' is " +
                    "'$format', expected '$FORMAT'"
            )
        }
        val version = json.opt("version")
        if (version != VERSION) {
            throw StagedManifestException(
                "Field 'version' is $version; this runner reads version $VERSION"
            )
        }
        model = field("model") { json.getString("model") }
        tflite = field("tflite") { json.getString("tflite") }
        sha256 = field("tflite_sha256") { json.getString("tflite_sha256") }
        val input = field("input") { json.getJSONObject("input") }
        inputName = field("input.name") { input.getString("name") }
        inputShape = field("input.shape") {
            val shape = input.getJSONArray("shape")
            IntArray(shape.length()) { shape.getInt(it) }
        }
        if (inputShape.size != 4 || inputShape[0] != 1) {
            throw StagedManifestException(
                "Field 'input.shape' is ${inputShape.contentToString()}; " +
                    "expected [1, height, width, channels]"
            )
        }
        val dtype = input.optString("dtype", "float32")
        if (dtype != "float32") {
            // uint8 stems (to_tflite(input="uint8")) would need byte inputs.
            throw StagedManifestException(
                "Field 'input.dtype' is '$dtype'; this runner feeds float32 " +
                    "images: export the staged form with input=\"float32\""
            )
        }
        stem = field("stem") { json.getString("stem") }
        head = field("head") { json.getString("head") }
        numClasses = field("num_classes") { json.getInt("num_classes") }
        val flops = field("flops") { json.getJSONObject("flops") }
        outsideFlops = field("flops.outside_blocks") {
            flops.getLong("outside_blocks")
        }
        staticFlops = field("flops.static") { flops.getLong("static") }
        val array = field("blocks") { json.getJSONArray("blocks") }
        blocks = (0 until array.length()).map { i ->
            val b = field("blocks[$i]") { array.getJSONObject(i) }
            fun <T> of(key: String, read: () -> T) = field("blocks[$i].$key", read)
            val blockFlops = of("flops") { b.getJSONObject("flops") }
            val widths = if (!b.has("widths")) emptyMap() else of("widths") {
                val w = b.getJSONObject("widths")
                w.keySet().associate { it.toInt() to w.getString(it) }
            }
            val selection = b.optString("channel_selection", StagedBlock.NESTED)
            if (selection != StagedBlock.NESTED && selection != StagedBlock.PREFIX) {
                throw StagedManifestException(
                    "Block '${b.optString("name")}' has channel_selection '$selection'; " +
                        "expected '${StagedBlock.NESTED}' or '${StagedBlock.PREFIX}'"
                )
            }
            if (widths.isNotEmpty()) {
                val channels = of("channels") { b.getInt("channels") }
                val sorted = widths.keys.sorted()
                val nested = selection == StagedBlock.NESTED
                if ((nested && sorted.first() != 0) || sorted.first() < 0 ||
                    sorted.last() != channels
                ) {
                    val needs = if (nested) "from 0 to" else "up to"
                    throw StagedManifestException(
                        "Block '${b.optString("name")}' has $channels channels but widths " +
                            "$sorted; a $selection block needs widths $needs its channels"
                    )
                }
            }
            val widthFlops = if (widths.isEmpty()) emptyMap() else of("flops.body_by_width") {
                val f = blockFlops.getJSONObject("body_by_width")
                widths.keys.associateWith { f.getLong(it.toString()) }
            }
            val skippable = of("skippable") { b.getBoolean("skippable") }
            val skip = if (!b.has("skip")) null else of("skip") { b.getString("skip") }
            if (skip != null && !skippable) {
                throw StagedManifestException(
                    "Block '${b.optString("name")}' has skip signature '$skip' but is " +
                        "not skippable; only a skippable block names one"
                )
            }
            StagedBlock(
                name = of("name") { b.getString("name") },
                gate = of("gate") { if (b.isNull("gate")) null else b.getString("gate") },
                gateFused = of("gate_fused") { b.optBoolean("gate_fused", false) },
                body = of("body") { b.getString("body") },
                skippable = skippable,
                channelGated = of("channel_gated") { b.getBoolean("channel_gated") },
                alwaysFlops = of("flops.always") { blockFlops.getLong("always") },
                bodyFlops = of("flops.body") { blockFlops.getLong("body") },
                widths = widths,
                bodyFlopsByWidth = widthFlops,
                channelSelection = selection,
                skip = skip,
            )
        }
    }

    /** Floats of one input image (height * width * channels). */
    val inputSize: Int
        get() = inputShape.drop(1).fold(1) { a, b -> a * b }

    /** Every signature the runner calls, in manifest order. */
    val signatures: List<String>
        get() = listOf(stem) +
            blocks.flatMap { listOfNotNull(it.gate, it.body, it.skip) + it.widths.values } +
            head

    /**
     * Checks that `model` is the `.tflite` this manifest was written for.
     *
     * @throws StagedManifestException naming both SHA-256 digests.
     */
    fun checkModel(model: ByteBuffer) {
        val digest = MessageDigest.getInstance("SHA-256")
        digest.update(model.duplicate())
        val actual = digest.digest().joinToString("") { "%02x".format(it) }
        if (actual != sha256) {
            throw StagedManifestException(
                "Field 'tflite_sha256' is $sha256 but model '$tflite' has " +
                    "SHA-256 $actual: export the manifest and the model together"
            )
        }
    }

    /**
     * Checks that a model offers every signature this manifest names.
     *
     * @throws StagedManifestException listing the missing ones, or the
     *     width signatures of a block that the manifest does not list.
     */
    fun checkSignatures(available: Set<String>) {
        val missing = signatures.filter { it !in available }
        if (missing.isNotEmpty()) {
            throw StagedManifestException(
                "The manifest names signatures $missing that model '$tflite' " +
                    "lacks (it has ${available.sorted()})"
            )
        }
        // A width body the manifest leaves out would never run: the model
        // and the manifest describe different gates.
        for (block in blocks) {
            val extra = available.filter {
                it.startsWith("${block.body}_w") && it !in block.widths.values
            }
            if (extra.isNotEmpty()) {
                throw StagedManifestException(
                    "Model '$tflite' has width signatures ${extra.sorted()} of block " +
                        "'${block.name}' that the manifest does not list"
                )
            }
        }
    }

    companion object {
        const val FORMAT = "lcnet-tf-staged"
        const val VERSION = 1

        /** Parses a manifest's JSON text; see the class for the checks. */
        fun parse(text: String): StagedManifest {
            val json = try {
                JSONObject(text)
            } catch (e: JSONException) {
                throw StagedManifestException("Manifest is not valid JSON: ${e.message}")
            }
            return StagedManifest(json)
        }

        private fun <T> field(name: String, read: () -> T): T = try {
            read()
        } catch (e: JSONException) {
            throw StagedManifestException("Manifest field '$name' is missing or invalid: ${e.message}")
        }
    }
}
