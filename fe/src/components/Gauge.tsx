/** A ring gauge: `value` out of 100. */
export function Gauge({
  value,
  label,
  caption,
  warn = 75,
  danger = 90,
  testId,
}: {
  value: number | null;
  label: string;
  caption?: string;
  warn?: number;
  danger?: number;
  testId?: string;
}) {
  const v = value == null || !Number.isFinite(value) ? 0 : Math.max(0, Math.min(100, value));
  const r = 42;
  const c = 2 * Math.PI * r;
  const tone = v >= danger ? 'danger' : v >= warn ? 'warn' : 'ok';
  return (
    <div className={`gauge gauge-${tone}`} data-testid={testId}>
      <svg viewBox="0 0 100 100" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(v)}>
        <circle className="gauge-track" cx="50" cy="50" r={r} />
        <circle
          className="gauge-fill"
          cx="50"
          cy="50"
          r={r}
          strokeDasharray={`${(v / 100) * c} ${c}`}
          transform="rotate(-90 50 50)"
        />
        <text x="50" y="50" className="gauge-value" textAnchor="middle" dominantBaseline="central">
          {value == null ? '—' : `${v.toFixed(v >= 10 ? 0 : 1)}%`}
        </text>
      </svg>
      <div className="gauge-label">{label}</div>
      {caption ? <div className="gauge-caption">{caption}</div> : null}
    </div>
  );
}
