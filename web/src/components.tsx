// Small pieces every page uses: status badges, reasons with copyable fix commands, times, errors.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { ApiFailure, Reason } from './api';

/** A status word as a coloured badge; the colour class follows the word so every page agrees. */
export function Badge({ value, title }: { value: string; title?: string }) {
  return (
    <span class={`badge badge-${tone(value)}`} title={title}>
      {value}
    </span>
  );
}

export function tone(value: string): 'ok' | 'bad' | 'warn' | 'busy' | 'idle' {
  switch (value.toLowerCase()) {
    case 'completed':
    case 'succeeded':
    case 'healthy':
    case 'rebuild':
    case 'refreshed':
    case 'rotated':
    case 'enabled':
      return 'ok';
    case 'failed':
    case 'blocked':
    case 'expired':
    case 'missing':
    case 'accessdenied':
    case 'terminated':
    case 'error':
    case 'timeout':
    case 'disabled':
      return 'bad';
    case 'expiring':
    case 'canceled':
    case 'superseded':
    case 'outdatedversion':
    case 'notyetvalid':
    case 'unknown':
    case 'warning':
    case 'throttled':
      return 'warn';
    case 'running':
    case 'pending':
    case 'scheduling':
    case 'watching':
    case 'remediating':
    case 'rechecking':
    case 'queued':
    case 'started':
      return 'busy';
    default:
      return 'idle';
  }
}

/** Copies text to the clipboard and says so (for fix commands). */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Not a secure context or no permission: select-and-copy through a hidden field.
      const area = document.createElement('textarea');
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" class="copy" onClick={() => void copy()} aria-label={`${label}: ${text.split('\n')[0]}`}>
      {done ? 'Copied' : label}
    </button>
  );
}

export function Reasons({ reasons }: { reasons: Reason[] }) {
  if (reasons.length === 0) return null;
  return (
    <ul class="reasons">
      {reasons.map((r, i) => (
        <li key={`${r.code}-${i}`} class={`reason reason-${r.severity}`}>
          <span class="reason-code">{r.code}</span> {r.message}
          {r.fix ? (
            <div class="fix">
              <pre>
                <code>{r.fix}</code>
              </pre>
              <CopyButton text={r.fix} label="Copy fix" />
            </div>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

export function ErrorBox({ error, what }: { error: ApiFailure | undefined; what: string }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <strong>
        {what} failed ({error.code}
        {error.status ? `, HTTP ${error.status}` : ''}):
      </strong>{' '}
      {error.message}
      {error.field ? <span class="muted"> (field: {error.field})</span> : null}
    </div>
  );
}

export function Time({ iso }: { iso: string | undefined | null }) {
  if (!iso) return <span class="muted">—</span>;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span>{iso}</span>;
  return (
    <time dateTime={d.toISOString()} title={d.toISOString()}>
      {d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}
    </time>
  );
}

export function duration(fromIso: string | undefined, toIso?: string | undefined, now = Date.now()): string {
  if (!fromIso) return '—';
  const from = Date.parse(fromIso);
  const to = toIso ? Date.parse(toIso) : now;
  if (Number.isNaN(from) || Number.isNaN(to)) return '—';
  const s = Math.max(0, Math.round((to - from) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function shortName(id: string): string {
  return id.replace(/\/+$/, '').split('/').pop() ?? id;
}

export function Section({
  title,
  subtitle,
  children,
  actions,
}: {
  title: string;
  /** A second, smaller line (e.g. the image reference the panel is about). */
  subtitle?: string;
  children: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <section class="panel" aria-label={title}>
      <header class="panel-head">
        <h2>
          {title}
          {subtitle ? <span class="subject-ref">{subtitle}</span> : null}
        </h2>
        {actions ? <div class="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}
