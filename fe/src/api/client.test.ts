import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, BAD_KEY_MESSAGE, FORBIDDEN_MESSAGE, NETWORK_MESSAGE, errorMessageOf } from './client';
import { apiError, json, mockFetch } from '../test/mockFetch';

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a failure');
}

describe('ApiClient', () => {
  it('sends the key as a Bearer token and parses JSON', async () => {
    const f = mockFetch(({ path, headers }) =>
      path === '/api/v1/me' ? json({ user: 'ann', role: 'admin', auth: true, auth_header: headers.get('authorization') }) : undefined,
    );
    const c = new ApiClient({ key: 'tgw_abc', fetch: f });
    const me = (await c.me()) as unknown as { auth_header: string };
    expect(me.auth_header).toBe('Bearer tgw_abc');
  });

  it('sends no Authorization header without a key', async () => {
    const f = mockFetch(({ headers }) => json({ has: headers.has('authorization') }));
    const c = new ApiClient({ key: null, fetch: f });
    expect(await c.json('/x')).toEqual({ has: false });
  });

  it('maps 401 to "This key was not accepted" and calls onUnauthorized', async () => {
    const onUnauthorized = vi.fn();
    const c = new ApiClient({ key: 'bad', fetch: mockFetch(() => apiError(401, 'invalid API key')), onUnauthorized });
    const e = await failure(c.me());
    expect(e.kind).toBe('unauthorized');
    expect(e.message).toBe(BAD_KEY_MESSAGE);
    expect(e.serverMessage).toBe('invalid API key');
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it('maps 403 to forbidden with the gateway message', async () => {
    const c = new ApiClient({ key: 'k', fetch: mockFetch(() => apiError(403, 'this route needs an admin key')) });
    const e = await failure(c.users());
    expect(e.kind).toBe('forbidden');
    expect(e.status).toBe(403);
    expect(e.message).toBe('this route needs an admin key');
  });

  it('uses a readable default for 403 without a body', async () => {
    const c = new ApiClient({ key: 'k', fetch: mockFetch(() => new Response('', { status: 403 })) });
    expect((await failure(c.users())).message).toBe(FORBIDDEN_MESSAGE);
  });

  it('shows the gateway message for other errors', async () => {
    const c = new ApiClient({ key: 'k', fetch: mockFetch(() => apiError(409, 'user ann already exists')) });
    const e = await failure(c.createUser({ name: 'ann', role: 'user' }));
    expect(e.kind).toBe('http');
    expect(e.status).toBe(409);
    expect(e.message).toBe('user ann already exists');
  });

  it('falls back to the status for bodies that are not gatewayd errors', async () => {
    const c = new ApiClient({ key: 'k', fetch: mockFetch(() => new Response('', { status: 502, statusText: 'Bad Gateway' })) });
    expect((await failure(c.me())).message).toBe('The gateway answered 502 Bad Gateway.');
    const c2 = new ApiClient({ key: 'k', fetch: mockFetch(() => new Response('upstream is down', { status: 503 })) });
    expect((await failure(c2.me())).message).toBe('upstream is down');
  });

  it('maps network failures to a network error', async () => {
    const c = new ApiClient({
      key: 'k',
      fetch: vi.fn(async () => {
        throw new TypeError('Failed to fetch');
      }),
    });
    const e = await failure(c.me());
    expect(e.kind).toBe('network');
    expect(e.message).toBe(NETWORK_MESSAGE);
  });

  it('lets aborts through untouched', async () => {
    const abort = new DOMException('aborted', 'AbortError');
    const c = new ApiClient({
      key: 'k',
      fetch: vi.fn(async () => {
        throw abort;
      }),
    });
    await expect(c.me()).rejects.toBe(abort);
  });

  it('treats 204 as no content', async () => {
    const c = new ApiClient({ key: 'k', fetch: mockFetch(() => new Response(null, { status: 204 })) });
    await expect(c.revokeKey('key_1')).resolves.toBeUndefined();
  });

  it('builds ledger queries without empty filters, and drops user/key for own-key requests', async () => {
    const f = mockFetch(({ url }) => json({ data: [], has_more: false, q: url.pathname + url.search }));
    const c = new ApiClient({ key: 'k', fetch: f });
    const a = (await c.requests(true, { limit: 50, offset: 0, model: 'loopback', user: '', status: 'error' })) as unknown as { q: string };
    expect(a.q).toBe('/api/v1/admin/requests?limit=50&offset=0&model=loopback&status=error');
    const b = (await c.requests(false, { limit: 50, offset: 50, user: 'ann', key: 'key_1' })) as unknown as { q: string };
    expect(b.q).toBe('/api/v1/requests?limit=50&offset=50');
  });

  it('reads error messages of both protocols', () => {
    expect(errorMessageOf({ error: { message: 'openai style' } })).toBe('openai style');
    expect(errorMessageOf({ type: 'error', error: { type: 'x', message: 'anthropic style' } })).toBe('anthropic style');
    expect(errorMessageOf({ error: 'plain' })).toBe('plain');
    expect(errorMessageOf(null)).toBeUndefined();
  });
});
