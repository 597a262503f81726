import { Icon, type IconName } from '../components/Icon';
import { formatInt, formatUsd } from '../lib/format';
import type { Route } from '../lib/router';
import { useSession } from '../session';

/** Account details, plus (on phones) the pages that do not fit the tab bar. */
export function More({ go }: { go: (r: Route) => void }) {
  const { me, isAdmin, signOut } = useSession();
  const links: { route: Route; label: string; icon: IconName; admin: boolean }[] = [
    { route: 'users', label: 'Users', icon: 'users', admin: true },
    { route: 'providers', label: 'Providers & routes', icon: 'providers', admin: true },
    { route: 'keys', label: 'API keys', icon: 'keys', admin: true },
  ];
  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Account</h1>
        </div>
      </header>
      <section className="card">
        <dl className="facts">
          <div>
            <dt>Signed in as</dt>
            <dd data-testid="whoami">{me.auth ? (me.user ?? 'unknown') : 'auth is off'}</dd>
          </div>
          <div>
            <dt>Role</dt>
            <dd>{me.role}</dd>
          </div>
          {me.key_id ? (
            <div>
              <dt>Key</dt>
              <dd className="mono">{me.key_id}</dd>
            </div>
          ) : null}
          {me.rpm != null ? (
            <div>
              <dt>Requests / min</dt>
              <dd>{formatInt(me.rpm)}</dd>
            </div>
          ) : null}
          {me.tpm != null ? (
            <div>
              <dt>Tokens / min</dt>
              <dd>{formatInt(me.tpm)}</dd>
            </div>
          ) : null}
          {me.budget_usd != null ? (
            <div>
              <dt>Budget</dt>
              <dd>{formatUsd(me.budget_usd)}</dd>
            </div>
          ) : null}
          {me.models && me.models.length ? (
            <div>
              <dt>Models</dt>
              <dd>{me.models.join(', ')}</dd>
            </div>
          ) : null}
        </dl>
      </section>
      {isAdmin ? (
        <nav className="card link-list" aria-label="More pages">
          {links
            .filter((l) => !l.admin || isAdmin)
            .map((l) => (
              <button key={l.route} type="button" className="link-row" onClick={() => go(l.route)}>
                <Icon name={l.icon} /> <span>{l.label}</span> <Icon name="chevronRight" size={16} />
              </button>
            ))}
        </nav>
      ) : null}
      {me.auth ? (
        <button type="button" className="btn btn-block btn-danger-ghost" onClick={() => signOut()}>
          <Icon name="signout" size={18} /> Sign out
        </button>
      ) : null}
    </div>
  );
}
