// The app's registered functions, indexed by name (case-insensitive, as in the Functions host) and trigger type.
import { type Env, HostConfigError, resolveSettingRefs } from './config.js';
import type { CoreRegistry, RegisteredFunction, RpcBindingInfo } from './functions-core.js';

export interface FunctionInfo {
  name: string;
  registered: RegisteredFunction;
  triggerType: string;
  triggerBindingName: string;
  trigger: RpcBindingInfo;
  /** Names of `durableClient` input bindings: the host fills them with client data. */
  durableClientBindings: string[];
}

function resolveDeep(value: unknown, env: Env, where: string, property = ''): unknown {
  if (typeof value === 'string') {
    return resolveSettingRefs(value, env, property ? `${where} property '${property}'` : where);
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveDeep(v, env, where, `${property}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveDeep(v, env, where, property ? `${property}.${k}` : k);
    return out;
  }
  return value;
}

export class FunctionCatalog {
  readonly #byName = new Map<string, FunctionInfo>();

  /** Indexes what the app registered and resolves `%SETTING%` references in every binding. */
  constructor(registry: CoreRegistry, env: Env) {
    for (const registered of registry.functions) {
      const { metadata } = registered;
      for (const [bindingName, binding] of Object.entries(metadata.bindings)) {
        // Resolved in place: the library reads these same objects for context.options.
        metadata.bindings[bindingName] = resolveDeep(
          binding,
          env,
          `function '${metadata.name}' binding '${String(binding.type)}'`,
        ) as RpcBindingInfo;
      }
      const entry = Object.entries(metadata.bindings).find(
        ([, b]) => b.direction === 'in' && typeof b.type === 'string' && b.type.toLowerCase().endsWith('trigger'),
      );
      if (!entry) throw new HostConfigError(`function '${metadata.name}' has no trigger binding`);
      const [triggerBindingName, trigger] = entry;
      const durableClientBindings = Object.entries(metadata.bindings)
        .filter(([, b]) => b.direction === 'in' && (b.type === 'durableClient' || b.type === 'orchestrationClient'))
        .map(([n]) => n);
      this.#byName.set(metadata.name.toLowerCase(), {
        name: metadata.name,
        registered,
        triggerType: String(trigger.type),
        triggerBindingName,
        trigger,
        durableClientBindings,
      });
    }
  }

  get(name: string): FunctionInfo | undefined {
    return this.#byName.get(name.toLowerCase());
  }

  /** A function of the given trigger type, or undefined. */
  getOfType(name: string, triggerType: string): FunctionInfo | undefined {
    const f = this.get(name);
    return f && f.triggerType === triggerType ? f : undefined;
  }

  byTriggerType(triggerType: string): FunctionInfo[] {
    return this.all().filter((f) => f.triggerType === triggerType);
  }

  all(): FunctionInfo[] {
    return [...this.#byName.values()];
  }
}
