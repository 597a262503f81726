// The API key lives in sessionStorage only: gone when the tab closes, never in a URL.

const KEY = 'tokgateway.apiKey';

export function loadKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function saveKey(key: string): void {
  try {
    sessionStorage.setItem(KEY, key);
  } catch {
    /* storage disabled: the key lives in memory for this page only */
  }
}

export function clearKey(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    /* ignore */
  }
}
