import { describe, expect, it, vi } from 'vitest';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App, EXPIRED_MESSAGE } from './App';
import { ADMIN_KEY, USER_KEY, apiError, dashboardHandler, json, meHandler, mockFetch } from './test/mockFetch';

async function signIn(key: string) {
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText('API key'), key);
  await user.click(screen.getByRole('button', { name: 'Sign in' }));
  return user;
}

describe('sign-in flow', () => {
  it('asks for a key when auth is on, and rejects a bad key', async () => {
    const f = mockFetch(meHandler, dashboardHandler);
    render(<App h5={false} fetchFn={f} />);
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    await signIn('tgw_wrong');
    expect(await screen.findByTestId('signin-error')).toHaveTextContent('This key was not accepted');
    expect(sessionStorage.getItem('tokgateway.apiKey')).toBeNull();
  });

  it('signs in with a good key, keeps it in sessionStorage only, and signs out', async () => {
    const f = mockFetch(meHandler, dashboardHandler);
    render(<App h5={false} fetchFn={f} />);
    const user = await signIn(ADMIN_KEY);
    expect(await screen.findByRole('heading', { name: 'Dashboard' })).toBeInTheDocument();
    expect(sessionStorage.getItem('tokgateway.apiKey')).toBe(ADMIN_KEY);
    expect(localStorage.length).toBe(0);
    expect(window.location.href).not.toContain(ADMIN_KEY);
    // Admin navigation is there.
    for (const name of ['Keys', 'Users', 'Providers']) {
      expect(screen.getByRole('link', { name })).toBeInTheDocument();
    }
    await waitFor(() => expect(screen.getByTestId('total-requests')).toHaveAttribute('data-value', '0'));
    await user.click(screen.getByTestId('sign-out'));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(sessionStorage.getItem('tokgateway.apiKey')).toBeNull();
  });

  it('skips sign-in when auth is off', async () => {
    const f = mockFetch(({ path }) => (path === '/api/v1/me' ? json({ user: null, key_id: null, role: 'admin', auth: false }) : undefined), dashboardHandler);
    render(<App h5={false} fetchFn={f} />);
    expect(await screen.findByRole('heading', { name: 'Dashboard' })).toBeInTheDocument();
    expect(screen.getByText(/Authentication is off/)).toBeInTheDocument();
    expect(screen.queryByTestId('sign-out')).toBeNull();
  });

  it('hides admin pages from a non-admin key and shows the forbidden state', async () => {
    const f = mockFetch(meHandler, dashboardHandler);
    render(<App h5={false} fetchFn={f} />);
    await signIn(USER_KEY);
    expect(await screen.findByRole('heading', { name: 'Dashboard' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Users' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Keys' })).toBeNull();
    window.location.hash = '#/users';
    expect(await screen.findByTestId('forbidden')).toHaveTextContent('needs an admin key');
  });

  it('goes back to sign-in with a message when the key stops working', async () => {
    let revoked = false;
    const f = mockFetch(
      (r) => (revoked && r.path !== '/metrics/resource' ? apiError(401, 'invalid API key') : undefined),
      meHandler,
      dashboardHandler,
      ({ path }) => (path === '/api/v1/admin/users' ? json([]) : undefined),
    );
    render(<App h5={false} fetchFn={f} />);
    await signIn(ADMIN_KEY);
    expect(await screen.findByRole('heading', { name: 'Dashboard' })).toBeInTheDocument();
    revoked = true;
    window.location.hash = '#/users';
    expect(await screen.findByTestId('signin-notice')).toHaveTextContent(EXPIRED_MESSAGE);
    expect(sessionStorage.getItem('tokgateway.apiKey')).toBeNull();
  });

  it('resumes a session from sessionStorage, and says so when that key was revoked meanwhile', async () => {
    sessionStorage.setItem('tokgateway.apiKey', 'tgw_revoked');
    render(<App h5={false} fetchFn={mockFetch(meHandler, dashboardHandler)} />);
    expect(await screen.findByTestId('signin-notice')).toHaveTextContent(EXPIRED_MESSAGE);
  });

  it('shows a retry banner when the gateway is unreachable', async () => {
    let down = true;
    const f = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      if (down) throw new TypeError('Failed to fetch');
      return mockFetch(meHandler, dashboardHandler)(input, init);
    });
    render(<App h5={false} fetchFn={f as unknown as typeof fetch} />);
    expect(await screen.findByTestId('network-banner')).toHaveTextContent('could not be reached');
    down = false;
    await userEvent.setup().click(screen.getByRole('button', { name: /Retry/ }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
  });

  it('renders the phone layout with a bottom tab bar in h5 mode', async () => {
    const f = mockFetch(meHandler, dashboardHandler);
    render(<App h5 fetchFn={f} />);
    await signIn(ADMIN_KEY);
    const tabbar = await screen.findByTestId('tabbar');
    expect(tabbar).toBeInTheDocument();
    expect(document.documentElement).toHaveClass('h5');
    expect(tabbar.querySelectorAll('a')).toHaveLength(5);
  });
});
