// Android library module: the staged-form runner for lcnet-tf. The core
// (src/main/kotlin) is also compiled and tested on the JVM by the Maven
// build beside this file (`make android-test`); the Android adapter
// (src/android/kotlin: assets, Log) is compiled here only.
plugins {
    id("com.android.library") version "8.5.2"
    id("org.jetbrains.kotlin.android") version "1.9.24"
}

// The LiteRT archives the Maven build compiles against: the same
// versions (tests/test_android_build.py fails if they drift).
val litertVersion = "2.16.1"
val litertGpuApiVersion = "2.14.0"

android {
    namespace = "org.lcnet.tflite"
    compileSdk = 34
    defaultConfig {
        minSdk = 24
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    sourceSets {
        getByName("main") {
            java.srcDirs("src/main/kotlin", "src/android/kotlin")
        }
    }
    // The .tflite and its manifest live in assets and must stay
    // uncompressed so the interpreter can memory-map them.
    androidResources {
        noCompress += "tflite"
    }
}

dependencies {
    implementation("org.tensorflow:tensorflow-lite:$litertVersion")
    implementation("org.tensorflow:tensorflow-lite-api:$litertVersion")
    implementation("org.tensorflow:tensorflow-lite-gpu:$litertVersion")
    implementation("org.tensorflow:tensorflow-lite-gpu-api:$litertGpuApiVersion")
}
