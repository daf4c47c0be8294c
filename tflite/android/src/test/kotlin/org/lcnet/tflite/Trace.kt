package org.lcnet.tflite

import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.Base64
import org.json.JSONObject

/** One recorded tensor: its shape and, when small, its values. */
class TracedTensor(json: JSONObject) {
    val shape: List<Int> = json.getJSONArray("shape").let { a -> (0 until a.length()).map { a.getInt(it) } }
    val data: FloatArray? = if (json.has("data")) decode(json.getString("data")) else null
    val size: Int get() = shape.fold(1) { a, b -> a * b }
}

/** One signature call of the Python runner. */
class TracedCall(json: JSONObject) {
    val signature: String = json.getString("signature")
    val inputs: Map<String, TracedTensor> = tensors(json.getJSONObject("inputs"))
    val outputs: Map<String, TracedTensor> = tensors(json.getJSONObject("outputs"))
}

/** One image run by the Python runner, with what it decided. */
class TracedImage(json: JSONObject) {
    val image: FloatArray = decode(json.getString("image"))
    val calls: List<TracedCall> = json.getJSONArray("calls").let { a ->
        (0 until a.length()).map { TracedCall(a.getJSONObject(it)) }
    }
    val decisions: List<FloatArray> = json.getJSONArray("decisions").let { a ->
        (0 until a.length()).map { i ->
            val d = a.getJSONArray(i)
            FloatArray(d.length()) { d.getDouble(it).toFloat() }
        }
    }
    val flops: Long = json.getLong("flops")
    val logits: FloatArray = decode(json.getString("logits"))
}

/** The trace `scripts/android_fixture.py` records (staged_trace.json). */
class Trace(val json: JSONObject) {
    val manifestJson: JSONObject = json.getJSONObject("manifest")
    val images: List<TracedImage> = json.getJSONArray("images").let { a ->
        (0 until a.length()).map { TracedImage(a.getJSONObject(it)) }
    }

    companion object {
        /** The traces `scripts/android_fixture.py` writes. */
        val NAMES = listOf("staged_trace.json", "staged_trace_nested.json")

        fun load(name: String = NAMES[0]): Trace {
            val stream = Trace::class.java.getResourceAsStream("/$name")
                ?: error("$name is not on the test classpath")
            return Trace(JSONObject(stream.bufferedReader().use { it.readText() }))
        }
    }
}

private fun tensors(json: JSONObject): Map<String, TracedTensor> =
    json.keySet().associateWith { TracedTensor(json.getJSONObject(it)) }

/** Base64 of little-endian float32 bytes, as the Python side writes it. */
fun decode(text: String): FloatArray {
    val buffer = ByteBuffer.wrap(Base64.getDecoder().decode(text)).order(ByteOrder.LITTLE_ENDIAN)
    val floats = buffer.asFloatBuffer()
    return FloatArray(floats.remaining()).also { floats.get(it) }
}
