// A thin React wrapper around uPlot (small, fast, canvas-based).
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useMediaQuery } from '../lib/hooks';

export interface Theme {
  text: string;
  muted: string;
  grid: string;
  series: string[];
  dark: boolean;
}

function readTheme(dark: boolean): Theme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--text', dark ? '#e6e8ef' : '#1c2033'),
    muted: v('--muted', dark ? '#9aa1b5' : '#5f6678'),
    grid: v('--grid', dark ? 'rgba(255,255,255,0.07)' : 'rgba(20,30,60,0.07)'),
    series: [v('--c1', '#5b5bf0'), v('--c2', '#18a999'), v('--c3', '#f08c2e'), v('--c4', '#e5484d')],
    dark,
  };
}

export type OptionsBuilder = (theme: Theme, width: number) => Omit<uPlot.Options, 'width' | 'height'>;

export function Chart({
  build,
  data,
  height = 220,
  label,
  testId,
}: {
  build: OptionsBuilder;
  data: uPlot.AlignedData;
  height?: number;
  /** Accessible description of the chart. */
  label: string;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [width, setWidth] = useState(0);
  const dark = useMediaQuery('(prefers-color-scheme: dark)');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setWidth(Math.floor(el.clientWidth));
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // (Re)create when the size, theme or shape changes; cheap for these small charts.
  useEffect(() => {
    const el = box.current;
    if (!el || width <= 0) return;
    try {
      const opts: uPlot.Options = { ...build(readTheme(dark), width), width, height };
      plot.current?.destroy();
      plot.current = new uPlot(opts, data, el);
    } catch {
      plot.current = null;
      el.textContent = 'Chart unavailable in this browser.';
    }
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [build, data, width, height, dark]);

  return (
    <div className="chart" role="img" aria-label={label} data-testid={testId}>
      <div ref={box} className="chart-canvas" style={{ minHeight: height }} />
    </div>
  );
}

/** Axis styling shared by every chart. */
export function axis(theme: Theme, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return {
    stroke: theme.muted,
    grid: { stroke: theme.grid, width: 1 },
    ticks: { stroke: theme.grid, width: 1 },
    font: '12px system-ui, sans-serif',
    ...extra,
  };
}

export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color.trim());
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Bar paths; `align` -1/1 puts two series side by side around each x. */
export const bars = (size = 0.6, align: -1 | 0 | 1 = 0): uPlot.Series.PathBuilder | undefined =>
  uPlot.paths.bars?.({ size: [size, 64], align });
