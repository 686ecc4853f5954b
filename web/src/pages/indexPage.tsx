// Index: what acr-cascade knows — the registries and tasks in its managed scopes, when it last looked, and a refresh.
import { useState } from 'preact/hooks';
import { api, ApiFailure, type IndexSummary, type IndexTasks } from '../api';
import { Badge, ErrorBox, Section, Time } from '../components';
import { useApi } from '../hooks';
import { linkHandler } from '../router';

interface IndexData {
  summary: IndexSummary;
  listing: IndexTasks;
}

export function IndexPage() {
  const [refreshing, setRefreshing] = useState<{ since: string } | undefined>(undefined);
  const [failure, setFailure] = useState<ApiFailure | undefined>(undefined);
  const [filter, setFilter] = useState('');
  const index = useApi<IndexData>(
    'index',
    async () => {
      const [summary, listing] = await Promise.all([
        api<IndexSummary>('GET', 'index'),
        api<IndexTasks>('GET', 'index/tasks'),
      ]);
      return { summary, listing };
    },
    (d) => {
      if (!refreshing) return undefined;
      if (d?.summary.refreshedAt && d.summary.refreshedAt > refreshing.since) {
        setRefreshing(undefined);
        return undefined;
      }
      return 1500;
    },
  );

  const refresh = async () => {
    setFailure(undefined);
    try {
      const since = index.data?.summary.refreshedAt ?? '';
      await api('POST', 'index/refresh');
      setRefreshing({ since });
      index.reload();
    } catch (err) {
      setFailure(err as ApiFailure);
    }
  };

  const d = index.data;
  const f = filter.trim().toLowerCase();
  const tasks = d?.listing.tasks.filter((t) => !f || `${t.name} ${t.registry}`.toLowerCase().includes(f)) ?? [];
  return (
    <>
      <h1>Index</h1>
      <ErrorBox error={index.error} what="Loading the index" />
      <ErrorBox error={failure} what="Starting a refresh" />
      {d ? (
        <Section
          title="Dependency index"
          actions={
            <button type="button" class="primary" onClick={() => void refresh()} disabled={refreshing !== undefined}>
              {refreshing ? 'Refreshing…' : 'Refresh now'}
            </button>
          }
        >
          <dl class="facts">
            <div>
              <dt>Last refresh</dt>
              <dd data-testid="index-refreshed">
                <Time iso={d.summary.refreshedAt} />
              </dd>
            </div>
            <div>
              <dt>Registries</dt>
              <dd>{d.summary.registries}</dd>
            </div>
            <div>
              <dt>Tasks</dt>
              <dd>{d.summary.tasks}</dd>
            </div>
            <div>
              <dt>Credentials not read yet</dt>
              <dd>{d.summary.pending}</dd>
            </div>
            {d.summary.lastRefresh ? (
              <div>
                <dt>Last change</dt>
                <dd>
                  +{d.summary.lastRefresh.added} ~{d.summary.lastRefresh.changed} −{d.summary.lastRefresh.removed} in{' '}
                  {d.summary.lastRefresh.durationMs} ms
                </dd>
              </div>
            ) : null}
            <div>
              <dt>Scopes</dt>
              <dd class="mono small">{d.summary.scopes.join(', ') || '—'}</dd>
            </div>
          </dl>
          {d.summary.lastRefresh?.errors.length ? (
            <ul class="reasons">
              {d.summary.lastRefresh.errors.map((e) => (
                <li key={e.scope} class="reason reason-warning">
                  <span class="reason-code">{e.code}</span> {e.scope}: {e.message}
                </li>
              ))}
            </ul>
          ) : null}
        </Section>
      ) : null}
      {d ? (
        <Section title="Registries">
          <table class="grid" aria-label="Registries">
            <thead>
              <tr>
                <th scope="col">Registry</th>
                <th scope="col">Login server</th>
                <th scope="col">Tasks</th>
              </tr>
            </thead>
            <tbody>
              {d.listing.registries.map((r) => (
                <tr key={r.id}>
                  <td title={r.id}>{r.name}</td>
                  <td class="mono">{r.loginServer}</td>
                  <td>{r.tasks}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      ) : null}
      {d ? (
        <Section
          title="Tasks"
          actions={
            <label>
              <span class="sr-only">Filter tasks</span>
              <input
                type="search"
                placeholder="Filter tasks"
                aria-label="Filter tasks"
                value={filter}
                onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
              />
            </label>
          }
        >
          <table class="grid" aria-label="Tasks">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Registry</th>
                <th scope="col">Status</th>
                <th scope="col">Builds from</th>
                <th scope="col">Pushes</th>
                <th scope="col">Logins</th>
                <th scope="col">Problems</th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id} data-task={t.name}>
                  <td title={t.id}>
                    <a {...linkHandler(`/impact?task=${encodeURIComponent(t.id)}`)}>{t.name}</a>
                  </td>
                  <td>{t.registry}</td>
                  <td>
                    <Badge value={t.status} />
                    {t.nativeTrigger ? <div class="muted small">native trigger {t.nativeTrigger}</div> : null}
                  </td>
                  <td class="mono small">
                    {t.baseImages.map((b) => (
                      <div key={b.ref}>
                        <a {...linkHandler(`/impact?image=${encodeURIComponent(b.ref)}`)}>{b.ref}</a>{' '}
                        <span class="muted">({b.source})</span>
                      </div>
                    ))}
                  </td>
                  <td class="mono small">
                    {t.outputImages.map((o) => (
                      <div key={o}>{o}</div>
                    ))}
                  </td>
                  <td>{t.logins}</td>
                  <td class="small">{t.problems.join('; ') || <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {d.listing.truncated ? <p class="muted">More tasks than shown; narrow the filter.</p> : null}
        </Section>
      ) : null}
    </>
  );
}
