package org.lcnet.tflite

import java.io.Closeable

/**
 * Runs the named signatures of one `.tflite` model.
 *
 * [LiteRtSignatures] runs them with the LiteRT interpreter; tests replay
 * the signature outputs the Python runner recorded, so the staged
 * protocol is checked without a device.
 */
interface SignatureRunner : Closeable {
    /** The signature keys the model offers. */
    val signatureKeys: Set<String>

    /**
     * Runs one signature.
     *
     * @param signature the signature key.
     * @param inputs flat float inputs by input name (batch 1, NHWC).
     * @return flat float outputs by output name.
     */
    fun run(signature: String, inputs: Map<String, FloatArray>): Map<String, FloatArray>
}
