// The staged form's host loop for the browser (LiteRT.js), the same
// protocol as Python's `lcnet_tf.export.StagedRunner` and the Kotlin
// runner (tflite/README.md, "The staged form and its manifest").
//
// Features stay in the accelerator's buffers from one signature to the
// next; the host reads back only what it decides on (a gate's `run` and
// `channel_keep`) and the logits.
//
//   const runner = await StagedRunner.load('/models/lc.json');
//   const {logits, flops, decisions} = await runner.run(pixels);
//   runner.delete();
import {loadAndCompile, Tensor} from '@litertjs/core';

const FORMAT = 'lcnet-tf-staged';
const VERSION = 1;
const BLOCK_KEYS = ['name', 'gate', 'body', 'skippable', 'channel_gated',
                    'flops'];

/** Hex SHA-256 of bytes (the manifest's `tflite_sha256`). */
async function sha256(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest),
                    (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws a clear error for a manifest this runner cannot follow. */
export function checkManifest(manifest, url) {
  if (!manifest || manifest.format !== FORMAT) {
    throw new Error(`'${url}' is not an lcnet-tf staged manifest ` +
                    `(expected format '${FORMAT}').`);
  }
  if (manifest.version !== VERSION) {
    throw new Error(`Manifest '${url}' has version ${manifest.version}; ` +
                    `this runner reads version ${VERSION}.`);
  }
  const missing = ['tflite', 'input', 'stem', 'head', 'blocks', 'flops']
      .filter((key) => !(key in manifest));
  (manifest.blocks || []).forEach((block, index) => {
    for (const key of BLOCK_KEYS) {
      if (!(key in block)) missing.push(`blocks[${index}].${key}`);
    }
  });
  if (missing.length) {
    throw new Error(`Manifest '${url}' lacks fields: ${missing.join(', ')}`);
  }
  const dtype = manifest.input.dtype || 'float32';
  if (dtype !== 'float32') {
    throw new Error(`Manifest '${url}' has input dtype '${dtype}'; this ` +
                    `runner takes 'float32' images.`);
  }
}

/** Throws unless the model has exactly the signatures the manifest uses. */
export function checkSignatures(manifest, available, url) {
  const wanted = [manifest.stem, manifest.head];
  for (const block of manifest.blocks) {
    for (const name of [block.gate, block.body, block.skip]) {
      if (name) wanted.push(name);
    }
    wanted.push(...Object.values(block.widths || {}));
  }
  const have = new Set(available);
  const missing = wanted.filter((name) => !have.has(name));
  if (missing.length) {
    throw new Error(`Manifest '${url}' names signatures ` +
                    `${missing.join(', ')} that its model does not have.`);
  }
  // A width body the manifest leaves out would never run: the file and
  // the manifest describe different gates.
  for (const block of manifest.blocks) {
    const listed = new Set(Object.values(block.widths || {}));
    const extra = available.filter(
        (name) => name.startsWith(`${block.body}_w`) && !listed.has(name));
    if (extra.length) {
      throw new Error(`The model has width signatures ${extra.join(', ')} ` +
                      `of block '${block.name}' that manifest '${url}' ` +
                      `does not list.`);
    }
  }
}

/**
 * The width body a block with `widths` runs: the narrowest holding the
 * last kept channel (a nested gate: exactly the kept width).
 */
export function bodyWidth(block, keep) {
  let needed = 0;
  keep.forEach((value, index) => {
    if (value > 0.5) needed = index + 1;
  });
  const widths = Object.keys(block.widths).map(Number).sort((a, b) => a - b);
  const nested = (block.channel_selection || 'nested') === 'nested';
  if (nested && !widths.includes(needed)) {
    throw new Error(`Block '${block.name}' kept ${needed} channels but has ` +
                    `bodies of widths ${widths.join(', ')}.`);
  }
  const width = widths.find((w) => w >= needed);
  if (width === undefined) {
    throw new Error(`Block '${block.name}' kept channel ${needed - 1} but ` +
                    `has bodies of widths ${widths.join(', ')}.`);
  }
  return String(width);
}

/** The staged form of one model, run one image at a time. */
export class StagedRunner {
  constructor(manifest, model, accelerator) {
    this.manifest = manifest;
    this.model = model;
    this.accelerator = accelerator;
    this.calls = 0;
  }

  /**
   * Loads a manifest and its model (checked against `tflite_sha256`).
   *
   * @param {string} manifestUrl URL of the staged manifest.
   * @param {{accelerator?: string}} options 'webgpu' (default) or 'wasm'.
   * @return {Promise<StagedRunner>}
   */
  static async load(manifestUrl, {accelerator = 'webgpu'} = {}) {
    const url = new URL(manifestUrl, location.href);
    const response = await fetch(url);
    if (!response.ok) {
      throw new Error(`No staged manifest at '${manifestUrl}' ` +
                      `(HTTP ${response.status}).`);
    }
    let manifest;
    try {
      manifest = await response.json();
    } catch (error) {
      throw new Error(`Manifest '${manifestUrl}' is not valid JSON: ` +
                      `${error.message}`);
    }
    checkManifest(manifest, manifestUrl);
    const modelUrl = new URL(manifest.tflite, url);
    const modelResponse = await fetch(modelUrl);
    if (!modelResponse.ok) {
      throw new Error(`Manifest '${manifestUrl}' names model ` +
                      `'${modelUrl}', which does not exist.`);
    }
    const bytes = new Uint8Array(await modelResponse.arrayBuffer());
    if (await sha256(bytes) !== manifest.tflite_sha256) {
      throw new Error(`Manifest '${manifestUrl}' does not match ` +
                      `'${modelUrl}' (SHA-256 differs): re-export them ` +
                      `together.`);
    }
    const model = await loadAndCompile(bytes, {accelerator});
    checkSignatures(manifest, Object.keys(model.signatures), manifestUrl);
    return new StagedRunner(manifest, model, accelerator);
  }

  /** Whether the delegate took every op of the model. */
  get fullyAccelerated() {
    return this.model.isFullyAccelerated;
  }

  /**
   * Runs one image.
   *
   * @param {Float32Array} images The stem's input, `manifest.input.shape`.
   * @return {Promise<{logits: Float32Array, flops: number,
   *     decisions: number[][]}>} `decisions`: per gated block
   *     `[run, kept share of channels times run]`; the FLOPs are exactly
   *     what ran.
   */
  async run(images) {
    const shape = this.manifest.input.shape;
    const size = shape.reduce((a, b) => a * b, 1);
    if (!(images instanceof Float32Array) || images.length !== size) {
      throw new Error(`Expected a Float32Array of ${size} values (shape ` +
                      `[${shape}]); received ${images && images.length}.`);
    }
    if (images.some((value) => !Number.isFinite(value))) {
      throw new Error('The images contain NaN or infinite values.');
    }
    const live = new Set();
    const call = async (signature, inputs) => {
      this.calls += 1;
      const outputs = await this.model.run(signature, inputs);
      for (const tensor of Object.values(outputs)) live.add(tensor);
      return outputs;
    };
    const host = new Tensor(images, shape);
    const input = await host.moveTo(this.accelerator);
    live.add(input);
    try {
      return await this.#follow(call, input);
    } finally {
      for (const tensor of live) {
        if (!tensor.deleted) tensor.delete();
      }
    }
  }

  async #follow(call, input) {
    const manifest = this.manifest;
    let stage = await call(manifest.stem, {images: input});
    let x = stage.features;
    let flops = manifest.flops.outside_blocks;
    const decisions = [];
    for (const block of manifest.blocks) {
      const inputs = {features: x};
      let runs = 1;
      let kept = 1;
      let body = block.body;
      let bodyFlops = block.flops.body;
      if (block.gate) {
        // The call that produced `x` also ran this gate (`gate_fused`);
        // after a skipped block `x` is older: run the gate alone.
        let gate = block.gate_fused ? nextGate(stage) : null;
        if (!gate) gate = await call(block.gate, {features: x});
        if (block.channel_gated) {
          const keep = await gate.channel_keep.data();
          inputs.channel_scale = gate.channel_scale;
          kept = keep.reduce((a, b) => a + b, 0) / keep.length;
          if (block.widths) {
            const width = bodyWidth(block, keep);
            body = block.widths[width];
            bodyFlops = block.flops.body_by_width[width];
          }
        }
        if (block.skippable) {
          runs = (await gate.run.data())[0];
          inputs.block_scale = gate.block_scale;
        }
        decisions.push([runs, kept * runs]);
      }
      stage = null;
      flops += block.flops.always;
      if (runs > 0.5) {
        stage = await call(body, inputs);
        x = stage.features;
        flops += bodyFlops;
      } else if (block.skip) {
        // The projection's FLOPs are in `always`.
        stage = await call(block.skip, {features: x});
        x = stage.features;
      }
    }
    const head = await call(manifest.head, {features: x});
    return {logits: await head.logits.data(), flops, decisions};
  }

  delete() {
    this.model.delete();
  }
}

/** The next block's gate outputs a stage returned, or null. */
function nextGate(stage) {
  if (!stage) return null;
  const gate = {};
  let any = false;
  for (const [key, tensor] of Object.entries(stage)) {
    if (key.startsWith('next_')) {
      gate[key.slice('next_'.length)] = tensor;
      any = true;
    }
  }
  return any ? gate : null;
}
