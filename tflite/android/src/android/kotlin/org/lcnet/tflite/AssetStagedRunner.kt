package org.lcnet.tflite

import android.content.Context
import android.util.Log
import java.io.FileInputStream
import java.nio.channels.FileChannel

private const val TAG = "LcnetStagedRunner"

/**
 * Opens a staged export from an app's assets: the manifest, and the
 * `.tflite` it names memory-mapped (keep it uncompressed:
 * `noCompress += "tflite"`). The only Android-specific part of the
 * runner; the rest runs and is tested on the JVM.
 *
 * Example:
 * ```
 * openStagedRunner(context, "lc_resnet20_staged.json").use { runner ->
 *     val result = runner.run(normalisedPixels)
 * }
 * ```
 */
fun openStagedRunner(
    context: Context,
    manifestAsset: String,
    useGpu: Boolean = true,
    numThreads: Int = 2,
): StagedRunner {
    val text = context.assets.open(manifestAsset).bufferedReader().use { it.readText() }
    val manifest = StagedManifest.parse(text)
    val model = context.assets.openFd(manifest.tflite).use { fd ->
        FileInputStream(fd.fileDescriptor).channel.use { channel ->
            channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
        }
    }
    val signatures = LiteRtSignatures.open(model, manifest, useGpu, numThreads) {
        Log.w(TAG, it)
    }
    return StagedRunner(manifest, signatures)
}
