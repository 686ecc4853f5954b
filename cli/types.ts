// The API's response bodies, typed from the app's own contracts (type-only imports: nothing of the app is loaded).
import type {
  CascadeProgress,
  CascadeResult,
  CascadeTotals,
  CredentialHealth,
  PlanView,
  PlanEntry,
  RefreshIndexOutput,
  TaskResult,
} from '../src/contracts/index.js';
import type { IndexSummary } from '../src/activities/plan/index.js';
import type { LastCheck } from '../src/activities/credentials/store.js';
import type { Subgraph } from '../src/domain/graph.js';

export type { CascadeProgress, CascadeResult, CascadeTotals, CredentialHealth, PlanEntry, TaskResult, Subgraph };
export type { IndexSummary, LastCheck, RefreshIndexOutput };

export type PlanBody = Omit<PlanView, 'tasks'> & { tasks: PlanEntry[] };
export type GraphBody = Subgraph & { indexRefreshedAt: string };

export interface StartedBody {
  id: string;
  status: string;
  statusUri: string;
  cancelUri?: string;
}

export interface DryRunBody {
  dryRun: true;
  plan: PlanBody;
}

export interface CascadeBody {
  id: string;
  source: 'durable' | 'history';
  status: string;
  runtimeStatus: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  requestedBy?: string;
  progress?: CascadeProgress | null;
  result?: CascadeResult;
  tasks?: TaskResult[];
  totals?: CascadeTotals;
}

export interface CascadeListBody {
  cascades: {
    id: string;
    status: string;
    createdTime?: string;
    lastUpdatedTime?: string;
    image?: { ref: string; digest?: string } | null;
    totals?: CascadeTotals;
    progress?: CascadeProgress | null;
    trigger?: string;
  }[];
  continuation?: string;
}

export interface CredentialsBody {
  count: number;
  credentials: CredentialHealth[];
  lastCheck?: LastCheck;
  note?: string;
}

export interface CheckStartedBody {
  id?: string;
  checkId?: string;
  scope: string;
  alreadyRunning: boolean;
  statusUri: string;
}

export interface RefreshBody {
  id: string;
  status: string;
  createdTime?: string;
  lastUpdatedTime?: string;
  result?: RefreshIndexOutput | null;
}

/** GET /api/rebuilds/{id}/tasks: every task of a cascade as it stands now (src/functions/views.ts). */
export interface CascadeTasksBody {
  id: string;
  status: string;
  waves: string[][];
  tasks: {
    task: string;
    taskName: string;
    wave: number;
    decision: string;
    state: string;
    runId?: string;
    runStatus?: string;
    startedAt?: string;
    finishedAt?: string;
    adopted?: boolean;
  }[];
}
