// Bundles src/workload.ts for the browser and runs it in headless Chromium (Debian's chromium,
// driven by playwright-core: no browser download), then checks the browser's numbers equal
// Node's. esbuild's browser platform fails the build on any Node built-in, so a green run proves
// the policy code needs no Node-only API.
import { existsSync } from 'node:fs';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { runWorkload } from './workload.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`Chromium not found at ${executablePath}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`);
  process.exit(1);
}

const bundle = await build({
  entryPoints: [new URL('./workload.ts', import.meta.url).pathname],
  bundle: true,
  platform: 'browser',
  format: 'iife',
  globalName: 'kvWorkload',
  write: false,
  target: 'es2022',
});
const code = bundle.outputFiles[0]!.text;

const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.setContent('<!doctype html><title>kv</title><body></body>');
  await page.addScriptTag({ content: code });
  const inBrowser = await page.evaluate(() => (globalThis as unknown as { kvWorkload: { runWorkload: () => unknown } }).kvWorkload.runWorkload());
  const userAgent = await page.evaluate(() => navigator.userAgent);
  if (pageErrors.length) throw new Error(`page errors: ${pageErrors.join('; ')}`);
  const inNode = runWorkload();
  console.log(`bundle: ${(code.length / 1024).toFixed(1)} KiB; browser: ${userAgent}`);
  console.log('| policy | mean relative error | bytes | same as Node |');
  console.log('|---|---|---|---|');
  let allSame = true;
  (inBrowser as ReturnType<typeof runWorkload>).forEach((r, i) => {
    const same = JSON.stringify(r) === JSON.stringify(inNode[i]);
    allSame &&= same;
    console.log(`| ${r.policy} | ${r.relativeError.toFixed(4)} | ${r.bytes} | ${same ? 'yes' : 'NO'} |`);
  });
  if (!allSame) throw new Error('the browser and Node gave different results');
  console.log('ok');
} finally {
  await browser.close();
}
