import { useState, type FormEvent } from 'react';
import type { Role, User } from '../api/types';
import { Icon } from '../components/Icon';
import { ConfirmDialog } from '../components/Modal';
import { ErrorState, Forbidden, Spinner } from '../components/States';
import { formatDateTime, formatRelative } from '../lib/format';
import { useResource } from '../lib/hooks';
import { useSession } from '../session';

export function Users() {
  const { client, isAdmin, me } = useSession();
  const users = useResource(() => (isAdmin ? client.users() : Promise.resolve([] as User[])), [client, isAdmin]);
  const [deleting, setDeleting] = useState<User | null>(null);
  const [busy, setBusy] = useState(false);
  const [delError, setDelError] = useState<string | undefined>();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [createError, setCreateError] = useState<string | undefined>();
  const [creating, setCreating] = useState(false);

  if (!isAdmin) return <div className="page"><Forbidden /></div>;

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setCreateError(undefined);
    if (!name.trim()) return setCreateError('A user needs a name.');
    setCreating(true);
    try {
      await client.createUser({ name: name.trim(), email: email.trim() || undefined, role });
      setName('');
      setEmail('');
      setRole('user');
      users.reload();
    } catch (err) {
      setCreateError(err instanceof Error ? err.message : String(err));
    } finally {
      setCreating(false);
    }
  };

  const remove = async () => {
    if (!deleting) return;
    setBusy(true);
    setDelError(undefined);
    try {
      await client.deleteUser(deleting.name);
      setDeleting(null);
      users.reload();
    } catch (err) {
      setDelError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Users</h1>
          <p className="muted">People and services that own keys. Admins can use this console’s admin pages.</p>
        </div>
      </header>
      <form className="card form-inline" onSubmit={create} aria-label="New user">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} name="name" placeholder="ann" autoComplete="off" />
        </label>
        <label>
          Email
          <input value={email} onChange={(e) => setEmail(e.target.value)} name="email" type="email" placeholder="optional" />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)} name="role">
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit" className="btn btn-primary" disabled={creating}>
          <Icon name="plus" size={16} /> {creating ? 'Adding…' : 'Add user'}
        </button>
        {createError ? (
          <p className="form-error span-all" role="alert">
            {createError}
          </p>
        ) : null}
      </form>
      {users.error ? <ErrorState error={users.error} onRetry={users.reload} /> : null}
      {!users.data && users.loading ? <Spinner /> : null}
      {users.data ? (
        <section className="card">
          <h2 className="card-title">{users.data.length} users</h2>
          <div className="table-wrap">
            <table className="table table-cards" data-testid="users-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Email</th>
                  <th>Role</th>
                  <th>Created</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <tr key={u.name}>
                    <td data-label="Name">
                      <strong>{u.name}</strong>
                      {u.name === me.user ? <span className="badge">you</span> : null}
                    </td>
                    <td data-label="Email">{u.email ?? <span className="muted">—</span>}</td>
                    <td data-label="Role">
                      <span className={`badge ${u.role === 'admin' ? 'badge-accent' : ''}`}>{u.role}</span>
                    </td>
                    <td data-label="Created" className="small" title={formatDateTime(u.created_at)}>
                      {formatRelative(u.created_at)}
                    </td>
                    <td className="actions">
                      <button
                        type="button"
                        className="btn btn-small btn-danger-ghost"
                        onClick={() => {
                          setDelError(undefined);
                          setDeleting(u);
                        }}
                        aria-label={`Delete ${u.name}`}
                      >
                        <Icon name="trash" size={16} /> Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
      {deleting ? (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete user"
          onConfirm={remove}
          onCancel={() => setDeleting(null)}
          busy={busy}
          error={delError}
        >
          <p>
            Every key of <strong>{deleting.name}</strong> is revoked. Their usage stays in the ledger.
            {deleting.name === me.user ? ' This is you: your own key stops working and you will be signed out.' : ''}
          </p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
