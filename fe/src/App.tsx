import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient, ApiError } from './api/client';
import type { Me } from './api/types';
import { Icon, type IconName } from './components/Icon';
import { clearKey, loadKey, saveKey } from './lib/session';
import { useRoute, type Route } from './lib/router';
import { Dashboard } from './pages/Dashboard';
import { Keys } from './pages/Keys';
import { More } from './pages/More';
import { Playground } from './pages/Playground';
import { Providers } from './pages/Providers';
import { SignIn } from './pages/SignIn';
import { UsageLog } from './pages/UsageLog';
import { Users } from './pages/Users';
import { SessionContext, type Session } from './session';

export const EXPIRED_MESSAGE = 'Your session ended: this key is no longer accepted (it was revoked or has expired). Sign in again.';

type Boot =
  | { state: 'checking' }
  | { state: 'signedOut'; notice?: string }
  | { state: 'unreachable'; message: string }
  | { state: 'signedIn'; key: string | null; me: Me };

interface NavItem {
  route: Route;
  label: string;
  icon: IconName;
  admin: boolean;
}

const NAV: NavItem[] = [
  { route: 'dashboard', label: 'Dashboard', icon: 'dashboard', admin: false },
  { route: 'usage', label: 'Usage log', icon: 'usage', admin: false },
  { route: 'keys', label: 'Keys', icon: 'keys', admin: true },
  { route: 'users', label: 'Users', icon: 'users', admin: true },
  { route: 'providers', label: 'Providers', icon: 'providers', admin: true },
  { route: 'playground', label: 'Playground', icon: 'playground', admin: false },
];

/** The phone tab bar: four pages and "More". */
const TABS: NavItem[] = [
  { route: 'dashboard', label: 'Home', icon: 'dashboard', admin: false },
  { route: 'usage', label: 'Usage', icon: 'usage', admin: false },
  { route: 'playground', label: 'Chat', icon: 'playground', admin: false },
  { route: 'keys', label: 'Keys', icon: 'keys', admin: true },
  { route: 'more', label: 'More', icon: 'more', admin: false },
];

