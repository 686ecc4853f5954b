// What a run of a task pulls and pushes, read from its step the way the emulator documents it (acr/README.md):
// - Go-template values (`{{.Run.ID}}`, `{{.Run.Registry}}`, `{{.Run.RegistryName}}`, `{{.Run.Date}}`, `{{.Run.OS}}`,
//   `{{.Run.Architecture}}`, `{{.Values.x}}`) are expanded over the whole task text first;
// - v1.1.0 aliases (`$ID`, `$Registry`, `$RegistryName`, `$Date`, `$OS`, `$Architecture` and `alias: values:`) are
//   substituted in steps;
// - `build:` steps give `-t/--tag` images and `--build-arg K=V` pairs; a build argument whose value is a tagged or
//   digested image reference is a base image;
// - Dockerfile-like `FROM <ref>` lines anywhere in the content are base images (`${ARG}`/`$ARG` replaced by build
//   arguments; stage names and `scratch` skipped);
// - `push:` steps (inline list or `- item` lines) are the output images;
// - `secrets:` entries (`id`, `keyvault`, optional `clientID`) must resolve for the run to start.
// A Docker step cannot be read (its Dockerfile lives in a git context): its arguments are build arguments, its
// `imageNames` (relative to the task's registry) are the outputs when `isPushEnabled` is not false.
import type { SecretArg, TaskStep } from './model.js';
import { looksLikeTaggedImage } from './imageRef.js';

export interface RunTemplateContext {
  runId: string;
  /** Login server of the task's registry. */
  registry: string;
  registryName: string;
  /** `yyyyMMdd-HHmmssz` like ACR's `{{.Run.Date}}`. */
  date: string;
  os: string;
  architecture: string;
  values: Record<string, string>;
}

export interface YamlSecret {
  id: string;
  keyvault: string;
  clientId?: string;
}

export interface StepPlan {
  /** Base image references as written (after substitution), in order of appearance, unique. */
  bases: string[];
  /** Images the run pushes. */
  outputs: string[];
  /** Whether output names without a registry belong to the task's registry (Docker steps) or to Docker Hub. */
  outputsRelativeTo: 'taskRegistry' | 'dockerHub';
  secrets: YamlSecret[];
  /** Build arguments seen (for the log). */
  buildArgs: Record<string, string>;
}

