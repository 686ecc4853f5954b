// Invokes a function the way the Node worker's InvocationHandler does: the library's own invocation model builds the
// real InvocationContext / HttpRequest from RPC-shaped input, hooks run around the call, and the response comes back
// RPC-shaped. One log line per invocation.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FunctionInfo } from './catalog.js';
import { OUT_OF_PROC_DATA } from './durable/protocol.js';
import type {
  CoreInvocationContext,
  CoreRegistry,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
  RpcParameterBinding,
  RpcTypedData,
} from './functions-core.js';

export type LogSink = (line: string) => void;

export interface InvokeOptions {
  triggerMetadata?: Record<string, RpcTypedData>;
  /** Drop the app's own log calls while `context.df.isReplaying` (orchestrator episodes). */
  replaySafeLogs?: boolean;
}

export interface InvokeResult {
  invocationId: string;
  durationMs: number;
  response?: RpcInvocationResponse;
  error?: Error;
}

export interface InvokerOptions {
  registry: CoreRegistry;
  log: LogSink;
  appHookData: Record<string, unknown>;
  timeoutMs?: number | undefined;
  timeoutText?: string | undefined;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err));
}

/** First line of an error message, without the orchestration state the durable library appends. */
export function shortMessage(err: Error): string {
  const text = err.message.split(OUT_OF_PROC_DATA)[0] ?? '';
  const line = text.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function isReplaying(context: unknown): boolean {
  const df = (context as { df?: { isReplaying?: unknown } } | undefined)?.df;
  return df?.isReplaying === true;
}

export class Invoker {
  readonly #o: InvokerOptions;

  constructor(options: InvokerOptions) {
    this.#o = options;
  }

  async invoke(fn: FunctionInfo, inputData: RpcParameterBinding[], options: InvokeOptions = {}): Promise<InvokeResult> {
    const { registry } = this.#o;
    const model = registry.programmingModel;
    if (!model) throw new Error('the app did not load @azure/functions (no programming model registered)');
    const invocationId = randomUUID();
    const started = performance.now();
    let appContext: unknown;
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request: { invocationId, functionId: fn.name, inputData, triggerMetadata: options.triggerMetadata ?? {} },
      metadata: fn.registered.metadata,
      state: undefined,
      log: (level, category, message) =>
        this.#appLog(fn.name, level, category, message, appContext, options.replaySafeLogs === true),
    };

    let response: RpcInvocationResponse | undefined;
    let error: Error | undefined;
    try {
      const invocation = model.getInvocationModel(coreCtx);
      const args = await invocation.getArguments();
      appContext = args.context;
      const hookData: Record<string, unknown> = {};
      const pre: Record<string, unknown> = {
        hookData,
        appHookData: this.#o.appHookData,
        invocationContext: args.context,
        inputs: args.inputs,
        functionCallback: fn.registered.callback,
      };
      coreCtx.state = 'preInvocationHooks';
      try {
        for (const hook of [...registry.hooks.preInvocation]) await hook(pre);
      } finally {
        coreCtx.state = undefined;
      }
      const post: Record<string, unknown> = {
        hookData,
        appHookData: this.#o.appHookData,
        invocationContext: args.context,
        inputs: pre.inputs,
        result: null,
        error: null,
      };
      coreCtx.state = 'invocation';
      try {
        post.result = await this.#withTimeout(
          invocation.invokeFunction(
            args.context,
            pre.inputs as unknown[],
            pre.functionCallback as typeof fn.registered.callback,
          ),
          fn.name,
        );
      } catch (err) {
        post.error = err;
      }
      coreCtx.state = 'postInvocationHooks';
      try {
        for (const hook of [...registry.hooks.postInvocation]) await hook(post);
      } finally {
        coreCtx.state = undefined;
      }
      if (post.error !== null && post.error !== undefined) throw post.error;
      response = await invocation.getResponse(args.context, post.result);
    } catch (err) {
      error = toError(err);
    }
    const durationMs = Math.round(performance.now() - started);
    const outcome = error ? `Failed in ${durationMs}ms: ${shortMessage(error)}` : `Succeeded in ${durationMs}ms`;
    this.#o.log(`[host] ${fn.name} (${invocationId}) ${outcome}`);
    return error
      ? { invocationId, durationMs, error }
      : { invocationId, durationMs, ...(response ? { response } : {}) };
  }

  #withTimeout<T>(work: Promise<T>, name: string): Promise<T> {
    const ms = this.#o.timeoutMs;
    if (ms === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`Timeout value of ${this.#o.timeoutText ?? `${ms}ms`} was exceeded by function: ${name}`)),
        ms,
      );
    });
    // The app's promise cannot be cancelled; keep its late rejection from becoming unhandled.
    work.catch(() => {});
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  /** App and library logs of one invocation: log hooks first, then one line each. */
  #appLog(
    fn: string,
    level: RpcLogLevel,
    category: RpcLogCategory,
    message: string,
    appContext: unknown,
    replaySafe: boolean,
  ): void {
    if (category === 'user' && replaySafe && isReplaying(appContext)) return;
    const ctx: Record<string, unknown> = {
      level,
      message,
      category,
      invocationContext: appContext,
      hookData: {},
      appHookData: this.#o.appHookData,
    };
    for (const hook of this.#o.registry.hooks.log) {
      try {
        const r = hook(ctx);
        if (r instanceof Promise) r.catch(() => {});
      } catch {
        // a failing log hook must not fail the invocation
      }
    }
    const finalLevel = ctx.level as RpcLogLevel;
    const text = String(ctx.message);
    if (category === 'system') {
      if (finalLevel === 'warning' || finalLevel === 'error' || finalLevel === 'critical') {
        this.#o.log(`[host] ${fn}: ${text}`);
      }
      return;
    }
    if (finalLevel === 'none') return;
    this.#o.log(finalLevel === 'information' ? `[${fn}] ${text}` : `[${fn}] ${finalLevel}: ${text}`);
  }
}
