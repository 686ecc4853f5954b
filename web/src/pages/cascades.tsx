// Cascades: the recent list (running ones first, then ended ones newest first), filtered by status, paged.
import { useState } from 'preact/hooks';
import { ACTIVE, api, type CascadeSummary } from '../api';
import { Badge, ErrorBox, Time, duration } from '../components';
import { useApi } from '../hooks';
import { linkHandler, navigate, type Location } from '../router';

const STATUSES = ['Running', 'Pending', 'Completed', 'Failed', 'Canceled', 'Superseded', 'Terminated'];

interface Page {
  cascades: CascadeSummary[];
  continuation?: string;
}

export function CascadesPage({ loc }: { loc: Location }) {
  const status = loc.query.get('status') ?? '';
  const [more, setMore] = useState<{ for: string; rows: CascadeSummary[]; next?: string } | undefined>(undefined);
  const list = useApi<Page>(
    `cascades:${status}`,
    () => api<Page>('GET', `rebuilds?top=25${status ? `&status=${encodeURIComponent(status)}` : ''}`),
    // Refreshes while anything listed is in flight, slowly otherwise.
    (p) => (p?.cascades.some((c) => ACTIVE.has(c.status)) ? 2000 : 10000),
  );
  const extra = more?.for === status ? more : undefined;
  const rows = [...(list.data?.cascades ?? []), ...(extra?.rows ?? [])];
  const next = extra ? extra.next : list.data?.continuation;

  const loadMore = async () => {
    if (!next) return;
    const p = await api<Page>(
      'GET',
      `rebuilds?top=25&continuation=${encodeURIComponent(next)}${status ? `&status=${encodeURIComponent(status)}` : ''}`,
    );
    setMore({
      for: status,
      rows: [...(extra?.rows ?? []), ...p.cascades],
      ...(p.continuation ? { next: p.continuation } : {}),
    });
  };

  return (
    <>
      <h1>Cascades</h1>
      <div class="toolbar">
        <label>
          Status{' '}
          <select
            name="status"
            value={status}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              navigate(v ? `/cascades?status=${v}` : '/cascades', true);
            }}
          >
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
        <a class="button" {...linkHandler('/impact')}>
          Start a rebuild…
        </a>
      </div>
      <ErrorBox error={list.error} what="Listing cascades" />
      <table class="grid" aria-label="Recent cascades">
        <thead>
          <tr>
            <th scope="col">Cascade</th>
            <th scope="col">Status</th>
            <th scope="col">Image</th>
            <th scope="col">Started</th>
            <th scope="col">Duration</th>
            <th scope="col">Tasks</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => {
            const totals = c.totals ?? c.progress?.totals;
            const image = c.image?.ref ?? c.progress?.image?.ref;
            const active = ACTIVE.has(c.status);
            return (
              <tr key={c.id} data-cascade={c.id}>
                <td>
                  <a {...linkHandler(`/cascades/${encodeURIComponent(c.id)}`)} class="mono">
                    {c.id}
                  </a>
                </td>
                <td>
                  <Badge value={c.status} />
                  {active && c.progress ? (
                    <span class="muted">
                      {' '}
                      {c.progress.phase}
                      {c.progress.waves ? ` · wave ${c.progress.wave}/${c.progress.waves}` : ''}
                    </span>
                  ) : null}
                </td>
                <td class="mono">{image ?? <span class="muted">—</span>}</td>
                <td>
                  <Time iso={c.createdTime} />
                </td>
                <td>{duration(c.createdTime, active ? undefined : (c.lastUpdatedTime ?? undefined))}</td>
                <td>{totals ? <Totals t={totals} /> : <span class="muted">—</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {list.data && rows.length === 0 ? (
        <p class="muted">No cascades{status ? ` with status ${status}` : ''} yet.</p>
      ) : null}
      {next ? (
        <button type="button" onClick={() => void loadMore()}>
          Load more
        </button>
      ) : null}
    </>
  );
}

export function Totals({ t }: { t: NonNullable<CascadeSummary['totals']> }) {
  const parts: [string, number][] = [
    ['succeeded', t.succeeded],
    ['running', t.running ?? 0],
    ['failed', t.failed],
    ['blocked', t.blocked],
    ['skipped', t.skipped],
    ['canceled', t.canceled],
  ];
  return (
    <span class="totals">
      {t.planned} planned
      {parts
        .filter(([, n]) => n > 0)
        .map(([k, n]) => (
          <span key={k} class={`total total-${k}`}>
            {' '}
            · {n} {k}
          </span>
        ))}
    </span>
  );
}
