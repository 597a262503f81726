import { describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { KeyCreatedDialog } from './KeyCreatedDialog';
import { App } from '../App';
import type { KeyInfo } from '../api/types';
import { ADMIN_KEY, json, meHandler, mockFetch } from '../test/mockFetch';

const CREATED = { id: 'key_9f8e7d', key: 'tgw_SECRETsecretSECRETsecret0123456789abcdef', user: 'ann' };

describe('KeyCreatedDialog', () => {
  it('shows the key with a warning and copies it', async () => {
    const copy = vi.fn(async () => true);
    const onClose = vi.fn();
    render(<KeyCreatedDialog created={CREATED} onClose={onClose} copy={copy} />);
    const dialog = screen.getByRole('dialog', { name: 'Your new API key' });
    expect(within(dialog).getByTestId('new-key')).toHaveTextContent(CREATED.key);
    expect(dialog).toHaveTextContent("you won’t see it again");
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Copy key' }));
    expect(copy).toHaveBeenCalledWith(CREATED.key);
    expect(await screen.findByText('Copied to the clipboard.')).toBeInTheDocument();
    // Escape does not dismiss it by accident.
    await user.keyboard('{Escape}');
    expect(onClose).not.toHaveBeenCalled();
    await user.click(screen.getByRole('button', { name: 'I have stored it' }));
    expect(onClose).toHaveBeenCalledOnce();
  });

  it('says so when copying fails', async () => {
    render(<KeyCreatedDialog created={CREATED} onClose={() => {}} copy={async () => false} />);
    await userEvent.setup().click(screen.getByRole('button', { name: 'Copy key' }));
    expect(await screen.findByText(/Could not copy automatically/)).toBeInTheDocument();
  });
});

describe('Keys page', () => {
  it('creates a key, shows it once, and revokes with confirmation', async () => {
    const keys: KeyInfo[] = [
      { id: 'key_admin', name: 'console', user: 'root', created_at: '2026-11-28T10:00:00Z', expires_at: null, revoked: false, rpm: null, tpm: null, budget_usd: null, models: [] },
    ];
    let created: unknown;
    const revoked: string[] = [];
    const f = mockFetch(meHandler, ({ path, method, body }) => {
      if (path === '/api/v1/admin/users') return json([{ name: 'root', email: null, role: 'admin', created_at: '2026-11-28T10:00:00Z' }, { name: 'ann', email: null, role: 'user', created_at: '2026-11-28T10:00:00Z' }]);
      if (path === '/api/v1/admin/keys' && method === 'GET') return json(keys);
      if (path === '/api/v1/admin/keys' && method === 'POST') {
        created = body;
        const info = { id: 'key_new', name: 'ci', user: 'ann', created_at: '2026-11-29T06:00:00Z', expires_at: null, revoked: false, rpm: 60, tpm: null, budget_usd: 2.5, models: ['gpt-*'] };
        keys.push(info);
        return json({ id: 'key_new', key: CREATED.key, user: 'ann', info }, 201);
      }
      if (path.startsWith('/api/v1/admin/keys/') && method === 'DELETE') {
        revoked.push(path.split('/').pop()!);
        keys[1] = { ...keys[1], revoked: true };
        return new Response(null, { status: 204 });
      }
      return undefined;
    });
    sessionStorage.setItem('tokgateway.apiKey', ADMIN_KEY);
    window.location.hash = '#/keys';
    render(<App h5={false} fetchFn={f} />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /New key/ }));
    const form = screen.getByRole('form', { name: 'New key' });
    await user.selectOptions(within(form).getByLabelText('User'), 'ann');
    await user.type(within(form).getByLabelText('Name'), 'ci');
    await user.type(within(form).getByLabelText('Requests / minute'), '60');
    await user.type(within(form).getByLabelText('Budget (USD)'), '2.5');
    await user.type(within(form).getByLabelText(/Models/), 'gpt-*');
    await user.click(within(form).getByRole('button', { name: 'Create key' }));
    expect(created).toEqual({ user: 'ann', name: 'ci', rpm: 60, budget_usd: 2.5, models: ['gpt-*'] });
    expect(await screen.findByTestId('new-key')).toHaveTextContent(CREATED.key);
    await user.click(screen.getByRole('button', { name: 'I have stored it' }));
    // Gone for good once the dialog is closed.
    await waitFor(() => expect(screen.queryByText(CREATED.key)).toBeNull());
    expect(document.body.innerHTML).not.toContain(CREATED.key);
    // The list shows the new key with its limits.
    const row = await screen.findByText('ci');
    const tr = row.closest('tr')!;
    expect(tr).toHaveTextContent('60 req/min');
    expect(tr).toHaveTextContent('budget $2.50');
    await user.click(within(tr).getByRole('button', { name: 'Revoke' }));
    const confirm = screen.getByRole('dialog', { name: 'Revoke this key?' });
    await user.click(within(confirm).getByRole('button', { name: 'Revoke key' }));
    expect(revoked).toEqual(['key_new']);
    await waitFor(() => expect(screen.queryByText('ci')).toBeNull());
  });

  it('shows the gateway message when creating fails', async () => {
    const f = mockFetch(meHandler, ({ path, method }) => {
      if (path === '/api/v1/admin/users') return json([]);
      if (path === '/api/v1/admin/keys' && method === 'GET') return json([]);
      if (path === '/api/v1/admin/keys' && method === 'POST') return json({ error: { message: 'no user named ghost' } }, 404);
      return undefined;
    });
    sessionStorage.setItem('tokgateway.apiKey', ADMIN_KEY);
    window.location.hash = '#/keys';
    render(<App h5={false} fetchFn={f} />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /New key/ }));
    const form = screen.getByRole('form', { name: 'New key' });
    await user.type(within(form).getByLabelText('User'), 'ghost');
    await user.click(within(form).getByRole('button', { name: 'Create key' }));
    expect(await within(form).findByRole('alert')).toHaveTextContent('no user named ghost');
  });
});
