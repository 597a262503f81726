// A tiny fake gatewayd for component tests.
import { vi } from 'vitest';

export type Handler = (req: { method: string; path: string; url: URL; headers: Headers; body: unknown }) =>
  | Response
  | Promise<Response>
  | undefined;

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function apiError(status: number, message: string): Response {
  return json({ error: { message, type: 'invalid_request_error', param: null, code: null } }, status);
}

/** A fetch that answers with the first handler returning a Response, else 404. */
export function mockFetch(...handlers: Handler[]) {
  return vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input.toString(), 'http://gw.test');
    const headers = new Headers(init?.headers);
    const method = (init?.method ?? 'GET').toUpperCase();
    let body: unknown = undefined;
    if (typeof init?.body === 'string') {
      try {
        body = JSON.parse(init.body);
      } catch {
        body = init.body;
      }
    }
    for (const h of handlers) {
      const r = await h({ method, path: url.pathname, url, headers, body });
      if (r) return r;
    }
    return apiError(404, `no route for ${method} ${url.pathname}`);
  });
}

export const ADMIN_KEY = 'tgw_admin_key_0123456789abcdef0123456789abcdef';
export const USER_KEY = 'tgw_user_key_0123456789abcdef0123456789abcdef01';

export const ADMIN_ME = { user: 'root', key_id: 'key_admin', role: 'admin', models: [], rpm: null, tpm: null, budget_usd: null, auth: true };
export const USER_ME = { user: 'bob', key_id: 'key_bob', role: 'user', models: [], rpm: 60, tpm: null, budget_usd: 5, auth: true };

/** /api/v1/me answering for the two known keys; 401 for any other. */
export const meHandler: Handler = ({ path, headers }) => {
  if (path !== '/api/v1/me') return undefined;
  const auth = headers.get('authorization');
  if (auth === `Bearer ${ADMIN_KEY}`) return json(ADMIN_ME);
  if (auth === `Bearer ${USER_KEY}`) return json(USER_ME);
  return apiError(401, auth ? 'invalid API key' : 'missing API key');
};

const emptySummary = { rows: [], total: { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 } };

/** Everything the dashboard loads, empty. */
export const dashboardHandler: Handler = ({ path }) => {
  if (path === '/api/v1/admin/usage' || path === '/api/v1/usage') return json(emptySummary);
  if (path === '/metrics/resource')
    return json({
      cpu_percent: 1.5,
      cpu_time_seconds: 0.4,
      memory_bytes: 20 * 1048576,
      memory_percent: 0.1,
      memory_limit_bytes: 1 << 30,
      memory_limit_exceeded: false,
      uptime_seconds: 65,
      platform: { os: 'linux', arch: 'x86_64', os_version: '6.1', in_container: false },
      gpu_available: false,
      gpus: [],
    });
  return undefined;
};
