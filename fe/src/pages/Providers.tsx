import { ErrorState, Forbidden, Spinner } from '../components/States';
import { formatDateTime, formatInt, formatPercent, formatRelative } from '../lib/format';
import { useResource } from '../lib/hooks';
import { useSession } from '../session';
import { Icon } from '../components/Icon';
import type { ProvidersInfo } from '../api/types';

export function Providers() {
  const { client, isAdmin } = useSession();
  const info = useResource(
    () => (isAdmin ? client.providers() : Promise.resolve({ providers: [], routes: [], aliases: {} } as ProvidersInfo)),
    [client, isAdmin],
  );
  if (!isAdmin) return <div className="page"><Forbidden /></div>;
  const aliases = Object.entries(info.data?.aliases ?? {});
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Providers &amp; routes</h1>
          <p className="muted">Upstreams this gateway sends requests to, and how model names reach them.</p>
        </div>
        <button type="button" className="btn" onClick={info.reload}>
          <Icon name="refresh" size={16} /> Refresh
        </button>
      </header>
      {info.error ? <ErrorState error={info.error} onRetry={info.reload} /> : null}
      {!info.data && info.loading ? <Spinner /> : null}
      {info.data ? (
        <>
          <section className="provider-grid" data-testid="providers">
            {info.data.providers.length === 0 ? <p className="muted">No providers are configured.</p> : null}
            {info.data.providers.map((p) => {
              const rate = p.requests > 0 ? (p.errors / p.requests) * 100 : 0;
              return (
                <article key={p.name} className="card provider" data-provider={p.name}>
                  <div className="card-head">
                    <h2 className="card-title">
                      {p.name} <span className="muted small">{p.type}</span>
                    </h2>
                    <span className={`badge ${p.healthy ? 'badge-ok' : 'badge-bad'}`} data-testid="health">
                      <span className="dot" aria-hidden="true" /> {p.healthy ? 'healthy' : 'unhealthy'}
                    </span>
                  </div>
                  {p.base_url ? <div className="mono small muted break">{p.base_url}</div> : null}
                  <dl className="facts compact">
                    <div>
                      <dt>Requests</dt>
                      <dd>{formatInt(p.requests)}</dd>
                    </div>
                    <div>
                      <dt>Errors</dt>
                      <dd>
                        {formatInt(p.errors)}
                        {p.requests > 0 ? <span className="muted"> ({formatPercent(rate)})</span> : null}
                      </dd>
                    </div>
                    {p.api_key_set !== undefined && p.type !== 'loopback' ? (
                      <div>
                        <dt>API key</dt>
                        <dd>{p.api_key_set ? 'set' : <span className="muted">not set</span>}</dd>
                      </div>
                    ) : null}
                  </dl>
                  {p.models.length ? (
                    <div className="chips">
                      {p.models.map((m) => (
                        <code key={m} className="chip">
                          {m}
                        </code>
                      ))}
                    </div>
                  ) : null}
                  {p.last_error ? (
                    <div className="banner banner-error small">
                      <Icon name="alert" size={16} />
                      <span>
                        {p.last_error}
                        {p.last_error_at ? (
                          <span className="muted" title={formatDateTime(p.last_error_at)}>
                            {' '}
                            · {formatRelative(p.last_error_at)}
                          </span>
                        ) : null}
                      </span>
                    </div>
                  ) : null}
                </article>
              );
            })}
          </section>
          <section className="grid-2">
            <div className="card">
              <h2 className="card-title">Routes</h2>
              <p className="muted small">First matching pattern wins; providers are tried in order.</p>
              {info.data.routes.length === 0 ? (
                <p className="muted">No routes: models go to the provider that lists them.</p>
              ) : (
                <table className="table">
                  <thead>
                    <tr>
                      <th>Pattern</th>
                      <th>Providers</th>
                    </tr>
                  </thead>
                  <tbody>
                    {info.data.routes.map((r) => (
                      <tr key={r.pattern}>
                        <td>
                          <code>{r.pattern}</code>
                        </td>
                        <td>{r.providers.join(' → ')}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
            <div className="card">
              <h2 className="card-title">Aliases</h2>
              {aliases.length === 0 ? (
                <p className="muted">No aliases.</p>
              ) : (
                <table className="table">
                  <thead>
                    <tr>
                      <th>Public name</th>
                      <th>Upstream model</th>
                    </tr>
                  </thead>
                  <tbody>
                    {aliases.map(([a, t]) => (
                      <tr key={a}>
                        <td>
                          <code>{a}</code>
                        </td>
                        <td>
                          <code>{t}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </div>
          </section>
        </>
      ) : null}
    </div>
  );
}
