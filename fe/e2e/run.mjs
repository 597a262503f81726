#!/usr/bin/env node
// End-to-end test of the console against a real gatewayd (auth on), driven in
// headless Chromium by playwright-core. Starts and always stops its own
// gatewayd; everything listens on 127.0.0.1 only.
//
//   GATEWAYD_BIN  gatewayd binary   (default ../target/release/gatewayd)
//   GATEWAY_BIN   gateway CLI       (default ../target/release/gateway)
//   CHROMIUM      browser binary    (default /usr/bin/chromium)
//   E2E_KEEP=1    keep the temp data dir for inspection
//
// Screenshots of every page (web and h5) go to test-output/screenshots/.

import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);
const FE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.resolve(FE, '..');
const GATEWAYD = path.resolve(FE, process.env.GATEWAYD_BIN ?? '../target/release/gatewayd');
const GATEWAY = path.resolve(FE, process.env.GATEWAY_BIN ?? '../target/release/gateway');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CONFIG_DIR = path.resolve(REPO, 'config');
const SHOTS = path.join(FE, 'test-output', 'screenshots');
const DIST = path.join(FE, 'dist');
const DIST_H5 = path.join(FE, 'dist-h5');
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const dataDir = mkdtempSync(path.join(tmpdir(), 'tokgateway-e2e-'));
const env = { ...process.env, TOKGATEWAY_DATA_DIR: dataDir, TOKGATEWAY_CONFIG_DIR: CONFIG_DIR, NO_COLOR: '1' };
for (const k of Object.keys(env)) {
  // Only this run's settings: nothing from the caller's shell may change the server under test.
  if (k.startsWith('TOKGATEWAY_') && !['TOKGATEWAY_DATA_DIR', 'TOKGATEWAY_CONFIG_DIR'].includes(k)) delete env[k];
}

const results = [];
let failed = 0;
const daemons = new Set();
let browser = null;

function log(...a) {
  console.log('[e2e]', ...a);
}

class AssertionError extends Error {}
function assert(cond, message) {
  if (!cond) throw new AssertionError(message);
}
function assertEq(actual, expected, what) {
  if (actual !== expected) throw new AssertionError(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Runs one named check; a failure is recorded (with a screenshot) and the run goes on. */
async function check(name, page, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    results.push({ name, ok: false, error: String(e?.stack ?? e) });
    log(`FAIL  ${name}: ${e?.message ?? e}`);
    if (page) {
      await page
        .screenshot({ path: path.join(SHOTS, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true })
        .catch(() => {});
    }
  }
}

async function cli(...args) {
  const { stdout } = await run(GATEWAY, ['--env', 'live', ...args], { env, timeout: 30_000 });
  return stdout;
}
async function cliJson(...args) {
  return JSON.parse(await cli('--json', ...args));
}

/** Starts gatewayd serving `consoleDir`; resolves with its base URL. */
function startGatewayd(consoleDir, label) {
  return new Promise((resolve, reject) => {
    const args = ['--env', 'live', '--listen', '127.0.0.1:0', '--set', `server.console_dir=${consoleDir}`];
    const child = spawn(GATEWAYD, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    daemons.add(child);
    let out = '';
    let done = false;
    const timer = setTimeout(() => {
      if (!done) {
        done = true;
        reject(new Error(`gatewayd (${label}) printed no URL within 30 s:\n${out}`));
      }
    }, 30_000);
    const onData = (buf) => {
      out += buf.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        log(`gatewayd (${label}) pid ${child.pid} at ${m[0]}`);
        resolve({ child, url: m[0], output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, sig) => {
      daemons.delete(child);
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`gatewayd (${label}) exited (${code ?? sig}) before listening:\n${out}`));
      }
    });
    child.on('error', (e) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(e);
      }
    });
  });
}

async function stopGatewayd(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(t);
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  await Promise.all([...daemons].map(stopGatewayd));
  if (!process.env.E2E_KEEP) rmSync(dataDir, { recursive: true, force: true });
  else log(`data dir kept: ${dataDir}`);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const d of daemons) d.kill('SIGKILL');
    if (!process.env.E2E_KEEP) rmSync(dataDir, { recursive: true, force: true });
    log(`stopped by ${sig}`);
    process.exit(130);
  });
}

