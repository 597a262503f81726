import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { CreatedKey, KeyInfo, NewKeyBody } from '../api/types';
import { Icon } from '../components/Icon';
import { KeyCreatedDialog } from '../components/KeyCreatedDialog';
import { ConfirmDialog } from '../components/Modal';
import { ErrorState, Forbidden, Spinner } from '../components/States';
import { formatDateTime, formatInt, formatRelative, formatUsd, splitList } from '../lib/format';
import { useResource } from '../lib/hooks';
import { useSession } from '../session';

export function keyState(k: KeyInfo, now = Date.now()): 'revoked' | 'expired' | 'active' {
  if (k.revoked) return 'revoked';
  if (k.expires_at && Date.parse(k.expires_at) <= now) return 'expired';
  return 'active';
}

export function Keys() {
  const { client, isAdmin } = useSession();
  const keys = useResource(() => (isAdmin ? client.keys() : Promise.resolve([])), [client, isAdmin]);
  const users = useResource(() => (isAdmin ? client.users() : Promise.resolve([])), [client, isAdmin]);
  const [showForm, setShowForm] = useState(false);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [revoking, setRevoking] = useState<KeyInfo | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<string | undefined>();
  const [showRevoked, setShowRevoked] = useState(false);

  if (!isAdmin) return <div className="page"><Forbidden /></div>;

  const revoke = async () => {
    if (!revoking) return;
    setRevokeBusy(true);
    setRevokeError(undefined);
    try {
      await client.revokeKey(revoking.id);
      setRevoking(null);
      keys.reload();
    } catch (e) {
      setRevokeError(e instanceof Error ? e.message : String(e));
    } finally {
      setRevokeBusy(false);
    }
  };

  const list = (keys.data ?? []).filter((k) => showRevoked || keyState(k) === 'active');
  const hidden = (keys.data ?? []).length - list.length;

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>API keys</h1>
          <p className="muted">Keys authenticate clients. Only a hash is stored; a new key is shown once.</p>
        </div>
        <button type="button" className="btn btn-primary" onClick={() => setShowForm((s) => !s)} aria-expanded={showForm}>
          <Icon name="plus" size={16} /> New key
        </button>
      </header>
      {showForm ? (
        <NewKeyForm
          users={(users.data ?? []).map((u) => u.name)}
          onCancel={() => setShowForm(false)}
          onCreate={async (body) => {
            const k = await client.createKey(body);
            setShowForm(false);
            setCreated(k);
            keys.reload();
          }}
        />
      ) : null}
      {keys.error ? <ErrorState error={keys.error} onRetry={keys.reload} /> : null}
      {!keys.data && keys.loading ? <Spinner /> : null}
      {keys.data ? (
        <section className="card">
          <div className="card-head">
            <h2 className="card-title">
              {list.length} {showRevoked ? 'keys' : 'active keys'}
            </h2>
            <label className="check">
              <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} />
              Show revoked and expired{hidden > 0 && !showRevoked ? ` (${hidden})` : ''}
            </label>
          </div>
          {list.length === 0 ? (
            <p className="muted empty-row">No keys yet. Create one for each app or person that calls the gateway.</p>
          ) : (
            <div className="table-wrap">
              <table className="table table-cards" data-testid="keys-table">
                <thead>
                  <tr>
                    <th>Key</th>
                    <th>User</th>
                    <th>Limits</th>
                    <th>Models</th>
                    <th>Created</th>
                    <th>Expires</th>
                    <th>State</th>
                    <th aria-label="Actions" />
                  </tr>
                </thead>
                <tbody>
                  {list.map((k) => {
                    const st = keyState(k);
                    return (
                      <tr key={k.id} data-key-id={k.id}>
                        <td data-label="Key">
                          <strong>{k.name || 'unnamed'}</strong>
                          <div className="muted tiny mono">
                            {k.id}
                            {k.prefix ? ` · ${k.prefix}…` : ''}
                          </div>
                        </td>
                        <td data-label="User">{k.user}</td>
                        <td data-label="Limits" className="small">
                          <Limits k={k} />
                        </td>
                        <td data-label="Models" className="small">
                          {k.models.length ? k.models.map((m) => <code key={m} className="chip">{m}</code>) : <span className="muted">all</span>}
                        </td>
                        <td data-label="Created" className="small" title={formatDateTime(k.created_at)}>
                          {formatRelative(k.created_at)}
                        </td>
                        <td data-label="Expires" className="small" title={k.expires_at ? formatDateTime(k.expires_at) : ''}>
                          {k.expires_at ? formatRelative(k.expires_at) : <span className="muted">never</span>}
                        </td>
                        <td data-label="State">
                          <span className={`badge ${st === 'active' ? 'badge-ok' : 'badge-bad'}`}>{st}</span>
                        </td>
                        <td className="actions">
                          {st !== 'revoked' ? (
                            <button
                              type="button"
                              className="btn btn-small btn-danger-ghost"
                              onClick={() => {
                                setRevokeError(undefined);
                                setRevoking(k);
                              }}
                            >
                              Revoke
                            </button>
                          ) : null}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ) : null}
      {created ? <KeyCreatedDialog created={created} onClose={() => setCreated(null)} /> : null}
      {revoking ? (
        <ConfirmDialog
          title="Revoke this key?"
          confirmLabel="Revoke key"
          onConfirm={revoke}
          onCancel={() => setRevoking(null)}
          busy={revokeBusy}
          error={revokeError}
        >
          <p>
            <strong>{revoking.name || revoking.id}</strong> of <strong>{revoking.user}</strong> will stop working within 5
            seconds on every gateway instance. This cannot be undone.
          </p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function Limits({ k }: { k: KeyInfo }) {
  const parts: string[] = [];
  if (k.rpm != null) parts.push(`${formatInt(k.rpm)} req/min`);
  if (k.tpm != null) parts.push(`${formatInt(k.tpm)} tok/min`);
  if (k.budget_usd != null) parts.push(`budget ${formatUsd(k.budget_usd)}`);
  if (parts.length === 0) return <span className="muted">defaults</span>;
  return <>{parts.join(' · ')}</>;
}

function optNumber(s: string): number | undefined {
  const t = s.trim();
  if (!t) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : NaN;
}

function NewKeyForm({
  users,
  onCreate,
  onCancel,
}: {
  users: string[];
  onCreate: (b: NewKeyBody) => Promise<void>;
  onCancel: () => void;
}) {
  const [user, setUser] = useState('');
  const [name, setName] = useState('');
  const [rpm, setRpm] = useState('');
  const [tpm, setTpm] = useState('');
  const [budget, setBudget] = useState('');
  const [models, setModels] = useState('');
  const [expires, setExpires] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const effectiveUser = user || users[0] || '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const body: NewKeyBody = { user: effectiveUser.trim() };
    if (!body.user) return setError('Choose the user this key belongs to (create a user first).');
    if (name.trim()) body.name = name.trim();
    const nums: [string, string, 'rpm' | 'tpm' | 'budget_usd'][] = [
      ['Requests per minute', rpm, 'rpm'],
      ['Tokens per minute', tpm, 'tpm'],
      ['Budget', budget, 'budget_usd'],
    ];
    for (const [label, raw, field] of nums) {
      const n = optNumber(raw);
      if (n === undefined) continue;
      if (Number.isNaN(n) || n < 0) return setError(`${label} must be a positive number.`);
      body[field] = field === 'budget_usd' ? n : Math.round(n);
    }
    const globs = splitList(models);
    if (globs.length) body.models = globs;
    if (expires.trim()) body.expires = expires.trim();
    setBusy(true);
    try {
      await onCreate(body);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-grid" onSubmit={submit} aria-label="New key">
      <h2 className="card-title span-all">New key</h2>
      <label>
        User
        {users.length > 0 ? (
          <select value={effectiveUser} onChange={(e) => setUser(e.target.value)} name="user" required>
            {users.map((u) => (
              <option key={u} value={u}>
                {u}
              </option>
            ))}
          </select>
        ) : (
          <input value={user} onChange={(e) => setUser(e.target.value)} name="user" placeholder="user name" required />
        )}
      </label>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} name="name" placeholder="e.g. laptop, ci" />
      </label>
      <label>
        Requests / minute
        <input value={rpm} onChange={(e) => setRpm(e.target.value)} name="rpm" inputMode="numeric" placeholder="default" />
      </label>
      <label>
        Tokens / minute
        <input value={tpm} onChange={(e) => setTpm(e.target.value)} name="tpm" inputMode="numeric" placeholder="default" />
      </label>
      <label>
        Budget (USD)
        <input value={budget} onChange={(e) => setBudget(e.target.value)} name="budget_usd" inputMode="decimal" placeholder="unlimited" />
      </label>
      <label>
        Expires after
        <input value={expires} onChange={(e) => setExpires(e.target.value)} name="expires" placeholder="never, or 30d, 12h" />
      </label>
      <label className="span-all">
        Models (globs, comma separated)
        <input value={models} onChange={(e) => setModels(e.target.value)} name="models" placeholder="all models, or e.g. gpt-*, claude-*" />
      </label>
      {error ? (
        <p className="form-error span-all" role="alert">
          {error}
        </p>
      ) : null}
      <div className="form-actions span-all">
        <button type="button" className="btn btn-ghost" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </div>
    </form>
  );
}
