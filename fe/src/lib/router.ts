// Hash routing (#/dashboard): works from any static file server under
// /console/ without server-side fallbacks.
import { useEffect, useState } from 'react';

export type Route = 'dashboard' | 'usage' | 'keys' | 'users' | 'providers' | 'playground' | 'more';

export const ROUTES: Route[] = ['dashboard', 'usage', 'keys', 'users', 'providers', 'playground', 'more'];

export function parseRoute(hash: string): Route {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (ROUTES as string[]).includes(name) ? (name as Route) : 'dashboard';
}

export function useRoute(): [Route, (r: Route) => void] {
  const [route, setRoute] = useState<Route>(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const go = (r: Route) => {
    if (parseRoute(window.location.hash) !== r || !window.location.hash) window.location.hash = `#/${r}`;
    setRoute(r);
  };
  return [route, go];
}
