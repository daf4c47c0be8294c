// Serves this folder and a case folder, opens a page in headless Chromium
// with WebGPU (SwiftShader on machines without a GPU) and prints what the
// page published on window.lcnetResult, with "console" and "adapter", as
// JSON on stdout. index.html runs gpu_check.js, or the SCRIPT given
// (staged_page.js: the staged host loop's timing page).
//
// Usage: node run_gpu_check.mjs CASE_DIR [TIMEOUT_SECONDS] [SCRIPT]
import {createServer} from 'node:http';
import {readFile} from 'node:fs/promises';
import {extname, join, normalize, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));
const caseDir = resolve(process.argv[2]);
const timeout = Number(process.argv[3] || 300) * 1000;
const script = process.argv[4] || '';
const types = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.json': 'application/json', '.wasm': 'application/wasm',
};

const server = createServer(async (request, response) => {
  const path = normalize(decodeURIComponent(request.url.split('?')[0]));
  const file = path.startsWith('/case/') ?
      join(caseDir, path.slice('/case/'.length)) :
      join(here, path === '/' ? 'index.html' : path);
  try {
    const body = await readFile(file);
    response.writeHead(200, {
      'Content-Type': types[extname(file)] || 'application/octet-stream',
      // Threaded Wasm needs a cross-origin isolated page.
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    response.end(body);
  } catch {
    response.writeHead(404);
    response.end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan',
    '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic',
  ],
});
const consoleLines = [];
let result = {ok: false, error: 'timed out'};
try {
  const page = await browser.newPage();
  page.on('console', (message) => consoleLines.push(message.text()));
  page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error}`));
  await page.goto(script ? `${url}?script=/${script}` : url);
  await page.waitForFunction(() => window.lcnetResult, null, {timeout});
  result = await page.evaluate(() => window.lcnetResult);
  result.adapter = await page.evaluate(async () => {
    const adapter = navigator.gpu && await navigator.gpu.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info || {};
    return `${info.vendor || ''} ${info.architecture || ''} ${info.description || ''}`.trim();
  });
} catch (error) {
  result = {ok: false, error: String(error)};
} finally {
  await browser.close();
  server.close();
}
result.console = consoleLines;
process.stdout.write(JSON.stringify(result));
