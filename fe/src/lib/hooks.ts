import { useCallback, useEffect, useRef, useState } from 'react';

function sameDeps(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

interface Settled<T> {
  data?: T;
  error?: unknown;
  /** The request this state answers. */
  token: object | null;
}

/** Loads `fn()` when `deps` change; keeps the last data while reloading. */
export function useResource<T>(fn: () => Promise<T>, deps: unknown[]): Resource<T> {
  const [tick, setTick] = useState(0);
  const [state, setState] = useState<Settled<T>>({ token: null });
  // A fresh token per request (new deps or reload): loading until the state answers it.
  const [req, setReq] = useState({ deps, tick, token: {} as object });
  let token = req.token;
  if (req.tick !== tick || !sameDeps(req.deps, deps)) {
    token = {};
    setReq({ deps, tick, token });
  }
  useEffect(() => {
    let live = true;
    fn().then(
      (data) => live && setState({ data, error: undefined, token }),
      (error: unknown) => live && setState((s) => ({ data: s.data, error, token })),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.token !== token, reload };
}

/** Calls `fn` every `ms` while the page is visible. */
export function useInterval(fn: () => void, ms: number | null): void {
  const ref = useRef(fn);
  useEffect(() => {
    ref.current = fn;
  });
  useEffect(() => {
    if (ms === null) return;
    const id = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') ref.current();
    }, ms);
    return () => window.clearInterval(id);
  }, [ms]);
}

/** Whether a media query matches, live. */
export function useMediaQuery(q: string): boolean {
  const get = () => typeof window !== 'undefined' && typeof window.matchMedia === 'function' && window.matchMedia(q).matches;
  const [m, setM] = useState(get);
  useEffect(() => {
    if (typeof window.matchMedia !== 'function') return;
    const mq = window.matchMedia(q);
    const on = () => setM(mq.matches);
    mq.addEventListener?.('change', on);
    return () => mq.removeEventListener?.('change', on);
  }, [q]);
  return m;
}