export function runDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}z`;
}

/** Expands `{{.Run.X}}` / `{{.Values.x}}`; unknown placeholders are left as written. */
export function expandTemplates(text: string, ctx: RunTemplateContext): string {
  const run: Record<string, string> = {
    id: ctx.runId,
    registry: ctx.registry,
    registryname: ctx.registryName,
    date: ctx.date,
    os: ctx.os,
    architecture: ctx.architecture,
  };
  return text.replace(/\{\{\s*\.(Run|Values)\.([A-Za-z0-9_]+)\s*\}\}/g, (whole, scope: string, name: string) => {
    if (scope === 'Run') return run[name.toLowerCase()] ?? whole;
    return Object.prototype.hasOwnProperty.call(ctx.values, name) ? ctx.values[name]! : whole;
  });
}

/** Substitutes `$NAME` for defined aliases (longest names first so `$RegistryName` beats `$Registry`). */
export function substituteAliases(text: string, aliases: Record<string, string>): string {
  const names = Object.keys(aliases).sort((a, b) => b.length - a.length);
  if (!names.length) return text;
  const rx = new RegExp(
    `\\$(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?![A-Za-z0-9_])`,
    'g',
  );
  return text.replace(rx, (_m, name: string) => aliases[name]!);
}

/** Shell-like word splitting with single and double quotes. */
export function shellWords(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let has = false;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has || cur) out.push(cur);
  return out;
}

export interface BuildCommand {
  tags: string[];
  buildArgs: Record<string, string>;
}

export function parseBuildCommand(command: string): BuildCommand {
  const words = shellWords(command);
  const tags: string[] = [];
  const buildArgs: Record<string, string> = {};
  const addArg = (kv: string | undefined) => {
    if (!kv) return;
    const eq = kv.indexOf('=');
    if (eq > 0) buildArgs[kv.slice(0, eq)] = kv.slice(eq + 1);
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-t' || w === '--tag' || w === '--image') tags.push(words[++i] ?? '');
    else if (w.startsWith('--tag=')) tags.push(w.slice(6));
    else if (w === '--build-arg') addArg(words[++i]);
    else if (w.startsWith('--build-arg=')) addArg(w.slice(12));
  }
  return { tags: tags.filter(Boolean), buildArgs };
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

const unquote = (s: string) => {
  const t = s.trim();
  return (t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")) ? t.slice(1, -1) : t;
};

function inlineList(value: string): string[] {
  const t = value.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return t ? [unquote(t)] : [];
  return t.slice(1, -1).split(',').map(unquote).filter(Boolean);
}

interface Line {
  indent: number;
  text: string;
}

interface StepItem {
  kind: string;
  value: string;
  /** `- item` entries below a key with an empty value (multi-line `push:`). */
  items: string[];
}

/** The subset of ACR's task YAML the emulator reads (see the file comment). */
export function parseTaskYaml(text: string): {
  aliases: Record<string, string>;
  secrets: YamlSecret[];
  steps: StepItem[];
} {
  const lines: Line[] = text
    .split(/\r?\n/)
    .map(stripComment)
    .filter((l) => l.trim() !== '')
    .map((l) => ({ indent: l.length - l.trimStart().length, text: l.trim() }));
  const aliases: Record<string, string> = {};
  const secrets: YamlSecret[] = [];
  const steps: StepItem[] = [];
  let i = 0;
  const block = (start: number, parentIndent: number): Line[] => {
    const out: Line[] = [];
    for (let j = start; j < lines.length && lines[j]!.indent > parentIndent; j++) out.push(lines[j]!);
    return out;
  };
  const keyValue = (t: string): [string, string] | undefined => {
    const m = /^([A-Za-z_][\w.-]*)\s*:(?:\s+(.*))?$/.exec(t);
    return m ? [m[1]!, m[2] ?? ''] : undefined;
  };
  while (i < lines.length) {
    const line = lines[i]!;
    const kv = line.indent === 0 ? keyValue(line.text) : undefined;
    if (!kv) {
      i++;
      continue;
    }
    const body = block(i + 1, line.indent);
    i += 1 + body.length;
    const section = kv[0].toLowerCase();
    if (section === 'alias') {
      const valuesAt = body.findIndex((l) => /^values\s*:/.test(l.text));
      if (valuesAt >= 0) {
        const vIndent = body[valuesAt]!.indent;
        for (let j = valuesAt + 1; j < body.length && body[j]!.indent > vIndent; j++) {
          const e = keyValue(body[j]!.text);
          if (e) aliases[e[0]] = unquote(e[1]);
        }
      }
    } else if (section === 'secrets' || section === 'steps') {
      const items: { head: string; rest: Line[] }[] = [];
      const itemIndent = body[0]?.indent ?? 0;
      for (const l of body) {
        if (l.indent === itemIndent && l.text.startsWith('-')) items.push({ head: l.text.slice(1).trim(), rest: [] });
        else items[items.length - 1]?.rest.push(l);
      }
      for (const item of items) {
        const props: Record<string, string> = {};
        const listed: string[] = [];
        const first = keyValue(item.head);
        if (first) props[first[0].toLowerCase()] = first[1];
        for (const l of item.rest) {
          if (l.text.startsWith('-')) listed.push(unquote(l.text.slice(1)));
          else {
            const e = keyValue(l.text);
            if (e) props[e[0].toLowerCase()] = e[1];
          }
        }
        if (section === 'secrets') {
          if (props.id && props.keyvault)
            secrets.push({
              id: unquote(props.id),
              keyvault: unquote(props.keyvault),
              ...(props.clientid ? { clientId: unquote(props.clientid) } : {}),
            });
        } else if (first) {
          steps.push({ kind: first[0].toLowerCase(), value: first[1], items: listed });
        }
      }
    }
  }
  return { aliases, secrets, steps };
}

/** `FROM` lines of Dockerfile-like content, with build arguments substituted. */
export function fromLines(text: string, buildArgs: Record<string, string>): string[] {
  const stages = new Set<string>();
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(raw);
    if (!m) continue;
    const ref = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a?: string, b?: string) => buildArgs[(a ?? b)!] ?? whole);
    if (m[2]) stages.add(m[2].toLowerCase());
    if (ref.includes('$') || ref.toLowerCase() === 'scratch' || stages.has(ref.toLowerCase())) continue;
    out.push(ref);
  }
  return out;
}

const unique = (xs: string[]) => [...new Set(xs)];

/** Plan of an EncodedTask (decoded YAML; values already merged into `ctx.values`). */
export function planEncodedTask(yaml: string, ctx: RunTemplateContext): StepPlan {
  const expanded = expandTemplates(yaml, ctx);
  const parsed = parseTaskYaml(expanded);
  const aliases: Record<string, string> = {
    ID: ctx.runId,
    Registry: ctx.registry,
    RegistryName: ctx.registryName,
    Date: ctx.date,
    OS: ctx.os,
    Architecture: ctx.architecture,
    ...parsed.aliases,
  };
  const bases: string[] = [];
  const outputs: string[] = [];
  const buildArgs: Record<string, string> = {};
  for (const step of parsed.steps) {
    const value = substituteAliases(step.value, aliases);
    if (step.kind === 'build') {
      const cmd = parseBuildCommand(value);
      Object.assign(buildArgs, cmd.buildArgs);
      for (const v of Object.values(cmd.buildArgs)) if (looksLikeTaggedImage(v)) bases.push(v);
    } else if (step.kind === 'push') {
      outputs.push(...inlineList(value), ...step.items.map((x) => substituteAliases(x, aliases)));
    }
  }
  bases.push(...fromLines(substituteAliases(expanded, aliases), buildArgs));
  return {
    bases: unique(bases),
    outputs: unique(outputs),
    outputsRelativeTo: 'dockerHub',
    secrets: parsed.secrets,
    buildArgs,
  };
}

/** Plan of a Docker step: build arguments (overrides applied by name) and `imageNames`. */
export function planDockerStep(step: TaskStep, args: SecretArg[], ctx: RunTemplateContext): StepPlan {
  const buildArgs: Record<string, string> = {};
  for (const a of args) buildArgs[a.name] = expandTemplates(a.value, ctx);
  const bases = Object.values(buildArgs).filter(looksLikeTaggedImage);
  const outputs = step.isPushEnabled === false ? [] : (step.imageNames ?? []).map((n) => expandTemplates(n, ctx));
  return { bases: unique(bases), outputs: unique(outputs), outputsRelativeTo: 'taskRegistry', secrets: [], buildArgs };
}

/** Merges `SetValue`/`Argument` lists by name; later lists win. */
export function mergeByName(...lists: (SecretArg[] | undefined)[]): SecretArg[] {
  const map = new Map<string, SecretArg>();
  for (const list of lists) for (const a of list ?? []) if (a && typeof a.name === 'string') map.set(a.name, a);
  return [...map.values()];
}

/** `key: value` lines of a values file (encodedValuesContent). */
export function parseValuesFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^([A-Za-z_][\w.-]*)\s*:\s*(.*)$/.exec(stripComment(raw).trim());
    if (m) out[m[1]!] = unquote(m[2]!);
  }
  return out;
}
