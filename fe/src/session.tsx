// Who is signed in, and the API client that goes with them.
import { createContext, useContext } from 'react';
import type { ApiClient } from './api/client';
import type { Me } from './api/types';

export interface Session {
  client: ApiClient;
  me: Me;
  isAdmin: boolean;
  signOut: (message?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in session');
  return s;
}
