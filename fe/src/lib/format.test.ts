import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatCompact,
  formatDateTime,
  formatInt,
  formatMs,
  formatPercent,
  formatRelative,
  formatUptime,
  formatUsd,
  formatUsdShort,
  lastDays,
  splitList,
} from './format';

describe('format helpers', () => {
  it('formats integers with separators and dashes for missing values', () => {
    expect(formatInt(1234567)).toBe('1,234,567');
    expect(formatInt(0)).toBe('0');
    expect(formatInt(null)).toBe('—');
    expect(formatInt(Number.NaN)).toBe('—');
  });

  it('formats compact numbers', () => {
    expect(formatCompact(999)).toBe('999');
    expect(formatCompact(1000)).toBe('1k');
    expect(formatCompact(1234)).toBe('1.2k');
    expect(formatCompact(3_400_000)).toBe('3.4M');
    expect(formatCompact(250_000)).toBe('250k');
  });

  it('formats dollars with enough digits for small amounts', () => {
    expect(formatUsd(0)).toBe('$0.00');
    expect(formatUsd(12.345)).toBe('$12.35');
    expect(formatUsd(0.0123)).toBe('$0.0123');
    expect(formatUsd(0.000042)).toBe('$0.000042');
    expect(formatUsd(-2)).toBe('-$2.00');
    expect(formatUsd(undefined)).toBe('—');
  });

  it('formats short dollar axis labels', () => {
    expect(formatUsdShort(0)).toBe('$0');
    expect(formatUsdShort(0.25)).toBe('$0.25');
    expect(formatUsdShort(0.0004)).toBe('$0.0004');
    expect(formatUsdShort(12)).toBe('$12');
    expect(formatUsdShort(12.5)).toBe('$12.5');
    expect(formatUsdShort(1500)).toBe('$1.5k');
  });

  it('formats bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(24 * 1024 ** 3)).toBe('24.0 GiB');
    expect(formatBytes(300 * 1024 ** 2)).toBe('300 MiB');
  });

  it('formats uptime and durations', () => {
    expect(formatUptime(5)).toBe('5s');
    expect(formatUptime(250)).toBe('4m 10s');
    expect(formatUptime(7500)).toBe('2h 5m');
    expect(formatUptime(3 * 86400 + 4 * 3600 + 5)).toBe('3d 4h');
    expect(formatMs(850.4)).toBe('850 ms');
    expect(formatMs(1250)).toBe('1.25 s');
    expect(formatMs(null)).toBe('—');
  });

  it('formats percentages', () => {
    expect(formatPercent(3.14159)).toBe('3.1%');
    expect(formatPercent(42.6)).toBe('43%');
  });

  it('formats local times and relative times', () => {
    const t = new Date(2026, 10, 29, 6, 1, 2).getTime();
    expect(formatDateTime(t)).toBe('2026-11-29 06:01:02');
    expect(formatDateTime('garbage')).toBe('garbage');
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(formatRelative('2026-11-29T11:57:00Z', now)).toBe('3 minutes ago');
    expect(formatRelative('2026-11-29T11:59:58Z', now)).toBe('just now');
    expect(formatRelative('2026-12-01T12:00:00Z', now)).toBe('in 2 days');
    expect(formatRelative(null, now)).toBe('—');
  });

  it('lists the last N UTC days, oldest first', () => {
    const now = Date.parse('2026-11-29T06:00:00Z');
    expect(lastDays(3, now)).toEqual(['2026-11-27', '2026-11-28', '2026-11-29']);
    expect(lastDays(30, now)).toHaveLength(30);
  });

  it('splits comma lists', () => {
    expect(splitList(' gpt-*, claude-* ,,loopback ')).toEqual(['gpt-*', 'claude-*', 'loopback']);
    expect(splitList('')).toEqual([]);
  });
});
