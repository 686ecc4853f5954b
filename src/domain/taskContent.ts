// What an EncodedTask (multi-step YAML) pushes, read from its encodedTaskContent the way ACR runs it, so a YAML task's
// outputs join the dependency graph without a `cascade.outputImages` tag:
// - `{{.Run.Registry}}` / `$Registry` become the task's login server, `{{.Run.RegistryName}}` / `$RegistryName` its
//   registry name, `{{.Values.x}}` a value the task defines (step.values, non-secret); names defined under
//   `alias: values:` are substituted as `$name`;
// - run-specific placeholders (`{{.Run.ID}}`, `$ID`, `{{.Run.Date}}`, …) stay as written: a tag made of them is a
//   template tag, so the output matches dependents by repository (graph.ts);
// - `push:` entries (inline `["a", "b"]` or `- a` lines) are the outputs. A `build: -t/--image` image that no push
//   entry names stays inside the run (ACR pushes only what a push step lists), so it is not an output.
// Names without a registry are Docker Hub images, as they are for `docker push` inside the run.
// This is a reader for the part of the YAML grammar that names images, not a YAML parser; anything it cannot read
// becomes a problem on the task (never fatal), and the `cascade.outputImages` tag overrides it.

import { formatImageRef, ImageRefError, parseImageRef } from './imageRef.js';

export interface EncodedTaskContext {
  /** The task's registry login server (`myregistry.azurecr.io`). */
  loginServer: string;
  /** The registry's resource name (`myregistry`). */
  registryName: string;
  /** Non-secret `step.values` of the task, by name. */
  values?: Record<string, string>;
}

export interface EncodedTaskOutputs {
  /** Full refs (`ls/repo:tag`), templated tags kept (`{{.Run.ID}}`), unique, in order of appearance. */
  outputs: string[];
  /** Entries that could not be read, with the reason. */
  problems: string[];
}

function unquote(s: string): string {
  const t = s.trim();
  return (t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")) ? t.slice(1, -1) : t;
}

/** `["a", "b"]` or `a` → items. */
function inlineList(value: string): string[] {
  const t = value.trim();
  if (!t.startsWith('[')) return t ? [unquote(t)] : [];
  if (!t.endsWith(']')) return [];
  return t.slice(1, -1).split(',').map(unquote).filter(Boolean);
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) return line.slice(0, i);
  }
  return line;
}

const KEY_VALUE = /^([A-Za-z_][\w.-]*)\s*:(?:\s+(.*))?$/;

interface YamlStep {
  kind: string;
  value: string;
  /** `- item` lines under the step's first key (multi-line `push:`). */
  items: string[];
}

/** Top-level `alias: values:` entries and `steps:` items (first key, its value, its `- item` lines). */
function readYaml(text: string): { aliases: Record<string, string>; steps: YamlStep[] } {
  const lines = text
    .split(/\r?\n/)
    .map(stripComment)
    .filter((l) => l.trim() !== '')
    .map((l) => ({ indent: l.length - l.trimStart().length, text: l.trim() }));
  const aliases: Record<string, string> = {};
  const steps: YamlStep[] = [];
  let section = '';
  let aliasValuesIndent: number | undefined;
  let stepIndent: number | undefined;
  for (const line of lines) {
    if (line.indent === 0) {
      section = KEY_VALUE.exec(line.text)?.[1]?.toLowerCase() ?? '';
      aliasValuesIndent = undefined;
      stepIndent = undefined;
      continue;
    }
    if (section === 'alias') {
      if (aliasValuesIndent !== undefined && line.indent > aliasValuesIndent) {
        const kv = KEY_VALUE.exec(line.text);
        if (kv?.[1]) aliases[kv[1]] = unquote(kv[2] ?? '');
      } else if (/^values\s*:/.test(line.text)) aliasValuesIndent = line.indent;
      else aliasValuesIndent = undefined;
    } else if (section === 'steps') {
      stepIndent ??= line.indent;
      if (line.indent === stepIndent && line.text.startsWith('-')) {
        const kv = KEY_VALUE.exec(line.text.slice(1).trim());
        steps.push({ kind: kv?.[1]?.toLowerCase() ?? '', value: kv?.[2] ?? '', items: [] });
      } else if (line.text.startsWith('-')) {
        steps[steps.length - 1]?.items.push(unquote(line.text.slice(1)));
      }
    }
  }
  return { aliases, steps };
}

/** `{{.Run.Registry}}`-style placeholders the index can know; run-specific ones are left as written. */
function expandKnown(text: string, ctx: EncodedTaskContext): string {
  const run: Record<string, string> = { registry: ctx.loginServer, registryname: ctx.registryName };
  return text.replace(/\{\{\s*\.(Run|Values)\.([A-Za-z0-9_]+)\s*\}\}/g, (whole, scope: string, name: string) => {
    if (scope === 'Run') return run[name.toLowerCase()] ?? whole;
    return ctx.values && Object.hasOwn(ctx.values, name) ? (ctx.values[name] as string) : whole;
  });
}

/** `$Registry`, `$RegistryName` and user aliases (longest first, so `$RegistryName` beats `$Registry`). */
function substituteAliases(text: string, aliases: Record<string, string>): string {
  const names = Object.keys(aliases).sort((a, b) => b.length - a.length);
  if (!names.length) return text;
  const rx = new RegExp(`\\$(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![\\w])`, 'g');
  return text.replace(rx, (_m, name: string) => aliases[name] as string);
}

/** Output images of an EncodedTask's YAML (see the file comment). */
export function encodedTaskOutputs(yaml: string, ctx: EncodedTaskContext): EncodedTaskOutputs {
  const parsed = readYaml(expandKnown(yaml, ctx));
  const aliases = { ...parsed.aliases, Registry: ctx.loginServer, RegistryName: ctx.registryName };
  const out: EncodedTaskOutputs = { outputs: [], problems: [] };
  for (const step of parsed.steps) {
    if (step.kind !== 'push') continue;
    for (const raw of [...inlineList(step.value), ...step.items]) {
      const name = substituteAliases(raw, aliases);
      try {
        // No default login server: a short name in a push step is a Docker Hub image.
        const ref = formatImageRef(parseImageRef(name, { allowTemplateTag: true }));
        if (!out.outputs.includes(ref)) out.outputs.push(ref);
      } catch (err) {
        if (!(err instanceof ImageRefError)) throw err;
        out.problems.push(`encodedTaskContent push '${raw}': ${err.message}`);
      }
    }
  }
  return out;
}
