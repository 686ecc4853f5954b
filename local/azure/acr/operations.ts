// ACR's asynchronous operations. In Azure, scheduleRun, runs cancel, tasks update and generateCredentials may answer
// 202 Accepted with an `Azure-AsyncOperation` header that points at `.../registries/{r}/operationStatuses/{id}`;
// the caller polls it (RBAC action `registries/operationStatuses/read`) until a terminal status. The emulator does
// that by default, so clients and roles are exercised as Azure exercises them; `mode: 'sync'` answers 200/201 with
// the result at once (the other shape the specs allow). The work itself is done when the request arrives: only the
// reporting is asynchronous. Operation records live in memory only (a generateCredentials result holds passwords).
import { randomUUID } from 'node:crypto';
import type { Emulator, EmuRequest } from '../core/emulator.js';
import { EmulatorError, type Reply } from '../core/errors.js';
import {
  REGISTRY_API_VERSIONS,
  REGISTRY_TYPE,
  TASK_API_VERSIONS,
  requireParentRegistry,
  type RegistryResource,
} from './model.js';

export const OPERATION_STATUS_ACTION = `${REGISTRY_TYPE}/operationStatuses/read`;

export interface AsyncOperationConfig {
  /** 'async' (default, as Azure): 202 + Azure-AsyncOperation; 'sync': 200/201 with the result. */
  mode: 'async' | 'sync';
  /** Status polls answered `InProgress` before `Succeeded` (0 = the first poll already succeeds). */
  pendingPolls: number;
  /** `Retry-After` (seconds) on the 202 and on InProgress polls; undefined = header omitted. */
  retryAfterSeconds?: number;
}

export const DEFAULT_ASYNC_OPERATIONS: AsyncOperationConfig = { mode: 'async', pendingPolls: 0 };

interface Operation {
  id: string;
  registryId: string;
  startTime: string;
  endTime?: string;
  pollsLeft: number;
  /** Body served on the Location URL once succeeded (generateCredentials' result); never persisted. */
  result?: unknown;
}

/** Operation records older than this (emulator clock) are dropped, as Azure expires them. */
const OPERATION_TTL_MS = 60 * 60 * 1000;

export class AsyncOperations {
  config: AsyncOperationConfig = { ...DEFAULT_ASYNC_OPERATIONS };
  private readonly ops = new Map<string, Operation>();

  constructor(private readonly emu: Emulator) {}

  /**
   * The reply of an operation whose work is already done. `location` is where the final result is read (a run, or
   * `'status'` for a result only the operation knows); `syncReply` is the synchronous answer.
   */
  accepted(
    req: EmuRequest,
    registry: RegistryResource,
    syncReply: Reply,
    final: { location?: string; result?: unknown } = {},
  ): Reply {
    if (this.config.mode === 'sync') return syncReply;
    this.expire();
    const id = randomUUID();
    this.ops.set(id, {
      id,
      registryId: registry.id,
      startTime: this.emu.nowIso(),
      pollsLeft: this.config.pendingPolls,
      ...(final.result !== undefined ? { result: final.result } : {}),
    });
    const statusUrl = `${req.baseUrl}${registry.id}/operationStatuses/${id}?api-version=${req.apiVersion}`;
    const headers: Record<string, string> = { 'azure-asyncoperation': statusUrl };
    // Where the final result is read: final-state-via location (generateCredentials) or the run just queued.
    if (final.result !== undefined) headers.location = statusUrl;
    else if (final.location) headers.location = `${req.baseUrl}${final.location}?api-version=${req.apiVersion}`;
    if (this.config.retryAfterSeconds !== undefined) headers['retry-after'] = String(this.config.retryAfterSeconds);
    return { status: 202, headers };
  }

  private expire(): void {
    const cutoff = this.emu.nowMs() - OPERATION_TTL_MS;
    for (const [id, op] of this.ops) if (Date.parse(op.startTime) < cutoff) this.ops.delete(id);
  }

  status(req: EmuRequest, registry: RegistryResource, id: string): Reply {
    const op = this.ops.get(id);
    if (!op || op.registryId.toLowerCase() !== registry.id.toLowerCase())
      throw new EmulatorError(404, {
        error: { code: 'OperationNotFound', message: `The operation '${id}' was not found.` },
      });
    const body: Record<string, unknown> = { id: `${registry.id}/operationStatuses/${id}`, name: id };
    if (op.pollsLeft > 0) {
      op.pollsLeft--;
      const headers: Record<string, string> =
        this.config.retryAfterSeconds !== undefined ? { 'retry-after': String(this.config.retryAfterSeconds) } : {};
      return { status: 200, headers, body: { ...body, status: 'InProgress', startTime: op.startTime } };
    }
    op.endTime ??= this.emu.nowIso();
    const done = { ...body, status: 'Succeeded', startTime: op.startTime, endTime: op.endTime };
    // [U] The operation's own result on its status URL (the Location of final-state-via-location operations).
    return { status: 200, body: op.result !== undefined ? { ...done, ...(op.result as object) } : done };
  }
}

function bad(message: string) {
  return new EmulatorError(400, { error: { code: 'BadRequest', message } });
}

export function registerOperations(emu: Emulator, ops: AsyncOperations): void {
  const base =
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}';
  emu.armRoute({
    op: 'registries.operationStatuses.get',
    method: 'GET',
    path: `${base}/operationStatuses/{operationId}`,
    // The status URL repeats the api-version of the request that started the operation.
    apiVersions: [...new Set([...REGISTRY_API_VERSIONS, ...TASK_API_VERSIONS])],
    action: OPERATION_STATUS_ACTION,
    handler: (req) => ops.status(req, requireParentRegistry(emu, req), req.params.operationId!),
  });

  emu.adminRoute({
    op: 'admin.acr.operations.set',
    method: 'PUT',
    path: '/acr/operations',
    handler: (req) => {
      const body = req.json<Partial<Record<keyof AsyncOperationConfig, unknown>>>() ?? {};
      const next: AsyncOperationConfig = { ...DEFAULT_ASYNC_OPERATIONS };
      if (body.mode !== undefined) {
        if (body.mode !== 'async' && body.mode !== 'sync') throw bad("mode must be 'async' or 'sync'");
        next.mode = body.mode;
      }
      if (body.pendingPolls !== undefined) {
        const n = body.pendingPolls;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100)
          throw bad('pendingPolls must be an integer between 0 and 100');
        next.pendingPolls = n;
      }
      if (body.retryAfterSeconds !== undefined && body.retryAfterSeconds !== null) {
        const s = body.retryAfterSeconds;
        if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > 60)
          throw bad('retryAfterSeconds must be an integer between 0 and 60');
        next.retryAfterSeconds = s;
      }
      ops.config = next;
      return { status: 200, body: next };
    },
  });
  emu.adminRoute({
    op: 'admin.acr.operations.get',
    method: 'GET',
    path: '/acr/operations',
    handler: () => ({ status: 200, body: ops.config }),
  });
}
