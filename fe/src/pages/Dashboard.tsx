import { useCallback, useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import type { ResourceSample, SummaryRow, UsageSummary } from '../api/types';
import { Chart, axis, bars, withAlpha, type Theme } from '../components/Chart';
import { Gauge } from '../components/Gauge';
import { ErrorState, Spinner } from '../components/States';
import {
  formatBytes,
  formatCompact,
  formatInt,
  formatPercent,
  formatUptime,
  formatUsd,
  formatUsdShort,
  lastDays,
} from '../lib/format';
import { useInterval, useResource } from '../lib/hooks';
import { useSession } from '../session';
import { ApiError } from '../api/client';

const RANGES = [
  { id: '7d', label: '7 days', days: 7 },
  { id: '30d', label: '30 days', days: 30 },
  { id: '90d', label: '90 days', days: 90 },
] as const;

type RangeId = (typeof RANGES)[number]['id'];

/** Day rows filled in with zeros for days without traffic, oldest first. */
export function fillDays(rows: SummaryRow[], days: number, now = Date.now()): SummaryRow[] {
  const byDay = new Map(rows.map((r) => [r.group, r]));
  return lastDays(days, now).map(
    (d) => byDay.get(d) ?? { group: d, requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
  );
}

function dayX(rows: SummaryRow[]): number[] {
  return rows.map((r) => Date.parse(`${r.group}T00:00:00Z`) / 1000);
}

export function Dashboard() {
  const { client, isAdmin, me } = useSession();
  const [range, setRange] = useState<RangeId>('30d');
  const days = RANGES.find((r) => r.id === range)!.days;
  const usage = useResource(
    async () => {
      const [byDay, byModel] = await Promise.all([
        client.usage(isAdmin, 'day', range),
        client.usage(isAdmin, 'model', range),
      ]);
      return { byDay, byModel };
    },
    [client, isAdmin, range],
  );

  return (
    <div className="page">
      <header className="page-head">
        <div>
          <h1>Dashboard</h1>
          <p className="muted">
            {isAdmin ? 'All traffic through this gateway' : `Traffic of your key${me.user ? ` (${me.user})` : ''}`}
          </p>
        </div>
        <div className="segmented" role="group" aria-label="Time range">
          {RANGES.map((r) => (
            <button
              key={r.id}
              type="button"
              className={r.id === range ? 'active' : ''}
              aria-pressed={r.id === range}
              onClick={() => setRange(r.id)}
            >
              {r.label}
            </button>
          ))}
        </div>
      </header>
      {usage.error ? <ErrorState error={usage.error} onRetry={usage.reload} /> : null}
      {!usage.data && usage.loading ? <Spinner /> : null}
      {usage.data ? <UsageView byDay={usage.data.byDay} byModel={usage.data.byModel} days={days} /> : null}
      <ResourcePanel />
    </div>
  );
}

function TotalCard({ label, value, raw, sub, testId }: { label: string; value: string; raw: number; sub?: string; testId: string }) {
  return (
    <div className="card stat" data-testid={testId} data-value={raw}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub ? <div className="stat-sub">{sub}</div> : null}
    </div>
  );
}

function UsageView({ byDay, byModel, days }: { byDay: UsageSummary; byModel: UsageSummary; days: number }) {
  const t = byModel.total;
  const filled = useMemo(() => fillDays(byDay.rows, days), [byDay, days]);
  const x = useMemo(() => dayX(filled), [filled]);
  const reqData = useMemo<uPlot.AlignedData>(() => [x, filled.map((r) => r.requests)], [x, filled]);
  const tokData = useMemo<uPlot.AlignedData>(
    () => [x, filled.map((r) => r.prompt_tokens), filled.map((r) => r.completion_tokens)],
    [x, filled],
  );
  const costData = useMemo<uPlot.AlignedData>(() => [x, filled.map((r) => r.cost_usd)], [x, filled]);
  const models = useMemo(
    () => [...byModel.rows].sort((a, b) => b.prompt_tokens + b.completion_tokens - (a.prompt_tokens + a.completion_tokens) || b.requests - a.requests),
    [byModel],
  );
  const modelData = useMemo<uPlot.AlignedData>(
    () => [models.map((_, i) => i), models.map((r) => r.prompt_tokens), models.map((r) => r.completion_tokens)],
    [models],
  );

  const buildReq = useCallback(
    (th: Theme) => ({
      legend: { show: false },
      cursor: { points: { show: false } },
      scales: { x: { time: true }, y: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max)] } },
      axes: [axis(th), axis(th, { size: 48, values: (_u: uPlot, v: number[]) => v.map((n) => formatCompact(n)) })],
      series: [
        {},
        { label: 'Requests', stroke: th.series[0], width: 0, fill: withAlpha(th.series[0], 0.75), paths: bars(0.7), points: { show: false } },
      ],
    }),
    [],
  );
  const buildTok = useCallback(
    (th: Theme) => ({
      legend: { show: true, live: false },
      scales: { x: { time: true }, y: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max * 1.1)] } },
      axes: [axis(th), axis(th, { size: 52, values: (_u: uPlot, v: number[]) => v.map((n) => formatCompact(n)) })],
      series: [
        {},
        { label: 'Prompt', stroke: th.series[0], width: 2, fill: withAlpha(th.series[0], 0.12), points: { show: false } },
        { label: 'Completion', stroke: th.series[1], width: 2, fill: withAlpha(th.series[1], 0.12), points: { show: false } },
      ],
    }),
    [],
  );
  const buildCost = useCallback(
    (th: Theme) => ({
      legend: { show: false },
      scales: { x: { time: true }, y: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [axis(th), axis(th, { size: 60, values: (_u: uPlot, v: number[]) => v.map((n) => formatUsdShort(n)) })],
      series: [{}, { label: 'Cost', stroke: th.series[2], width: 2, fill: withAlpha(th.series[2], 0.14), points: { show: false } }],
    }),
    [],
  );
  const buildModels = useCallback(
    (th: Theme) => ({
      legend: { show: true, live: false },
      scales: {
        x: { time: false, range: (): uPlot.Range.MinMax => [-0.5, Math.max(models.length, 1) - 0.5] },
        y: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max * 1.1)] },
      },
      axes: [
        axis(th, {
          splits: () => models.map((_, i) => i),
          values: (_u: uPlot, v: number[]) => v.map((i) => models[i]?.group ?? ''),
          grid: { show: false },
        }),
        axis(th, { size: 52, values: (_u: uPlot, v: number[]) => v.map((n) => formatCompact(n)) }),
      ],
      series: [
        {},
        { label: 'Prompt tokens', stroke: th.series[0], width: 0, fill: withAlpha(th.series[0], 0.8), paths: bars(0.35, -1), points: { show: false } },
        { label: 'Completion tokens', stroke: th.series[1], width: 0, fill: withAlpha(th.series[1], 0.8), paths: bars(0.35, 1), points: { show: false } },
      ],
    }),
    [models],
  );

  return (
    <>
      <section className="stats" aria-label="Totals">
        <TotalCard label="Requests" value={formatInt(t.requests)} raw={t.requests} testId="total-requests" />
        <TotalCard
          label="Tokens"
          value={formatInt(t.prompt_tokens + t.completion_tokens)}
          raw={t.prompt_tokens + t.completion_tokens}
          sub={`${formatInt(t.prompt_tokens)} prompt · ${formatInt(t.completion_tokens)} completion`}
          testId="total-tokens"
        />
        <TotalCard label="Cost" value={formatUsd(t.cost_usd)} raw={t.cost_usd} testId="total-cost" />
        <TotalCard label="Models used" value={formatInt(byModel.rows.length)} raw={byModel.rows.length} testId="total-models" />
      </section>
      <section className="grid-2">
        <div className="card">
          <h2 className="card-title">Requests per day</h2>
          <Chart build={buildReq} data={reqData} label="Requests per day" testId="chart-requests" />
        </div>
        <div className="card">
          <h2 className="card-title">Tokens per day</h2>
          <Chart build={buildTok} data={tokData} label="Prompt and completion tokens per day" testId="chart-tokens" />
        </div>
        <div className="card">
          <h2 className="card-title">Cost per day</h2>
          <Chart build={buildCost} data={costData} label="Cost per day in US dollars" testId="chart-cost" />
        </div>
        <div className="card">
          <h2 className="card-title">Tokens by model</h2>
          {models.length === 0 ? (
            <p className="muted chart-empty">No requests in this range yet. Try the playground.</p>
          ) : (
            <Chart build={buildModels} data={modelData} label="Tokens by model" testId="chart-models" />
          )}
        </div>
      </section>
      {models.length > 0 ? (
        <section className="card">
          <h2 className="card-title">By model</h2>
          <div className="table-wrap">
            <table className="table table-cards">
              <thead>
                <tr>
                  <th>Model</th>
                  <th className="num">Requests</th>
                  <th className="num">Prompt</th>
                  <th className="num">Completion</th>
                  <th className="num">Cost</th>
                </tr>
              </thead>
              <tbody>
                {models.map((r) => (
                  <tr key={r.group}>
                    <td data-label="Model">
                      <code>{r.group}</code>
                    </td>
                    <td className="num" data-label="Requests">{formatInt(r.requests)}</td>
                    <td className="num" data-label="Prompt">{formatInt(r.prompt_tokens)}</td>
                    <td className="num" data-label="Completion">{formatInt(r.completion_tokens)}</td>
                    <td className="num" data-label="Cost">{formatUsd(r.cost_usd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}
    </>
  );
}

const HISTORY = 60;

function ResourcePanel() {
  const { client } = useSession();
  const [sample, setSample] = useState<ResourceSample | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [history, setHistory] = useState<{ t: number[]; cpu: number[]; mem: number[] }>({ t: [], cpu: [], mem: [] });
  const poll = useCallback(() => {
    client
      .resource()
      .then((s) => {
        setSample(s);
        setError(null);
        setHistory((h) => {
          const t = [...h.t, Date.now() / 1000].slice(-HISTORY);
          const cpu = [...h.cpu, s.cpu_percent].slice(-HISTORY);
          const mem = [...h.mem, s.memory_bytes / 1048576].slice(-HISTORY);
          return { t, cpu, mem };
        });
      })
      .catch((e: unknown) => setError(e));
  }, [client]);
  useEffect(() => poll(), [poll]);
  useInterval(poll, 3000);
  const histData = useMemo<uPlot.AlignedData>(() => [history.t, history.cpu], [history]);
  const buildHist = useCallback(
    (th: Theme) => ({
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (): uPlot.Range.MinMax => [0, 100] } },
      axes: [axis(th, { show: false }), axis(th, { size: 40, values: (_u: uPlot, v: number[]) => v.map((n) => `${n}%`) })],
      series: [{}, { label: 'CPU', stroke: th.series[0], width: 2, fill: withAlpha(th.series[0], 0.15), points: { show: false } }],
    }),
    [],
  );

  const memLimit = sample?.memory_limit_bytes ?? 0;
  const memPct = sample ? (memLimit > 0 ? (sample.memory_bytes / memLimit) * 100 : sample.memory_percent) : null;
  return (
    <section className="card resource" aria-label="Gateway resources" data-testid="resource-panel">
      <div className="card-head">
        <h2 className="card-title">Gateway resources</h2>
        <span className="muted small live-dot">live · every 3 s</span>
      </div>
      {error instanceof ApiError && error.kind === 'network' ? (
        <p className="muted small" role="status">
          No figures: the gateway is not answering. Retrying every 3 s…
        </p>
      ) : error && !(error instanceof ApiError && error.kind === 'unauthorized') ? (
        <ErrorState error={error} onRetry={poll} />
      ) : null}
      {!sample && !error ? <Spinner /> : null}
      {sample ? (
        <div className="resource-body">
          <div className="gauges">
            <Gauge value={sample.cpu_percent} label="CPU" caption={`${sample.cpu_time_seconds.toFixed(1)} s CPU time`} testId="gauge-cpu" />
            <Gauge
              value={memPct}
              label="Memory"
              caption={`${formatBytes(sample.memory_bytes)} of ${memLimit > 0 ? formatBytes(memLimit) : 'no limit'}`}
              testId="gauge-memory"
            />
            {sample.gpus.map((g) => (
              <Gauge
                key={g.index}
                value={g.utilization_percent}
                label={`GPU ${g.index}`}
                caption={`${g.name}${g.memory_total_bytes ? ` · ${formatBytes(g.memory_used_bytes)} / ${formatBytes(g.memory_total_bytes)}` : ''}`}
              />
            ))}
          </div>
          <dl className="facts">
            <div>
              <dt>Uptime</dt>
              <dd data-testid="uptime">{formatUptime(sample.uptime_seconds)}</dd>
            </div>
            <div>
              <dt>Platform</dt>
              <dd>
                {sample.platform.os} {sample.platform.arch}
                {sample.platform.in_container ? ' · container' : ''}
              </dd>
            </div>
            <div>
              <dt>OS version</dt>
              <dd>{sample.platform.os_version || '—'}</dd>
            </div>
            <div>
              <dt>Memory</dt>
              <dd>
                {formatBytes(sample.memory_bytes)} ({formatPercent(sample.memory_percent)})
                {sample.memory_limit_exceeded ? <span className="badge badge-bad">over limit</span> : null}
              </dd>
            </div>
            <div>
              <dt>GPUs</dt>
              <dd>{sample.gpus.length > 0 ? sample.gpus.length : 'none detected'}</dd>
            </div>
          </dl>
          {history.t.length > 1 ? (
            <div className="cpu-history">
              <div className="muted small">CPU, last {Math.round((history.t[history.t.length - 1] - history.t[0]) / 60) || '<1'} min</div>
              <Chart build={buildHist} data={histData} height={90} label="CPU use over the last minutes" />
            </div>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
