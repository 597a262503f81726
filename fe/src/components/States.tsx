import type { ReactNode } from 'react';
import { ApiError } from '../api/client';
import { Icon } from './Icon';

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

/** A page-level error: network errors get a retry banner, 403 the admin-key notice. */
export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (error instanceof ApiError && error.kind === 'forbidden') {
    return <Forbidden detail={error.serverMessage} />;
  }
  if (error instanceof ApiError && error.kind === 'network') {
    return (
      <div className="banner banner-error" role="alert" data-testid="network-banner">
        <Icon name="alert" />
        <span>{error.message}</span>
        {onRetry ? (
          <button type="button" className="btn btn-small" onClick={onRetry}>
            <Icon name="refresh" size={16} /> Retry
          </button>
        ) : null}
      </div>
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="banner banner-error" role="alert">
      <Icon name="alert" />
      <span>{message}</span>
      {onRetry ? (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Forbidden({ detail }: { detail?: string }) {
  return (
    <div className="empty forbidden" data-testid="forbidden">
      <div className="empty-icon">
        <Icon name="lock" size={28} />
      </div>
      <h2>This page needs an admin key</h2>
      <p>
        You are signed in with a key whose user is not an admin. Sign in with an admin key to manage users, keys and
        providers.
      </p>
      {detail ? <p className="muted small">Gateway said: {detail}</p> : null}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <h3>{title}</h3>
      {children ? <p className="muted">{children}</p> : null}
    </div>
  );
}
