// Runs every signature listed in /case/case.json with LiteRT.js on WebGPU
// and publishes the outputs on window.lcnetResult for the driver.
import {loadAndCompile, loadLiteRt, Tensor} from '@litertjs/core';

async function fetchFloats(url) {
  const response = await fetch(url);
  return new Float32Array(await response.arrayBuffer());
}

async function runCase() {
  const spec = await (await fetch('/case/case.json')).json();
  await loadLiteRt('/node_modules/@litertjs/core/wasm/', {jspi: spec.jspi});
  const results = [];
  for (const entry of spec.models) {
    console.log(`lcnet: compiling ${entry.url}`);
    const model = await loadAndCompile(entry.url, {accelerator: 'webgpu'});
    const runs = [];
    for (const run of entry.runs) {
      const inputs = {};
      for (const [name, input] of Object.entries(run.inputs)) {
        const data = await fetchFloats(input.url);
        const tensor = new Tensor(data, input.shape);
        inputs[name] = await tensor.moveTo('webgpu');
        tensor.delete();
      }
      const outputs = await model.run(run.signature, inputs);
      const values = {};
      for (const [name, tensor] of Object.entries(outputs)) {
        const onCpu = await tensor.moveTo('wasm');
        values[name] = Array.from(onCpu.toTypedArray());
        onCpu.delete();
      }
      for (const tensor of Object.values(inputs)) tensor.delete();
      runs.push({signature: run.signature, outputs: values});
    }
    results.push({url: entry.url, runs});
    model.delete();
  }
  return results;
}

runCase().then(
  (results) => { window.lcnetResult = {ok: true, results}; },
  (error) => {
    window.lcnetResult = {ok: false, error: String(error && error.stack || error)};
  });
