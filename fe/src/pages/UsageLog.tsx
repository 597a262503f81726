import { useState, type FormEvent } from 'react';
import type { LedgerQuery, LedgerRow } from '../api/types';
import { ErrorState, Spinner } from '../components/States';
import { Icon } from '../components/Icon';
import { formatDateTime, formatInt, formatMs, formatUsd } from '../lib/format';
import { useResource } from '../lib/hooks';
import { useSession } from '../session';

const PAGE = 50;

const SINCE = [
  { id: '', label: 'Any time' },
  { id: '1h', label: 'Last hour' },
  { id: '24h', label: 'Last 24 hours' },
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
];

interface Filters {
  model: string;
  user: string;
  key: string;
  status: '' | 'ok' | 'error';
  since: string;
}

const EMPTY: Filters = { model: '', user: '', key: '', status: '', since: '' };

export function UsageLog() {
  const { client, isAdmin } = useSession();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [offset, setOffset] = useState(0);
  // Phones get the table first; the filters open on demand.
  const [showFilters, setShowFilters] = useState(!__H5__);
  const active = Object.values(filters).filter(Boolean).length;
  const q: LedgerQuery = { limit: PAGE, offset, ...filters };
  const page = useResource(() => client.requests(isAdmin, q), [client, isAdmin, offset, JSON.stringify(filters)]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ ...draft, model: draft.model.trim(), user: draft.user.trim(), key: draft.key.trim() });
    setOffset(0);
  };
  const reset = () => {
    setDraft(EMPTY);
    setFilters(EMPTY);
    setOffset(0);
  };
  const set = <K extends keyof Filters>(k: K, v: Filters[K]) => setDraft((d) => ({ ...d, [k]: v }));
  const rows = page.data?.data ?? [];

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Usage log</h1>
          <p className="muted">{isAdmin ? 'Every request in the ledger, newest first' : 'Requests made with your key, newest first'}</p>
        </div>
        <div className="head-actions">
          {__H5__ ? (
            <button type="button" className="btn" onClick={() => setShowFilters((v) => !v)} aria-expanded={showFilters}>
              Filters{active ? ` (${active})` : ''}
            </button>
          ) : null}
          <button type="button" className="btn" onClick={page.reload} aria-label="Refresh">
            <Icon name="refresh" size={16} /> Refresh
          </button>
        </div>
      </header>
      {showFilters ? (
        <form className="card filters" onSubmit={apply} aria-label="Filters">
          <label>
            Model
            <input value={draft.model} onChange={(e) => set('model', e.target.value)} placeholder="e.g. gpt-4o" name="model" />
          </label>
          {isAdmin ? (
            <>
              <label>
                User
                <input value={draft.user} onChange={(e) => set('user', e.target.value)} placeholder="user name" name="user" />
              </label>
              <label>
                Key
                <input value={draft.key} onChange={(e) => set('key', e.target.value)} placeholder="key id" name="key" />
              </label>
            </>
        ) : null}
        <label>
          Status
          <select value={draft.status} onChange={(e) => set('status', e.target.value as Filters['status'])} name="status">
            <option value="">All</option>
            <option value="ok">OK</option>
            <option value="error">Errors</option>
          </select>
        </label>
        <label>
          Since
          <select value={draft.since} onChange={(e) => set('since', e.target.value)} name="since">
            {SINCE.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <div className="filter-actions">
          <button type="submit" className="btn btn-primary">
            Apply
          </button>
          <button type="button" className="btn btn-ghost" onClick={reset}>
            Reset
          </button>
        </div>
      </form>
      ) : null}
      {page.error ? <ErrorState error={page.error} onRetry={page.reload} /> : null}
      {!page.data && page.loading ? <Spinner /> : null}
      {page.data ? (
        <section className="card">
          {rows.length === 0 ? (
            <p className="muted empty-row">No requests match these filters.</p>
          ) : (
            <div className="table-wrap">
              <table className="table table-cards" data-testid="ledger">
                <thead>
                  <tr>
                    <th>Time</th>
                    {isAdmin ? <th>User / key</th> : null}
                    <th>Model</th>
                    <th>Provider</th>
                    <th className="num">Tokens (p / c)</th>
                    <th className="num">Cost</th>
                    <th className="num">Latency</th>
                    <th className="num">TTFB</th>
                    <th>Status</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r) => (
                    <LedgerLine key={r.request_id} r={r} admin={isAdmin} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="pager">
            <button type="button" className="btn" disabled={offset === 0 || page.loading} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              <Icon name="chevronLeft" size={16} /> Newer
            </button>
            <span className="muted small" data-testid="page-info">
              {rows.length > 0 ? `${formatInt(offset + 1)}–${formatInt(offset + rows.length)}` : '0'}
              {page.data.has_more ? ' · more available' : ''}
            </span>
            <button type="button" className="btn" disabled={!page.data.has_more || page.loading} onClick={() => setOffset(offset + PAGE)}>
              Older <Icon name="chevronRight" size={16} />
            </button>
          </div>
        </section>
      ) : null}
    </div>
  );
}

function LedgerLine({ r, admin }: { r: LedgerRow; admin: boolean }) {
  const ok = r.status >= 200 && r.status < 400;
  return (
    <tr>
      <td data-label="Time">
        <span title={r.request_id}>{formatDateTime(r.time)}</span>
        <div className="muted tiny mono">{r.request_id}</div>
      </td>
      {admin ? (
        <td data-label="User / key">
          {r.user ?? '—'}
          <div className="muted tiny mono">{r.key_id ?? ''}</div>
        </td>
      ) : null}
      <td data-label="Model">
        <code>{r.requested_model || '—'}</code>
        {r.upstream_model && r.upstream_model !== r.requested_model ? <div className="muted tiny">→ {r.upstream_model}</div> : null}
        <div className="muted tiny">
          {r.endpoint}
          {r.streamed ? ' · stream' : ''}
        </div>
      </td>
      <td data-label="Provider">{r.provider || '—'}</td>
      <td className="num" data-label="Tokens">
        {formatInt(r.prompt_tokens)} / {formatInt(r.completion_tokens)}
      </td>
      <td className="num" data-label="Cost">{formatUsd(r.cost_usd)}</td>
      <td className="num" data-label="Latency">{formatMs(r.latency_ms)}</td>
      <td className="num" data-label="TTFB">{formatMs(r.ttfb_ms)}</td>
      <td data-label="Status">
        <span className={`badge ${ok ? 'badge-ok' : 'badge-bad'}`}>{r.status}</span>
        {r.error_type ? <div className="muted tiny">{r.error_type}</div> : null}
      </td>
    </tr>
  );
}
