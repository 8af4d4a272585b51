// The JSON the server answers, as the Rust structs (query/src, dashboards/src/api) make it.
// Units are in the names, as in the Rust code.

export interface Hit {
  /** Decimal string: record ids exceed JavaScript's safe integers. */
  record_id: string;
  timestamp: string;
  /** Nanoseconds; read as a float, so only good to the microsecond. */
  timestamp_ns: number;
  observed_timestamp: string;
  level: string | null;
  severity_number: number | null;
  severity_text: string | null;
  service: string | null;
  host: string | null;
  message: string | null;
  trace_id: string | null;
  span_id: string | null;
  correlation_id: string | null;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  /** The original as it was sent (a JSON line, or an OTLP record rendered as JSON). */
  raw: unknown;
}

export interface HitsResult {
  kind: "hits";
  total: number;
  hits: Hit[];
  took_ms: number;
}

export interface TableResult {
  kind: "table";
  total: number;
  columns: string[];
  rows: unknown[][];
  span_ms: number | null;
  took_ms: number;
}

export type QueryResult = HitsResult | TableResult;

export interface HistogramBucket {
  time: string;
  total: number;
  counts: Record<string, number>;
}

export interface HistogramResult {
  interval_ms: number;
  total: number;
  buckets: HistogramBucket[];
  took_ms: number;
}

export interface FieldStat {
  name: string;
  types: string[];
  count: number;
  top: { value: string; count: number }[];
  min: unknown;
  max: unknown;
}

export interface FieldsResult {
  fields: FieldStat[];
  took_ms: number;
}

export interface ContextResult {
  record: Hit;
  before: Hit[];
  after: Hit[];
}

export interface ServiceStats {
  service: string;
  first: string;
  last: string;
  first_ns: number;
  last_ns: number;
  count: number;
  errors: number;
}

export interface CorrelateResult {
  id: string;
  total: number;
  truncated: boolean;
  records: Hit[];
  services: ServiceStats[];
  took_ms: number;
}

export interface BuildInfo {
  version: string;
}
