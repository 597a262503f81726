import { useState, type FormEvent } from 'react';
import { ApiClient, ApiError, BAD_KEY_MESSAGE } from '../api/client';
import type { Me } from '../api/types';
import { Icon } from '../components/Icon';

/** Checks a key against GET /api/v1/me. */
export async function checkKey(key: string, fetchFn?: typeof fetch): Promise<Me> {
  return new ApiClient({ key, fetch: fetchFn }).me();
}

export function SignIn({
  onSignedIn,
  notice,
  check = checkKey,
}: {
  onSignedIn: (key: string, me: Me) => void;
  /** Why the person is here again, e.g. their key was revoked. */
  notice?: string;
  check?: (key: string) => Promise<Me>;
}) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; network: boolean } | null>(null);

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    const k = key.trim();
    if (!k) {
      setError({ message: 'Paste an API key first.', network: false });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const me = await check(k);
      onSignedIn(k, me);
    } catch (err) {
      if (err instanceof ApiError && err.kind === 'unauthorized') {
        setError({ message: BAD_KEY_MESSAGE + (err.serverMessage ? ` (${err.serverMessage})` : ''), network: false });
      } else if (err instanceof ApiError) {
        setError({ message: err.message, network: err.kind === 'network' });
      } else {
        setError({ message: String(err), network: false });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={submit} aria-label="Sign in">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true">
            tg
          </span>
          <span>tokgateway</span>
        </div>
        <h1>Sign in</h1>
        <p className="muted">Use an API key of this gateway. It stays in this browser tab only and is sent as a Bearer token.</p>
        {notice ? (
          <div className="banner banner-warn" role="status" data-testid="signin-notice">
            <Icon name="alert" />
            <span>{notice}</span>
          </div>
        ) : null}
        <label>
          API key
          <input
            type="password"
            name="api-key"
            autoComplete="off"
            spellCheck={false}
            placeholder="tgw_…"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            autoFocus
            aria-invalid={error ? true : undefined}
          />
        </label>
        {error ? (
          <div className="form-error" role="alert" data-testid="signin-error">
            {error.message}
            {error.network ? (
              <button type="button" className="btn btn-small" onClick={() => void submit()}>
                Retry
              </button>
            ) : null}
          </div>
        ) : null}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="muted small">
          No key yet? An operator creates one with <code>gateway keys create --user NAME</code>.
        </p>
      </form>
    </main>
  );
}
