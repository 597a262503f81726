// JSON shapes of gatewayd's management API (crates/gatewayd/src/admin.rs,
// crates/store/src/{usage,keys,users}.rs).

export type Role = 'admin' | 'user';

export interface Me {
  user: string | null;
  key_id: string | null;
  role: Role;
  models?: string[];
  rpm?: number | null;
  tpm?: number | null;
  budget_usd?: number | null;
  auth: boolean;
}

export interface SummaryRow {
  group: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface Totals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface UsageSummary {
  rows: SummaryRow[];
  total: Totals;
}

export interface User {
  name: string;
  email: string | null;
  role: Role;
  created_at: string;
}

export interface KeyInfo {
  id: string;
  name: string | null;
  user: string;
  created_at: string;
  expires_at: string | null;
  revoked: boolean;
  rpm: number | null;
  tpm: number | null;
  budget_usd: number | null;
  models: string[];
  prefix?: string;
}

export interface NewKeyBody {
  user: string;
  name?: string;
  rpm?: number;
  tpm?: number;
  budget_usd?: number;
  models?: string[];
  /** A lifetime such as `30d`. */
  expires?: string;
}

export interface CreatedKey {
  id: string;
  key: string;
  user: string;
  info?: KeyInfo;
}

export interface LedgerRow {
  time: string;
  request_id: string;
  user: string | null;
  key_id: string | null;
  endpoint: string;
  requested_model: string;
  upstream_model: string;
  provider: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  latency_ms: number;
  ttfb_ms: number | null;
  status: number;
  error_type: string | null;
  streamed: boolean;
}

export interface LedgerPage {
  data: LedgerRow[];
  has_more: boolean;
}

export interface LedgerQuery {
  limit?: number;
  offset?: number;
  since?: string;
  model?: string;
  user?: string;
  key?: string;
  status?: '' | 'ok' | 'error';
}

export interface ProviderStatus {
  name: string;
  type: string;
  base_url: string | null;
  models: string[];
  requests: number;
  errors: number;
  last_error: string | null;
  last_error_at: string | null;
  healthy: boolean;
  api_key_set?: boolean;
}

export interface ProvidersInfo {
  providers: ProviderStatus[];
  routes: { pattern: string; providers: string[] }[];
  aliases: Record<string, string>;
}

export interface Gpu {
  index: number;
  name: string;
  utilization_percent: number | null;
  memory_used_bytes: number | null;
  memory_total_bytes: number | null;
}

export interface ResourceSample {
  cpu_percent: number;
  cpu_time_seconds: number;
  memory_bytes: number;
  memory_percent: number;
  memory_limit_bytes: number;
  memory_limit_exceeded: boolean;
  uptime_seconds: number;
  platform: { os: string; arch: string; os_version: string; in_container: boolean };
  gpu_available: boolean;
  gpus: Gpu[];
}

export interface ModelList {
  object: 'list';
  data: { id: string; object: string; owned_by?: string }[];
}
