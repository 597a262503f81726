import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../App';
import { fillDays } from './Dashboard';
import { keyState } from './Keys';
import { ADMIN_KEY, USER_KEY, apiError, dashboardHandler, json, meHandler, mockFetch } from '../test/mockFetch';
import type { LedgerRow, Role, User } from '../api/types';

function row(i: number, over: Partial<LedgerRow> = {}): LedgerRow {
  return {
    time: new Date(Date.UTC(2026, 10, 29, 6, 0, i)).toISOString(),
    request_id: `req_${String(i).padStart(3, '0')}`,
    user: 'root',
    key_id: 'key_admin',
    endpoint: '/v1/chat/completions',
    requested_model: 'loopback',
    upstream_model: 'loopback',
    provider: 'loopback',
    prompt_tokens: 10 + i,
    completion_tokens: 5,
    cost_usd: 0,
    latency_ms: 12,
    ttfb_ms: 3,
    status: 200,
    error_type: null,
    streamed: true,
    ...over,
  };
}

function startAt(route: string, key: string) {
  sessionStorage.setItem('tokgateway.apiKey', key);
  window.location.hash = `#/${route}`;
}

describe('usage log', () => {
  it('pages through the ledger and sends the filters', async () => {
    const queries: string[] = [];
    const all = Array.from({ length: 120 }, (_, i) => row(i));
    const f = mockFetch(meHandler, ({ path, url }) => {
      if (path !== '/api/v1/admin/requests') return undefined;
      queries.push(url.search);
      const limit = Number(url.searchParams.get('limit'));
      const offset = Number(url.searchParams.get('offset'));
      const status = url.searchParams.get('status');
      const rows = status === 'error' ? [row(999, { status: 502, error_type: 'upstream_error' })] : all;
      return json({ data: rows.slice(offset, offset + limit), has_more: offset + limit < rows.length });
    });
    startAt('usage', ADMIN_KEY);
    render(<App h5={false} fetchFn={f} />);
    const user = userEvent.setup();
    const table = await screen.findByTestId('ledger');
    expect(within(table).getAllByRole('row')).toHaveLength(51); // header + 50
    expect(screen.getByTestId('page-info')).toHaveTextContent('1–50 · more available');
    await user.click(screen.getByRole('button', { name: /Older/ }));
    await waitFor(() => expect(screen.getByTestId('page-info')).toHaveTextContent('51–100'));
    await user.click(screen.getByRole('button', { name: /Older/ }));
    await waitFor(() => expect(screen.getByTestId('page-info')).toHaveTextContent('101–120'));
    expect(screen.getByRole('button', { name: /Older/ })).toBeDisabled();
    await user.type(screen.getByLabelText('Model'), 'loopback');
    await user.type(screen.getByLabelText('User'), 'root');
    await user.selectOptions(screen.getByLabelText('Status'), 'error');
    await user.selectOptions(screen.getByLabelText('Since'), '24h');
    await user.click(screen.getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(screen.getByTestId('page-info')).toHaveTextContent('1–1'));
    expect(queries[queries.length - 1]).toBe('?limit=50&offset=0&model=loopback&user=root&status=error&since=24h');
    expect(screen.getByText('502')).toBeInTheDocument();
    expect(screen.getByText('upstream_error')).toBeInTheDocument();
  });

  it('uses the own-key endpoint and hides user/key filters for a non-admin key', async () => {
    const paths: string[] = [];
    const f = mockFetch(meHandler, ({ path }) => {
      if (path.endsWith('/requests')) {
        paths.push(path);
        return json({ data: [], has_more: false });
      }
      return undefined;
    });
    startAt('usage', USER_KEY);
    render(<App h5={false} fetchFn={f} />);
    expect(await screen.findByText('No requests match these filters.')).toBeInTheDocument();
    expect(paths).toEqual(['/api/v1/requests']);
    expect(screen.queryByLabelText('User')).toBeNull();
    expect(screen.queryByLabelText('Key')).toBeNull();
  });
});

describe('providers page', () => {
  it('shows health badges, routes and aliases', async () => {
    const f = mockFetch(meHandler, ({ path }) =>
      path === '/api/v1/admin/providers'
        ? json({
            providers: [
              { name: 'loopback', type: 'loopback', base_url: null, models: ['loopback'], requests: 4, errors: 0, last_error: null, last_error_at: null, healthy: true },
              { name: 'openai', type: 'openai', base_url: 'https://api.openai.com/v1', models: ['gpt-4o'], requests: 10, errors: 3, last_error: 'connect timed out', last_error_at: '2026-11-29T06:00:00Z', healthy: false, api_key_set: false },
            ],
            routes: [{ pattern: 'gpt-*', providers: ['openai', 'loopback'] }],
            aliases: { fast: 'gpt-4o-mini' },
          })
        : undefined,
    );
    startAt('providers', ADMIN_KEY);
    render(<App h5={false} fetchFn={f} />);
    const cards = await screen.findAllByTestId('health');
    expect(cards.map((c) => c.textContent?.trim())).toEqual(['healthy', 'unhealthy']);
    expect(screen.getByText('connect timed out', { exact: false })).toBeInTheDocument();
    expect(screen.getByText('openai → loopback')).toBeInTheDocument();
    expect(screen.getByText('gpt-4o-mini')).toBeInTheDocument();
    expect(screen.getByText('(30%)')).toBeInTheDocument();
  });

  it('shows the forbidden state when the gateway answers 403', async () => {
    const f = mockFetch(meHandler, ({ path }) => (path === '/api/v1/admin/providers' ? apiError(403, 'this route needs an admin key') : undefined));
    startAt('providers', ADMIN_KEY);
    render(<App h5={false} fetchFn={f} />);
    expect(await screen.findByTestId('forbidden')).toHaveTextContent('This page needs an admin key');
  });
});