async function api(url, key, p, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (key) headers.Authorization = `Bearer ${key}`;
  return fetch(url + p, { ...init, headers });
}

async function until(what, fn, timeoutMs = 10_000, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new AssertionError(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function shot(page, name, { fullPage = true } = {}) {
  await page.waitForTimeout(250); // let charts and fonts settle
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

/** Phone screenshots: what the screen shows (fixed tab bar at the bottom), plus the whole page. */
async function shot5(page, name) {
  await shot(page, name, { fullPage: false });
  await page.screenshot({ path: path.join(SHOTS, `${name}-full.png`), fullPage: true });
}

async function signIn(page, key) {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function goto(page, url, route) {
  await page.goto(`${url}/console/#/${route}`);
}

async function ensureBuilt(dir, script) {
  if (existsSync(path.join(dir, 'index.html'))) return;
  log(`${path.basename(dir)}/ is missing: npm run ${script}`);
  await run('npm', ['run', script], { cwd: FE, timeout: 300_000 });
}

async function playgroundRun(page, prompt) {
  await page.getByLabel('Message').fill(prompt);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByTestId('run-completion-tokens').filter({ hasNotText: '—' }).waitFor({ timeout: 15_000 });
  return {
    reply: (await page.getByTestId('reply').innerText()).trim(),
    requestId: (await page.getByTestId('run-request-id').innerText()).trim(),
    provider: (await page.getByTestId('run-provider').innerText()).trim(),
    prompt: (await page.getByTestId('run-prompt-tokens').innerText()).trim(),
    completion: (await page.getByTestId('run-completion-tokens').innerText()).trim(),
    latency: (await page.getByTestId('run-latency').innerText()).trim(),
    ttft: (await page.getByTestId('run-ttft').innerText()).trim(),
  };
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  for (const [bin, name] of [
    [GATEWAYD, 'GATEWAYD_BIN'],
    [GATEWAY, 'GATEWAY_BIN'],
    [CHROMIUM, 'CHROMIUM'],
  ]) {
    if (!existsSync(bin)) throw new Error(`${bin} does not exist (set ${name})`);
  }
  await ensureBuilt(DIST, 'build');
  await ensureBuilt(DIST_H5, 'build:h5');

  // Users and keys, straight into the store with the CLI.
  await cli('users', 'create', 'root', '--role', 'admin', '--email', 'root@example.test');
  await cli('users', 'create', 'bob', '--role', 'user');
  const adminKey = (await cliJson('keys', 'create', '--user', 'root', '--name', 'e2e-admin')).key;
  const bobKey = (await cliJson('keys', 'create', '--user', 'bob', '--name', 'e2e-bob')).key;
  const bob2 = await cliJson('keys', 'create', '--user', 'bob', '--name', 'e2e-bob-revoked-later');
  assert(adminKey?.startsWith('tgw_') && bobKey?.startsWith('tgw_'), 'gateway keys create --json gave no tgw_ keys');

  const gw = await startGatewayd(DIST, 'web');
  const url = gw.url;

  await check('the new admin endpoints answer', null, async () => {
    const r = await api(url, adminKey, '/api/v1/admin/providers');
    assertEq(r.status, 200, 'GET /api/v1/admin/providers');
    const body = await r.json();
    assert(Array.isArray(body.providers) && body.providers.length > 0, 'providers list is empty');
    const q = await api(url, adminKey, '/api/v1/admin/requests?limit=5');
    assertEq(q.status, 200, 'GET /api/v1/admin/requests');
    const c = await api(url, null, '/console/');
    assertEq(c.status, 200, 'GET /console/');
  });

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  await check('web: a bad key is refused with a readable message', page, async () => {
    await goto(page, url, 'dashboard');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(page, 'web-01-sign-in');
    await signIn(page, 'tgw_this_is_not_a_key_of_this_gateway_000000');
    const err = page.getByTestId('signin-error');
    await err.waitFor();
    const text = await err.innerText();
    assert(text.includes('This key was not accepted'), `sign-in error says: ${text}`);
    await shot(page, 'web-02-sign-in-bad-key');
  });

  await check('web: sign in with the admin key', page, async () => {
    await signIn(page, adminKey);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert(!page.url().includes(adminKey), 'the key appears in the URL');
    const stored = await page.evaluate(() => ({ s: sessionStorage.getItem('tokgateway.apiKey'), l: localStorage.length }));
    assertEq(stored.s, adminKey, 'sessionStorage key');
    assertEq(stored.l, 0, 'localStorage entries');
    for (const name of ['Keys', 'Users', 'Providers']) {
      assert(await page.getByRole('link', { name }).isVisible(), `admin nav link ${name} is missing`);
    }
  });

  const runs = [];
  await check('web: playground streams loopback replies with request id, provider and tokens', page, async () => {
    await goto(page, url, 'playground');
    await page.getByRole('heading', { name: 'Playground' }).waitFor();
    await page.locator('select[name=model] option[value=loopback]').waitFor({ state: 'attached' });
    await page.getByLabel('Model').selectOption('loopback');
    for (const prompt of ['hello from the console', 'second request through the playground', 'third and last one']) {
      const r = await playgroundRun(page, prompt);
      runs.push(r);
      assert(r.reply.includes(prompt.split(' ')[0]) && r.reply.startsWith('loopback:'), `reply was: ${r.reply}`);
      assert(r.requestId && r.requestId !== '—', 'no request id shown');
      assert(r.provider && r.provider !== '—', 'no provider shown');
      assert(/^\d[\d,]*$/.test(r.prompt) && Number(r.prompt.replace(/,/g, '')) > 0, `prompt tokens: ${r.prompt}`);
      assert(/^\d[\d,]*$/.test(r.completion) && Number(r.completion.replace(/,/g, '')) > 0, `completion tokens: ${r.completion}`);
      assert(r.latency !== '—' && r.ttft !== '—', `latency ${r.latency}, ttft ${r.ttft}`);
    }
    assertEq(new Set(runs.map((r) => r.requestId)).size, 3, 'distinct request ids');
    await shot(page, 'web-03-playground');
  });

  let cliTotal = null;
  await check('web: dashboard totals equal `gateway usage --json`', page, async () => {
    cliTotal = await until('3 ledger rows', async () => {
      const u = await cliJson('usage');
      return u.total.requests >= 3 ? u.total : null;
    });
    await goto(page, url, 'dashboard');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    // Reload so the dashboard reads the ledger after the flush.
    await page.reload();
    const req = page.getByTestId('total-requests');
    await req.waitFor();
    const shownRequests = Number(await req.getAttribute('data-value'));
    const shownTokens = Number(await page.getByTestId('total-tokens').getAttribute('data-value'));
    assertEq(shownRequests, cliTotal.requests, 'requests (dashboard vs CLI)');
    assertEq(shownTokens, cliTotal.prompt_tokens + cliTotal.completion_tokens, 'tokens (dashboard vs CLI)');
    const visible = (await req.innerText()).replace(/,/g, '');
    assert(visible.includes(String(cliTotal.requests)), `visible request total: ${visible}`);
    await page.getByTestId('chart-requests').locator('canvas').waitFor();
    await page.getByTestId('chart-models').locator('canvas').waitFor();
    await page.getByTestId('gauge-cpu').waitFor();
    const uptime = await page.getByTestId('uptime').innerText();
    assert(uptime && uptime !== '—', `uptime: ${uptime}`);
    await shot(page, 'web-04-dashboard');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert(bg !== 'rgb(245, 246, 250)', `dark scheme kept the light background ${bg}`);
    await shot(page, 'web-04-dashboard-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await check('web: usage log lists the playground requests and filters them', page, async () => {
    await goto(page, url, 'usage');
    await page.getByRole('heading', { name: 'Usage log' }).waitFor();
    const table = page.getByTestId('ledger');
    await table.waitFor();
    for (const r of runs) {
      assert((await table.getByText(r.requestId, { exact: true }).count()) === 1, `request ${r.requestId} is not in the log`);
    }
    await page.locator('select[name=status]').selectOption('error');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No requests match these filters.').waitFor();
    await page.locator('select[name=status]').selectOption('ok');
    await page.locator('input[name=model]').fill('loopback');
    await page.getByRole('button', { name: 'Apply' }).click();
    await until('filtered rows', async () => (await page.getByTestId('ledger').locator('tbody tr').count()) === runs.length);
    await shot(page, 'web-05-usage-log');
  });

  let tempKey = null;
  let tempId = null;
  await check('web: create a key, shown once, copy works', page, async () => {
    await goto(page, url, 'keys');
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByTestId('keys-table').waitFor();
    await shot(page, 'web-06-keys');
    await page.getByRole('button', { name: 'New key' }).click();
    const form = page.getByRole('form', { name: 'New key' });
    await form.getByLabel('User').selectOption('bob');
    await form.getByLabel('Name').fill('e2e-temp');
    await form.getByLabel('Requests / minute').fill('120');
    await form.getByLabel('Budget (USD)').fill('5');
    await form.getByLabel('Expires after').fill('30d');
    await form.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Your new API key' });
    await dialog.waitFor();
    tempKey = (await dialog.getByTestId('new-key').innerText()).trim();
    assert(tempKey.startsWith('tgw_'), `new key: ${tempKey}`);
    assert((await dialog.innerText()).includes('see it again'), 'no "you won’t see it again" warning');
    tempId = (await dialog.locator('code').first().innerText()).trim();
    await shot(page, 'web-07-key-created');
    await dialog.getByRole('button', { name: 'Copy key' }).click();
    await dialog.getByText('Copied to the clipboard.').waitFor();
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    assertEq(clip, tempKey, 'clipboard');
    const me = await api(url, tempKey, '/api/v1/me');
    assertEq(me.status, 200, 'the new key on /api/v1/me');
    await dialog.getByRole('button', { name: 'I have stored it' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert(!(await page.content()).includes(tempKey), 'the key is still in the page after closing the dialog');
    const row = page.locator(`tr[data-key-id="${tempId}"]`);
    await row.waitFor();
    const rowText = await row.innerText();
    assert(rowText.includes('120 req/min') && rowText.includes('$5.00'), `limits not shown: ${rowText}`);
  });

  await check('web: revoke the key with confirmation; it then gets 401', page, async () => {
    assert(tempId && tempKey, 'no key was created');
    const row = page.locator(`tr[data-key-id="${tempId}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke this key?' });
    await confirm.waitFor();
    await shot(page, 'web-08-revoke-confirm');
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await confirm.waitFor({ state: 'detached' });
    await row.waitFor({ state: 'detached' });
    await until('the revoked key to get 401', async () => (await api(url, tempKey, '/api/v1/me')).status === 401, 10_000, 500);
  });

  await check('web: providers page shows health badges', page, async () => {
    await goto(page, url, 'providers');
    await page.getByRole('heading', { name: 'Providers & routes' }).waitFor();
    const badges = page.getByTestId('health');
    await badges.first().waitFor();
    const text = await badges.first().innerText();
    assert(/healthy/.test(text), `health badge: ${text}`);
    await shot(page, 'web-09-providers');
  });

  await check('web: users page lists the users', page, async () => {
    await goto(page, url, 'users');
    await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    const t = page.getByTestId('users-table');
    await t.waitFor();
    const text = await t.innerText();
    assert(text.includes('root') && text.includes('bob'), `users table: ${text}`);
    await shot(page, 'web-10-users');
  });

  await check('web: account page, then sign out', page, async () => {
    await goto(page, url, 'more');
    await page.getByTestId('whoami').waitFor();
    assertEq((await page.getByTestId('whoami').innerText()).trim(), 'root', 'signed-in user');
    await shot(page, 'web-11-account');
    await page.getByTestId('sign-out').click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const stored = await page.evaluate(() => sessionStorage.getItem('tokgateway.apiKey'));
    assertEq(stored, null, 'sessionStorage after sign-out');
  });

  await check('web: a non-admin key sees no admin pages and the forbidden state for Users', page, async () => {
    await signIn(page, bobKey);
    await goto(page, url, 'dashboard');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assertEq(await page.getByRole('link', { name: 'Users' }).count(), 0, 'Users links for a non-admin');
    assertEq(await page.getByRole('link', { name: 'Keys' }).count(), 0, 'Keys links for a non-admin');
    await page.getByTestId('total-requests').waitFor();
    await shot(page, 'web-12-dashboard-non-admin');
    await goto(page, url, 'users');
    const f = page.getByTestId('forbidden');
    await f.waitFor();
    assert((await f.innerText()).includes('needs an admin key'), 'forbidden text');
    await shot(page, 'web-13-users-forbidden');
    // The API agrees.
    assertEq((await api(url, bobKey, '/api/v1/admin/users')).status, 403, 'admin API with a user key');
    await goto(page, url, 'usage');
    await page.getByRole('heading', { name: 'Usage log' }).waitFor();
    await page.getByText('No requests match these filters.').waitFor();
    await shot(page, 'web-14-usage-non-admin');
  });

  await check('web: a key revoked during the session sends the person back to sign-in', page, async () => {
    await page.getByTestId('sign-out').click();
    await signIn(page, bob2.key);
    await goto(page, url, 'dashboard');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await cli('keys', 'revoke', bob2.id);
    await until('the CLI-revoked key to get 401', async () => (await api(url, bob2.key, '/api/v1/me')).status === 401, 10_000, 500);
    await goto(page, url, 'usage');
    const notice = page.getByTestId('signin-notice');
    await notice.waitFor();
    assert((await notice.innerText()).includes('no longer accepted'), 'session-ended notice');
    await shot(page, 'web-15-session-ended');
  });

  await check('web: narrow screen stays usable', page, async () => {
    await page.setViewportSize({ width: 400, height: 800 });
    await signIn(page, adminKey);
    await goto(page, url, 'dashboard');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByTestId('total-requests').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `page scrolls sideways by ${overflow}px at 400px`);
    await shot(page, 'web-16-dashboard-narrow');
    await goto(page, url, 'usage');
    await page.getByTestId('ledger').waitFor();
    await shot(page, 'web-17-usage-narrow');
  });

  await check('web: an unreachable gateway shows a banner with Retry', page, async () => {
    await stopGatewayd(gw.child);
    await goto(page, url, 'dashboard');
    const banner = page.getByTestId('network-banner').first();
    await banner.waitFor();
    assert((await banner.innerText()).includes('could not be reached'), 'network banner text');
    assert(await banner.getByRole('button', { name: 'Retry' }).isVisible(), 'no Retry button');
    await shot(page, 'web-18-unreachable');
  });

  await check('web: no uncaught page errors', null, async () => {
    assertEq(pageErrors.length, 0, `page errors: ${pageErrors.join(' | ')}`);
  });
  await ctx.close();

  // ---------- h5: the phone build, on a phone-sized touch screen ----------
  await stopGatewayd(gw.child);
  const gw5 = await startGatewayd(DIST_H5, 'h5');
  const url5 = gw5.url;
  const ctx5 = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent:
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
  });
  const p5 = await ctx5.newPage();
  const errors5 = [];
  p5.on('pageerror', (e) => errors5.push(String(e)));

  await check('h5: phone viewport meta and sign-in', p5, async () => {
    await goto(p5, url5, 'dashboard');
    await p5.getByRole('heading', { name: 'Sign in' }).waitFor();
    const vp = await p5.locator('meta[name=viewport]').getAttribute('content');
    assert(vp.includes('viewport-fit=cover') && vp.includes('width=device-width'), `viewport meta: ${vp}`);
    await shot5(p5, 'h5-01-sign-in');
    await signIn(p5, adminKey);
    await p5.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });

  await check('h5: bottom tab bar with 44px+ touch targets, dashboard renders', p5, async () => {
    const bar = p5.getByTestId('tabbar');
    await bar.waitFor();
    const box = await bar.boundingBox();
    assert(box && Math.abs(box.y + box.height - 844) <= 2, `tab bar is not at the bottom: ${JSON.stringify(box)}`);
    const tabs = bar.locator('a');
    const n = await tabs.count();
    assert(n >= 4, `only ${n} tabs`);
    for (let i = 0; i < n; i++) {
      const b = await tabs.nth(i).boundingBox();
      assert(b.height >= 44 && b.width >= 44, `tab ${i} is ${b.width}x${b.height}`);
    }
    const req = p5.getByTestId('total-requests');
    await req.waitFor();
    assertEq(Number(await req.getAttribute('data-value')), cliTotal?.requests ?? -1, 'h5 dashboard requests');
    await p5.getByTestId('chart-requests').locator('canvas').waitFor();
    await p5.getByTestId('gauge-memory').waitFor();
    const overflow = await p5.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `page scrolls sideways by ${overflow}px`);
    await shot5(p5, 'h5-02-dashboard');
  });

  await check('h5: usage, chat, keys, more, users and providers pages render', p5, async () => {
    const bar = p5.getByTestId('tabbar');
    await bar.locator('[data-nav=usage]').tap();
    await p5.getByTestId('ledger').waitFor();
    await shot5(p5, 'h5-03-usage');
    // Filters are folded away on phones until asked for.
    assertEq(await p5.getByRole('form', { name: 'Filters' }).count(), 0, 'filter forms shown before tapping Filters');
    await p5.getByRole('button', { name: /^Filters/ }).tap();
    await p5.getByRole('form', { name: 'Filters' }).waitFor();
    await shot5(p5, 'h5-03-usage-filters');
    await bar.locator('[data-nav=playground]').tap();
    await p5.getByRole('heading', { name: 'Playground' }).waitFor();
    await p5.locator('select[name=model] option[value=loopback]').waitFor({ state: 'attached' });
    await p5.getByLabel('Model').selectOption('loopback');
    const r = await playgroundRun(p5, 'hello from a phone');
    assert(r.reply.startsWith('loopback:') && r.reply.includes('phone'), `reply: ${r.reply}`);
    await shot5(p5, 'h5-04-playground');
    await bar.locator('[data-nav=keys]').tap();
    await p5.getByTestId('keys-table').waitFor();
    await shot5(p5, 'h5-05-keys');
    await bar.locator('[data-nav=more]').tap();
    await p5.getByTestId('whoami').waitFor();
    await shot5(p5, 'h5-06-more');
    await p5.getByRole('button', { name: 'Users' }).tap();
    await p5.getByTestId('users-table').waitFor();
    await shot5(p5, 'h5-07-users');
    await bar.locator('[data-nav=more]').tap();
    await p5.getByRole('button', { name: 'Providers & routes' }).tap();
    await p5.getByTestId('health').first().waitFor();
    await shot5(p5, 'h5-08-providers');
    // Buttons in the page body are touch-sized too.
    const small = await p5.evaluate(() =>
      [...document.querySelectorAll('.content button, .content select, .content input:not([type=checkbox])')]
        .filter((el) => el.offsetParent !== null)
        .map((el) => [el.textContent?.trim() || el.getAttribute('name') || el.tagName, el.getBoundingClientRect().height])
        .filter(([, h]) => h < 44),
    );
    assertEq(small.length, 0, `controls under 44px: ${JSON.stringify(small)}`);
  });

  await check('h5: no uncaught page errors', null, async () => {
    assertEq(errors5.length, 0, `page errors: ${errors5.join(' | ')}`);
  });
  await ctx5.close();
}

let fatal = null;
try {
  await main();
} catch (e) {
  fatal = e;
  failed++;
  log(`FATAL ${e?.stack ?? e}`);
} finally {
  await cleanup();
}
writeFileSync(
  path.join(FE, 'test-output', 'e2e-results.json'),
  JSON.stringify({ results, fatal: fatal ? String(fatal) : null }, null, 2),
);
const passed = results.filter((r) => r.ok).length;
console.log(`\ne2e: ${passed} passed, ${failed} failed`);
console.log(`screenshots: ${path.relative(process.cwd(), SHOTS) || SHOTS}`);
process.exit(failed > 0 ? 1 : 0);