export function App({ h5 = __H5__, fetchFn }: { h5?: boolean; fetchFn?: typeof fetch }) {
  const [boot, setBoot] = useState<Boot>({ state: 'checking' });
  const [route, go] = useRoute();

  /** Asks /api/v1/me who we are: with the stored key, or without one (auth off). */
  const check = useCallback(async (): Promise<Boot> => {
    const key = loadKey();
    try {
      const me = await new ApiClient({ key, fetch: fetchFn }).me();
      if (!key && me.auth) return { state: 'signedOut' };
      return { state: 'signedIn', key: me.auth ? key : null, me };
    } catch (e) {
      if (e instanceof ApiError && e.kind === 'unauthorized') {
        clearKey();
        return { state: 'signedOut', notice: key ? EXPIRED_MESSAGE : undefined };
      }
      return { state: 'unreachable', message: e instanceof Error ? e.message : String(e) };
    }
  }, [fetchFn]);

  useEffect(() => {
    let live = true;
    void check().then((b) => live && setBoot(b));
    return () => {
      live = false;
    };
  }, [check]);
  const retry = () => {
    setBoot({ state: 'checking' });
    void check().then(setBoot);
  };

  const signOut = useCallback((notice?: string) => {
    clearKey();
    // A deliberate sign-out starts over at the dashboard; an ended session
    // keeps the page, so signing in again returns there.
    if (!notice) window.location.hash = '#/dashboard';
    setBoot({ state: 'signedOut', notice });
  }, []);

  const session = useMemo<Session | null>(() => {
    if (boot.state !== 'signedIn') return null;
    const client = new ApiClient({
      key: boot.key,
      fetch: fetchFn,
      onUnauthorized: () => {
        if (boot.key) signOut(EXPIRED_MESSAGE);
      },
    });
    return { client, me: boot.me, isAdmin: boot.me.role === 'admin', signOut };
  }, [boot, fetchFn, signOut]);

  useEffect(() => {
    document.documentElement.classList.toggle('h5', h5);
  }, [h5]);

  if (boot.state === 'checking') {
    return (
      <div className="boot" role="status">
        <span className="spinner" aria-hidden="true" /> Connecting to the gateway…
      </div>
    );
  }
  if (boot.state === 'unreachable') {
    return (
      <main className="signin">
        <div className="card signin-card">
          <div className="banner banner-error" role="alert" data-testid="network-banner">
            <Icon name="alert" />
            <span>{boot.message}</span>
          </div>
          <button type="button" className="btn btn-primary btn-block" onClick={retry}>
            <Icon name="refresh" size={16} /> Retry
          </button>
        </div>
      </main>
    );
  }
  if (boot.state === 'signedOut' || !session) {
    return (
      <SignIn
        notice={boot.state === 'signedOut' ? boot.notice : undefined}
        check={(key) => new ApiClient({ key, fetch: fetchFn }).me()}
        onSignedIn={(key, me) => {
          saveKey(key);
          setBoot({ state: 'signedIn', key, me });
          if (!window.location.hash) go('dashboard');
        }}
      />
    );
  }

  const isAdmin = session.isAdmin;
  const nav = NAV.filter((n) => isAdmin || !n.admin);
  const tabs = TABS.filter((n) => isAdmin || !n.admin);
  const moreRoutes: Route[] = ['more', 'users', 'providers'];
  const tabActive = (r: Route) => r === route || (r === 'more' && moreRoutes.includes(route) && !tabs.some((t) => t.route === route && t.route !== 'more'));

  return (
    <SessionContext.Provider value={session}>
      <div className={`shell${h5 ? ' shell-h5' : ''}`}>
        {!h5 ? (
          <aside className="sidebar">
            <div className="brand">
              <span className="brand-mark" aria-hidden="true">
                tg
              </span>
              <span>tokgateway</span>
            </div>
            <nav className="side-nav" aria-label="Main">
              {nav.map((n) => (
                <a
                  key={n.route}
                  href={`#/${n.route}`}
                  className={route === n.route ? 'active' : ''}
                  aria-current={route === n.route ? 'page' : undefined}
                  data-nav={n.route}
                >
                  <Icon name={n.icon} size={18} />
                  <span>{n.label}</span>
                </a>
              ))}
            </nav>
            <div className="side-foot">
              <a href="#/more" className="who" data-nav="more">
                <span className="avatar" aria-hidden="true">
                  {(session.me.user ?? 'A').slice(0, 1).toUpperCase()}
                </span>
                <span>
                  <span className="who-name">{session.me.auth ? session.me.user : 'Auth off'}</span>
                  <span className="who-role">{session.me.role}</span>
                </span>
              </a>
              {session.me.auth ? (
                <button type="button" className="btn btn-ghost btn-small" onClick={() => signOut()} data-testid="sign-out">
                  <Icon name="signout" size={16} /> <span>Sign out</span>
                </button>
              ) : null}
            </div>
          </aside>
        ) : (
          <header className="topbar">
            <div className="brand">
              <span className="brand-mark" aria-hidden="true">
                tg
              </span>
              <span>tokgateway</span>
            </div>
            <span className="badge">{session.me.auth ? `${session.me.user} · ${session.me.role}` : 'auth off'}</span>
          </header>
        )}
        <main className="content" id="content">
          {!session.me.auth ? (
            <div className="banner banner-warn small">
              <Icon name="alert" size={16} />
              <span>Authentication is off on this gateway: anyone who can reach it is an admin.</span>
            </div>
          ) : null}
          <Page route={route} go={go} />
        </main>
        {h5 ? (
          <nav className="tabbar" aria-label="Main" data-testid="tabbar">
            {tabs.map((t) => (
              <a
                key={t.route}
                href={`#/${t.route}`}
                className={tabActive(t.route) ? 'active' : ''}
                aria-current={tabActive(t.route) ? 'page' : undefined}
                data-nav={t.route}
              >
                <Icon name={t.icon} size={22} />
                <span>{t.label}</span>
              </a>
            ))}
          </nav>
        ) : null}
      </div>
    </SessionContext.Provider>
  );
}

function Page({ route, go }: { route: Route; go: (r: Route) => void }) {
  switch (route) {
    case 'usage':
      return <UsageLog />;
    case 'keys':
      return <Keys />;
    case 'users':
      return <Users />;
    case 'providers':
      return <Providers />;
    case 'playground':
      return <Playground />;
    case 'more':
      return <More go={go} />;
    default:
      return <Dashboard />;
  }
}
