// The worker-provided module `@azure/functions-core`, which `@azure/functions` requires lazily. Without it the library
// silently enters "test mode" and registers nothing, so the host provides it the way the real Node worker does: by
// answering `require('@azure/functions-core')` from a proxy on Module.prototype.require.
// Types follow Azure/azure-functions-nodejs-library types-core/index.d.ts (not published on npm); only what we use.
import Module from 'node:module';

export type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type RpcLogCategory = 'user' | 'system' | 'customMetric';

export interface RpcNullableString {
  value?: string | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullableString | null;
  path?: RpcNullableString | null;
  expires?: { value?: { seconds?: number | null; nanos?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: 'none' | 'lax' | 'strict' | 'explicitNone' | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  cookies?: RpcHttpCookie[] | null;
}

export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
}

export interface RpcParameterBinding {
  name?: string | null;
  data?: RpcTypedData | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: RpcParameterBinding[] | null;
  returnValue?: RpcTypedData | null;
}

/** A binding as the library registers it: its own options plus `type` and `direction`. */
export interface RpcBindingInfo {
  type?: string | null;
  direction?: 'in' | 'out' | 'inout' | null;
  [property: string]: unknown;
}

export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
  [property: string]: unknown;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export interface CoreInvocationContext {
  invocationId: string;
  request: {
    invocationId?: string;
    functionId?: string;
    inputData?: RpcParameterBinding[];
    triggerMetadata?: Record<string, RpcTypedData>;
  };
  metadata: FunctionMetadata;
  state?: 'preInvocationHooks' | 'postInvocationHooks' | 'invocation';
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel;
  getCapabilities?(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookCallback = (context: Record<string, unknown>) => void | Promise<void>;

export class Disposable {
  #callOnDispose: (() => unknown) | undefined;

  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }

  static from(...likes: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => likes.forEach((d) => d.dispose()));
  }

  dispose(): void {
    const fn = this.#callOnDispose;
    this.#callOnDispose = undefined;
    fn?.();
  }
}

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

/** Everything the app registered through `@azure/functions`. */
export class CoreRegistry {
  readonly functions: RegisteredFunction[] = [];
  readonly hooks: Record<HookName, HookCallback[]> = {
    appStart: [],
    appTerminate: [],
    preInvocation: [],
    postInvocation: [],
    log: [],
  };
  programmingModel: ProgrammingModel | undefined;
  /** Library system logs (e.g. warnings) go here; set by the host. */
  systemLog: (level: RpcLogLevel, message: string) => void = () => {};

  /** The object handed to the library as `@azure/functions-core`. */
  readonly api = {
    version: '4.0.0-local',
    hostVersion: '4.1040.0',
    registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback): Disposable => {
      if (this.functions.some((f) => f.metadata.name.toLowerCase() === metadata.name.toLowerCase())) {
        throw new Error(`A function named '${metadata.name}' is already registered.`);
      }
      const entry = { metadata, callback };
      this.functions.push(entry);
      return new Disposable(() => {
        const i = this.functions.indexOf(entry);
        if (i >= 0) this.functions.splice(i, 1);
      });
    },
    setProgrammingModel: (model: ProgrammingModel): void => {
      this.programmingModel = model;
    },
    getProgrammingModel: (): ProgrammingModel | undefined => this.programmingModel,
    registerHook: (name: string, callback: HookCallback): Disposable => {
      if (!(name in this.hooks)) {
        // The library recognises this shape (RangeError + isAzureFunctionsSystemError) as "host too old".
        throw Object.assign(new RangeError(`Unrecognized hook "${name}"`), { isAzureFunctionsSystemError: true });
      }
      const list = this.hooks[name as HookName];
      list.push(callback);
      return new Disposable(() => {
        const i = list.indexOf(callback);
        if (i >= 0) list.splice(i, 1);
      });
    },
    log: (level: RpcLogLevel, _category: RpcLogCategory, message: string): void => {
      this.systemLog(level, message);
    },
    Disposable,
  };
}

let installed: CoreRegistry | undefined;

/**
 * Makes `require('@azure/functions-core')` return a fresh registry's API. One per process: the library caches the
 * module on first use, and an app can only be loaded once into a process.
 */
export function installFunctionsCore(): CoreRegistry {
  if (installed) throw new Error('@azure/functions-core is already provided in this process; load one app per process');
  const registry = new CoreRegistry();
  installed = registry;
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(target, thisArg, args: unknown[]) {
      return args[0] === '@azure/functions-core' ? registry.api : Reflect.apply(target, thisArg, args);
    },
  });
  return registry;
}
