// The one place that talks HTTP to gatewayd, and maps failures to errors a
// person can act on.

import type {
  CreatedKey,
  KeyInfo,
  LedgerPage,
  LedgerQuery,
  Me,
  ModelList,
  NewKeyBody,
  ProvidersInfo,
  ResourceSample,
  Role,
  UsageSummary,
  User,
} from './types';

export type ErrorKind = 'unauthorized' | 'forbidden' | 'network' | 'http';

export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  /** The message gatewayd sent, if any. */
  readonly serverMessage?: string;

  constructor(kind: ErrorKind, status: number, message: string, serverMessage?: string) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = status;
    this.serverMessage = serverMessage;
  }
}

export const NETWORK_MESSAGE = 'The gateway could not be reached. Check that gatewayd is running, then retry.';
export const FORBIDDEN_MESSAGE = 'This page needs an admin key.';
export const BAD_KEY_MESSAGE = 'This key was not accepted.';

/** Pulls `error.message` out of a gatewayd error body (OpenAI or Anthropic shape). */
export function errorMessageOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const err = (body as { error?: unknown }).error;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  const msg = (body as { message?: unknown }).message;
  return typeof msg === 'string' ? msg : undefined;
}

/** Turns a non-2xx response into an ApiError. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let serverMessage: string | undefined;
  try {
    const text = await res.text();
    try {
      serverMessage = errorMessageOf(JSON.parse(text));
    } catch {
      serverMessage = text.trim() ? text.trim().slice(0, 300) : undefined;
    }
  } catch {
    serverMessage = undefined;
  }
  if (res.status === 401) {
    return new ApiError('unauthorized', 401, BAD_KEY_MESSAGE, serverMessage);
  }
  if (res.status === 403) {
    return new ApiError('forbidden', 403, serverMessage ?? FORBIDDEN_MESSAGE, serverMessage);
  }
  const fallback = `The gateway answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
  return new ApiError('http', res.status, serverMessage ?? fallback, serverMessage);
}

/** A fetch failure (connection refused, DNS, CORS, offline) as an ApiError. */
export function networkError(cause: unknown): ApiError {
  const e = new ApiError('network', 0, NETWORK_MESSAGE);
  (e as { cause?: unknown }).cause = cause;
  return e;
}

export interface ClientOptions {
  /** The API key, or null when auth is off. */
  key: string | null;
  /** Prefix for every path; '' means same origin. */
  baseUrl?: string;
  /** Called on any 401, e.g. to end the session. */
  onUnauthorized?: (err: ApiError) => void;
  fetch?: typeof fetch;
}

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  readonly key: string | null;
  private readonly base: string;
  private readonly onUnauthorized?: (err: ApiError) => void;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ClientOptions) {
    this.key = opts.key;
    this.base = opts.baseUrl ?? '';
    this.onUnauthorized = opts.onUnauthorized;
    this.fetchFn = opts.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  }

  headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json', ...extra };
    if (this.key) h.Authorization = `Bearer ${this.key}`;
    return h;
  }

  /** A raw fetch with auth; maps network failures and (unless `raw`) HTTP errors. */
  async send(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchFn(this.base + path, {
        ...init,
        headers: { ...this.headers(), ...(init.headers as Record<string, string> | undefined) },
      });
    } catch (e) {
      if ((e as { name?: string })?.name === 'AbortError') throw e;
      throw networkError(e);
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (err.kind === 'unauthorized') this.onUnauthorized?.(err);
      throw err;
    }
    return res;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.send(path, init);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('http', res.status, 'The gateway sent an answer that is not JSON.');
    }
  }

  private body(method: string, body: unknown): RequestInit {
    return { method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
  }

  me(): Promise<Me> {
    return this.json<Me>('/api/v1/me');
  }

  usage(admin: boolean, by: 'day' | 'model' | 'user' | 'key', since?: string): Promise<UsageSummary> {
    const path = admin ? '/api/v1/admin/usage' : '/api/v1/usage';
    return this.json<UsageSummary>(path + query({ by, since }));
  }

  requests(admin: boolean, q: LedgerQuery): Promise<LedgerPage> {
    const path = admin ? '/api/v1/admin/requests' : '/api/v1/requests';
    const params = admin ? q : { ...q, user: undefined, key: undefined };
    return this.json<LedgerPage>(path + query({ ...params }));
  }

  resource(): Promise<ResourceSample> {
    return this.json<ResourceSample>('/metrics/resource');
  }

  users(): Promise<User[]> {
    return this.json<User[]>('/api/v1/admin/users');
  }

  createUser(u: { name: string; email?: string; role: Role }): Promise<User> {
    return this.json<User>('/api/v1/admin/users', this.body('POST', u));
  }

  deleteUser(name: string): Promise<void> {
    return this.json<void>(`/api/v1/admin/users/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  keys(user?: string): Promise<KeyInfo[]> {
    return this.json<KeyInfo[]>('/api/v1/admin/keys' + query({ user }));
  }

  createKey(k: NewKeyBody): Promise<CreatedKey> {
    return this.json<CreatedKey>('/api/v1/admin/keys', this.body('POST', k));
  }

  revokeKey(id: string): Promise<void> {
    return this.json<void>(`/api/v1/admin/keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  providers(): Promise<ProvidersInfo> {
    return this.json<ProvidersInfo>('/api/v1/admin/providers');
  }

  models(): Promise<ModelList> {
    return this.json<ModelList>('/v1/models');
  }
}
