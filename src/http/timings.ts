import type { MetricValue, MetricValueWithName, Registry } from 'prom-client';

interface Series {
  labels: Record<string, string>;
  /** observations per bucket (not cumulative); the last one is +Inf */
  counts: number[];
  count: number;
  sum: number;
}

/**
 * A Prometheus histogram for what is timed on every request (each request, each store call),
 * recorded without prom-client's per-call work: no label validation, no label hashing, no object
 * per call. Each label combination is a series found in a Map by its joined values; counts are
 * plain numbers. prom-client's Registry still formats it, through the interface its own metrics
 * have (name, help, type, get). Label values must come from fixed sets (route names, methods,
 * status codes, model and operation names): every combination is kept.
 *
 * `counter()` is a second metric over the same series: how many observations each has (requests
 * by route, method and status are the latency histogram's counts).
 */
export class Timings {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();
  private readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.bounds = [...buckets].sort((a, b) => a - b);
    registry.registerMetric(this as never);
  }

  /** One observation; `values` in the order of the label names. */
  observe(values: readonly string[], seconds: number): void {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] ?? '']));
      s = { labels, counts: new Array<number>(this.bounds.length + 1).fill(0), count: 0, sum: 0 };
      this.series.set(key, s);
    }
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i += 1;
    s.counts[i]! += 1;
    s.count += 1;
    s.sum += seconds;
  }

  /** What prom-client's Registry formats (the shape its own metrics' get() returns). */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValueWithName<string>[] }> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.series.clear();
  }

  /** A counter metric whose values are these series' observation counts. */
  counter(name: string, help: string, registry: Registry): void {
    const series = this.series;
    registry.registerMetric({
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      get: () =>
        Promise.resolve({
          name,
          help,
          type: 'counter',
          aggregator: 'sum',
          values: [...series.values()].map((s): MetricValue<string> => ({ labels: s.labels, value: s.count })),
        }),
      reset: () => undefined,
    } as never);
  }
}