describe('users page', () => {
  it('creates and deletes users, showing gatewayd errors', async () => {
    const users: User[] = [{ name: 'root', email: null, role: 'admin', created_at: '2026-11-28T10:00:00Z' }];
    const deleted: string[] = [];
    const f = mockFetch(meHandler, ({ path, method, body }) => {
      if (path === '/api/v1/admin/users' && method === 'GET') return json(users);
      if (path === '/api/v1/admin/users' && method === 'POST') {
        const b = body as { name: string; email?: string; role: Role };
        if (users.some((u) => u.name === b.name)) return apiError(409, `user ${b.name} already exists`);
        users.push({ name: b.name, email: b.email ?? null, role: b.role, created_at: '2026-11-29T06:00:00Z' });
        return json(users[users.length - 1], 201);
      }
      if (path.startsWith('/api/v1/admin/users/') && method === 'DELETE') {
        const name = decodeURIComponent(path.split('/').pop()!);
        deleted.push(name);
        users.splice(users.findIndex((u) => u.name === name), 1);
        return new Response(null, { status: 204 });
      }
      return undefined;
    });
    startAt('users', ADMIN_KEY);
    render(<App h5={false} fetchFn={f} />);
    const user = userEvent.setup();
    await screen.findByTestId('users-table');
    const form = screen.getByRole('form', { name: 'New user' });
    await user.type(within(form).getByLabelText('Name'), 'root');
    await user.click(within(form).getByRole('button', { name: /Add user/ }));
    expect(await within(form).findByRole('alert')).toHaveTextContent('user root already exists');
    await user.clear(within(form).getByLabelText('Name'));
    await user.type(within(form).getByLabelText('Name'), 'ann');
    await user.type(within(form).getByLabelText('Email'), 'ann@example.com');
    await user.selectOptions(within(form).getByLabelText('Role'), 'admin');
    await user.click(within(form).getByRole('button', { name: /Add user/ }));
    expect(await screen.findByText('ann@example.com')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Delete ann' }));
    const dialog = screen.getByRole('dialog', { name: 'Delete ann?' });
    expect(dialog).toHaveTextContent('Every key of ann is revoked');
    await user.click(within(dialog).getByRole('button', { name: 'Delete user' }));
    await waitFor(() => expect(screen.queryByText('ann@example.com')).toBeNull());
    expect(deleted).toEqual(['ann']);
  });
});

describe('dashboard', () => {
  it('reads the non-admin usage endpoint for a user key', async () => {
    const paths: string[] = [];
    const f = mockFetch(meHandler, (r) => {
      if (r.path.includes('usage')) paths.push(r.path + r.url.search);
      return dashboardHandler(r);
    });
    startAt('dashboard', USER_KEY);
    render(<App h5={false} fetchFn={f} />);
    await waitFor(() => expect(screen.getByTestId('total-requests')).toBeInTheDocument());
    expect(paths.sort()).toEqual(['/api/v1/usage?by=day&since=30d', '/api/v1/usage?by=model&since=30d']);
    expect(await screen.findByTestId('gauge-cpu')).toBeInTheDocument();
  });

  it('fills days without traffic with zeros', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    const rows = fillDays([{ group: '2026-11-28', requests: 2, prompt_tokens: 10, completion_tokens: 4, cost_usd: 0.01 }], 3, now);
    expect(rows.map((r) => [r.group, r.requests])).toEqual([
      ['2026-11-27', 0],
      ['2026-11-28', 2],
      ['2026-11-29', 0],
    ]);
  });
});

describe('keyState', () => {
  const base = { id: 'k', name: null, user: 'u', created_at: '', expires_at: null, revoked: false, rpm: null, tpm: null, budget_usd: null, models: [] };
  it('tells active, expired and revoked keys apart', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(keyState(base, now)).toBe('active');
    expect(keyState({ ...base, expires_at: '2026-11-29T11:00:00Z' }, now)).toBe('expired');
    expect(keyState({ ...base, expires_at: '2026-12-29T11:00:00Z' }, now)).toBe('active');
    expect(keyState({ ...base, revoked: true }, now)).toBe('revoked');
  });
});
