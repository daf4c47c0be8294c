// Times staged models with LiteRT.js (staged_runner.js), taking turns,
// as described by /case/staged.json, and publishes the times and every
// image's outputs on window.lcnetResult for the driver:
//
//   {"variants": {name: manifest URL}, "images": {"url", "shape",
//    "count"}, "warmup": n, "rounds": n, "accelerator": "webgpu"}
//
// The images are split into `rounds` slices; in each slice every variant
// runs `warmup` untimed images, then each image timed (the same turns as
// `lcnet_tf.export.latency.measure_interleaved`).
import {loadLiteRt} from '@litertjs/core';
import {StagedRunner} from './staged_runner.js';

function slices(count, rounds) {
  // numpy.array_split: the first `count % rounds` slices are one longer.
  const parts = [];
  const base = Math.floor(count / rounds);
  let start = 0;
  for (let r = 0; r < rounds; r++) {
    const size = base + (r < count % rounds ? 1 : 0);
    parts.push([start, start + size]);
    start += size;
  }
  return parts;
}

async function runCase() {
  const spec = await (await fetch('/case/staged.json')).json();
  await loadLiteRt('/node_modules/@litertjs/core/wasm/');
  const accelerator = spec.accelerator || 'webgpu';
  const runners = {};
  for (const [name, url] of Object.entries(spec.variants)) {
    console.log(`lcnet: loading ${name}`);
    runners[name] = await StagedRunner.load(url, {accelerator});
  }
  const all = new Float32Array(
      await (await fetch(spec.images.url)).arrayBuffer());
  const size = spec.images.shape.reduce((a, b) => a * b, 1);
  const image = (i) => all.subarray(i * size, (i + 1) * size);
  const results = {};
  for (const [name, runner] of Object.entries(runners)) {
    results[name] = {
      times_ms: [], outputs: [],
      fully_accelerated: runner.fullyAccelerated,
    };
  }
  for (const [start, end] of slices(spec.images.count, spec.rounds || 1)) {
    for (const [name, runner] of Object.entries(runners)) {
      for (let i = start; i < Math.min(end, start + spec.warmup); i++) {
        await runner.run(image(i));
      }
      runner.calls = 0;
      for (let i = start; i < end; i++) {
        const begin = performance.now();
        const out = await runner.run(image(i));
        results[name].times_ms.push(performance.now() - begin);
        results[name].outputs.push({
          logits: Array.from(out.logits), flops: out.flops,
          decisions: out.decisions,
        });
      }
      results[name].calls = (results[name].calls || 0) + runner.calls;
    }
  }
  for (const runner of Object.values(runners)) runner.delete();
  return results;
}

runCase().then(
  (variants) => { window.lcnetResult = {ok: true, variants}; },
  (error) => {
    window.lcnetResult = {ok: false, error: String(error && error.message || error)};
  });
