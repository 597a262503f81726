// Formatting helpers shared by every page. All pure, all tested.

const intFmt = new Intl.NumberFormat('en-US');

/** 1234567 → "1,234,567". */
export function formatInt(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  return intFmt.format(Math.round(n));
}

/** 1234 → "1.2k", 3_400_000 → "3.4M"; small numbers stay exact. */
export function formatCompact(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (abs >= size) {
      const v = n / size;
      const s = Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1);
      return `${s.replace(/\.0$/, '')}${suffix}`;
    }
  }
  return formatInt(n);
}

/** US dollars: small amounts keep enough digits to be useful. */
export function formatUsd(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  if (n === 0) return '$0.00';
  const abs = Math.abs(n);
  const digits = abs >= 1 ? 2 : abs >= 0.01 ? 4 : 6;
  return `${n < 0 ? '-' : ''}$${abs.toFixed(digits)}`;
}

/** Short dollar labels for chart axes: "$0", "$0.25", "$12", "$1.2k". */
export function formatUsdShort(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  if (n === 0) return '$0';
  const abs = Math.abs(n);
  const sign = n < 0 ? '-' : '';
  if (abs >= 1000) return `${sign}$${formatCompact(abs)}`;
  if (abs >= 1) return `${sign}$${abs.toFixed(2).replace(/\.?0+$/, '')}`;
  return `${sign}$${Number(abs.toPrecision(2))}`;
}

/** Bytes in binary units: 1536 → "1.5 KiB". */
export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${Math.round(v)} B`;
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** Seconds as "3d 4h", "2h 5m", "4m 10s", "12s". */
export function formatUptime(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/** Milliseconds as "850 ms" or "1.25 s". */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return formatUptime(ms / 1000);
}

/** A percentage with one decimal, clamped to be readable: 12.345 → "12.3%". */
export function formatPercent(p: number | null | undefined): string {
  if (p == null || !Number.isFinite(p)) return '—';
  return `${p.toFixed(p >= 10 ? 0 : 1)}%`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** An RFC 3339 time or Unix ms in the viewer's local time: "2026-11-29 06:01:02". */
export function formatDateTime(t: string | number | null | undefined): string {
  if (t == null || t === '') return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3 minutes ago" style, relative to `now` (ms). Future times say "in …". */
export function formatRelative(t: string | number | null | undefined, now: number = Date.now()): string {
  if (t == null || t === '') return '—';
  const ms = new Date(t).getTime();
  if (Number.isNaN(ms)) return String(t);
  const diff = Math.round((now - ms) / 1000);
  const abs = Math.abs(diff);
  const steps: [number, string][] = [
    [86400 * 365, 'year'],
    [86400 * 30, 'month'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  let text = 'just now';
  for (const [size, name] of steps) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      text = `${n} ${name}${n === 1 ? '' : 's'}`;
      break;
    }
  }
  if (text === 'just now') return abs < 10 ? 'just now' : diff >= 0 ? `${abs} seconds ago` : `in ${abs} seconds`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** UTC day keys ("YYYY-MM-DD") from `days - 1` days ago up to today, oldest first. */
export function lastDays(days: number, now: number = Date.now()): string[] {
  const out: string[] = [];
  const today = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate());
  for (let i = days - 1; i >= 0; i--) {
    out.push(new Date(today - i * 86400_000).toISOString().slice(0, 10));
  }
  return out;
}

/** "a, b ,, c" → ["a", "b", "c"]. */
export function splitList(s: string): string[] {
  return s
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);
}
