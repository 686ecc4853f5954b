// The dashboard's only way to data: the app's HTTP API, with the caller's own credential.
//  - keys mode (the local stack): a function key, opened as `…/api/dashboard/#key=<key>` or pasted; sent as the
//    x-functions-key header.
//  - Entra ID: an access token for the API (`az account get-access-token --resource <app id uri>`), pasted or opened
//    as `#token=<token>`; sent as Authorization: Bearer.
// Either is kept in sessionStorage (this tab only, gone when it closes) and removed from the address bar at once, so it
// is not in the history, bookmarks or a shared link; it never goes into a URL the page requests.

const KEY = 'acr-cascade.key';
const TOKEN = 'acr-cascade.token';

export type Credential = { kind: 'key'; value: string } | { kind: 'token'; value: string };

export function readCredential(): Credential | undefined {
  const key = sessionStorage.getItem(KEY);
  if (key) return { kind: 'key', value: key };
  const token = sessionStorage.getItem(TOKEN);
  if (token) return { kind: 'token', value: token };
  return undefined;
}

export function saveCredential(c: Credential | undefined): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TOKEN);
  if (c) sessionStorage.setItem(c.kind === 'key' ? KEY : TOKEN, c.value.trim());
}

/** Takes `#key=…` or `#token=…` out of the address bar into sessionStorage. */
export function adoptFragmentCredential(): void {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const key = hash.get('key');
  const token = hash.get('token');
  if (key) saveCredential({ kind: 'key', value: key });
  else if (token) saveCredential({ kind: 'token', value: token });
  if (key || token) history.replaceState(history.state, '', location.pathname + location.search);
}

/** An error answer of the API: `{ error: { code, message, field? } }`, or a transport failure. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

type Listener = () => void;
const unauthenticated = new Set<Listener>();
/** Called when the API answers 401 (no or a stale credential): the app shows the sign-in form. */
export function onUnauthenticated(l: Listener): () => void {
  unauthenticated.add(l);
  return () => unauthenticated.delete(l);
}

export async function api<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const c = readCredential();
  if (c?.kind === 'key') headers['x-functions-key'] = c.value;
  if (c?.kind === 'token') headers.authorization = `Bearer ${c.value}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`/api/${path}`, {
      method,
      headers,
      credentials: 'omit',
      cache: 'no-store',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new ApiFailure(0, 'Unreachable', `the API did not answer: ${(err as Error).message}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    if (res.status === 401) unauthenticated.forEach((l) => l());
    throw new ApiFailure(
      res.status,
      e?.code ?? (res.status === 401 ? 'Unauthenticated' : `HTTP${res.status}`),
      e?.message ??
        (res.status === 401 ? 'the API refused the credential: sign in again' : `HTTP ${res.status} ${res.statusText}`),
      e?.field,
    );
  }
  return json as T;
}

// ---- shapes of the API's answers (the parts the dashboard reads) ---------------------------------------------------

export interface Reason {
  code: string;
  severity: 'blocking' | 'warning' | 'info' | string;
  message: string;
  fix?: string;
}

export interface PlannedTask {
  task: string;
  taskName: string;
  registryId: string;
  wave: number;
  decision: 'rebuild' | 'skip' | 'blocked';
  reasons: Reason[];
  baseImages: { ref: string; digest?: string; why: 'recorded' | 'declared' | 'output' }[];
  dependsOn: string[];
  outputImages: string[];
}

export interface Plan {
  image?: { ref: string; digest?: string };
  waves: string[][];
  tasks: PlannedTask[];
  cycles: string[][];
  indexRefreshedAt?: string;
  notes?: Reason[];
}

export type EdgeWhy = 'recorded' | 'declared' | 'output';

export interface Graph {
  root: string;
  nodes: { id: string; kind: 'image' | 'task'; label: string; status?: string }[];
  edges: { from: string; to: string; why: EdgeWhy }[];
  truncated: boolean;
}

export interface Totals {
  planned: number;
  running?: number;
  scheduled: number;
  succeeded: number;
  failed: number;
  blocked: number;
  skipped: number;
  canceled: number;
}

export interface CascadeSummary {
  id: string;
  status: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  image?: { ref: string; digest?: string } | null;
  totals?: Totals;
  trigger?: string;
  progress?: Progress | null;
}

export interface Progress {
  phase: string;
  wave: number;
  waves: number;
  image?: { ref: string; digest: string };
  totals: Totals;
  startedAt?: string;
  canceling?: boolean;
}

export interface CascadeDetail {
  id: string;
  source: 'durable' | 'history';
  status: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  requestedBy?: string;
  progress?: Progress | null;
  result?: {
    image?: { ref: string; digest?: string };
    trigger?: string;
    startedAt?: string;
    finishedAt?: string;
    totals?: Totals;
    notes?: Reason[];
    error?: string;
  };
  totals?: Totals;
}

export interface TaskView {
  task: string;
  taskName: string;
  wave: number;
  decision: string;
  state: string;
  reasons: Reason[];
  runId?: string;
  runStatus?: string;
  attempts?: number;
  startedAt?: string;
  finishedAt?: string;
  adopted?: boolean;
}

export interface CascadeTasks {
  id: string;
  status: string;
  waves: string[][];
  tasks: TaskView[];
  request?: { image?: { ref: string; digest?: string }; tasks?: string[] };
}

export interface CredentialHealth {
  task: string;
  taskName: string;
  loginServer: string;
  field: 'username' | 'password' | 'identity';
  secret?: string;
  identity?: string;
  status: string;
  daysLeft?: number;
  fix?: string;
  rotatable: boolean;
  message: string;
  expiresOn?: string;
  checkedAt?: string;
}

export interface CredentialList {
  count: number;
  credentials: CredentialHealth[];
  lastCheck?: { checkId: string; trigger: string; checkedAt: string; totals: Record<string, number> };
  note?: string;
}

export interface IndexSummary {
  built: boolean;
  version?: number;
  refreshedAt?: string;
  ageSeconds?: number;
  scopes: string[];
  registries: number;
  tasks: number;
  pending: number;
  lastRefresh?: {
    refreshedAt: string;
    added: number;
    changed: number;
    removed: number;
    durationMs: number;
    errors: { scope: string; code: string; message: string }[];
  };
}

export interface IndexTasks {
  refreshedAt?: string;
  registries: { id: string; name: string; loginServer: string; tasks: number }[];
  tasks: {
    id: string;
    name: string;
    registry: string;
    status: string;
    baseImages: { ref: string; source: string }[];
    outputImages: string[];
    logins: number;
    nativeTrigger?: string;
    problems: string[];
  }[];
  truncated: boolean;
}

export const ACTIVE = new Set(['Pending', 'Running', 'Suspended']);
