"""Runs exports with LiteRT.js on WebGPU in headless Chromium.

The driver lives in `tflite/web/` (Node: `@litertjs/core` and
`playwright-core`, installed by `npm ci` there). This module writes a case
folder (the `.tflite` files, the inputs as raw float32 and a
`case.json`), runs the driver and returns what the page computed plus
everything it logged, so a test can assert that a model ran entirely on
the GPU (no "not supported" report) and equals Keras.
"""

import json
import os
import shutil
import subprocess

import numpy as np

WEB_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    "tflite",
    "web",
)


def browser_available(web_dir=WEB_DIR):
    """Whether node, Chromium and the driver's npm packages are present."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    return (
        shutil.which("node") is not None
        and os.path.exists(chromium)
        and os.path.isdir(os.path.join(web_dir, "node_modules", "@litertjs"))
    )


def run_in_browser(case_dir, models, timeout=300, web_dir=WEB_DIR, jspi=False):
    """Runs signatures of `.tflite` models with LiteRT.js on WebGPU.

    Args:
        case_dir: str. An empty folder for the case files.
        models: list of `(tflite_path, runs)`; runs is a list of
            `(signature, {input_name: float array})`.
        timeout: int. Seconds for the whole page.
        web_dir: str. The driver folder.
        jspi: bool. Load LiteRT.js's JSPI build, which can split a model
            between WebGPU and Wasm (needed to run a model the GPU
            delegate takes only partly).

    Returns:
        dict: `ok`, `results` (per model, per run: output name -> flat
        float list), `console` (every line the page logged) and
        `adapter` (the WebGPU adapter's description).
    """
    os.makedirs(case_dir, exist_ok=True)
    spec = {"jspi": bool(jspi), "models": []}
    for m, (path, runs) in enumerate(models):
        name = f"model{m}.tflite"
        shutil.copyfile(path, os.path.join(case_dir, name))
        entry = {"url": f"/case/{name}", "runs": []}
        for r, (signature, inputs) in enumerate(runs):
            run = {"signature": signature, "inputs": {}}
            for key, value in inputs.items():
                value = np.ascontiguousarray(value, np.float32)
                file = f"m{m}_r{r}_{key}.bin"
                value.tofile(os.path.join(case_dir, file))
                run["inputs"][key] = {
                    "url": f"/case/{file}",
                    "shape": list(value.shape),
                }
            entry["runs"].append(run)
        spec["models"].append(entry)
    with open(os.path.join(case_dir, "case.json"), "w") as f:
        json.dump(spec, f)
    return _drive(case_dir, timeout, web_dir)


def run_staged_in_browser(
    case_dir,
    variants,
    images,
    warmup=3,
    rounds=5,
    accelerator="webgpu",
    timeout=600,
    web_dir=WEB_DIR,
):
    """Runs staged models with LiteRT.js's host loop, taking turns.

    `tflite/web/staged_runner.js` follows each manifest (the protocol of
    `StagedRunner`), the features kept in the accelerator's buffers; the
    page times every image of every variant, the images split into
    `rounds` slices that the variants take in turn (as
    `latency.measure_interleaved` does).

    Args:
        case_dir: str. An empty folder for the case files.
        variants: dict name -> staged manifest path (its model beside it).
        images: float array `(n, H, W, C)`, normalised.
        warmup: int. Untimed images at the start of every turn.
        rounds: int. Turns per variant.
        accelerator: str. `"webgpu"`, or `"wasm"` for LiteRT.js's CPU.
        timeout: int. Seconds for the whole page.
        web_dir: str. The driver folder.

    Raises:
        ValueError: the images are not what the manifests take (the page
            reports a manifest it refuses in `error`).

    Returns:
        dict: `ok` (else `error`), `variants` (per name: `times_ms` and
        `outputs` per image in order, each `logits`, `flops` and
        `decisions`; `calls`, the signature calls of the timed images;
        `fully_accelerated`), `console` and `adapter`.

    Example:
    ```python
    result = run_staged_in_browser("/tmp/case", {"lc": "lc.json"}, images)
    ms = np.mean(result["variants"]["lc"]["times_ms"])
    ```
    """
    from lcnet_tf.validation import check_images

    # The page checks each manifest itself (staged_runner.js); here only
    # what the files need to be served and the images' shape.
    manifests = {}
    for name, path in variants.items():
        with open(path) as f:
            manifests[name] = json.load(f)
        shape = manifests[name]["input"]["shape"]
        images = check_images(images, tuple(shape[1:]))
    images = np.ascontiguousarray(images, np.float32)
    os.makedirs(case_dir, exist_ok=True)
    spec = {
        "variants": {},
        "images": {
            "url": "/case/images.bin",
            "shape": [1, *images.shape[1:]],
            "count": int(len(images)),
        },
        "warmup": int(warmup),
        "rounds": int(rounds),
        "accelerator": accelerator,
    }
    images.tofile(os.path.join(case_dir, "images.bin"))
    for name, manifest_path in variants.items():
        folder = os.path.join(case_dir, name)
        os.makedirs(folder, exist_ok=True)
        shutil.copy(manifest_path, folder)
        model = os.path.join(
            os.path.dirname(manifest_path), manifests[name]["tflite"]
        )
        if os.path.isfile(model):
            shutil.copy(model, folder)
        manifest = os.path.basename(manifest_path)
        spec["variants"][name] = f"/case/{name}/{manifest}"
    with open(os.path.join(case_dir, "staged.json"), "w") as f:
        json.dump(spec, f)
    return _drive(case_dir, timeout, web_dir, script="staged_page.js")


def _drive(case_dir, timeout, web_dir, script=""):
    """Runs the headless page on a case folder; returns what it said."""
    process = subprocess.run(
        [
            "node",
            os.path.join(web_dir, "run_gpu_check.mjs"),
            case_dir,
            str(timeout),
            script,
        ],
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        cwd=web_dir,
    )
    if process.returncode != 0 or not process.stdout.strip():
        raise RuntimeError(
            f"The LiteRT.js driver failed ({process.returncode}): "
            f"{process.stderr[-2000:]}"
        )
    return json.loads(process.stdout)


def unsupported_reports(result):
    """The page's lines about ops the WebGPU delegate did not take."""
    words = ("not supported", "fall back", "fallback", "will run on the cpu")
    return [
        line
        for line in result.get("console", [])
        if any(word in line.lower() for word in words)
    ]
