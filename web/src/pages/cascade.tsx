// One cascade, live: its waves left to right with each task's state, run id, run status and duration; every task's
// decision and reasons with copyable fix commands; a cancel button while it runs. Polls while the cascade is active.
import { useState } from 'preact/hooks';
import { ACTIVE, api, ApiFailure, type CascadeDetail, type CascadeTasks, type TaskView } from '../api';
import { Badge, CopyButton, ErrorBox, Reasons, Section, Time, duration } from '../components';
import { useApi } from '../hooks';
import { linkHandler } from '../router';
import { Totals } from './cascades';

interface Live {
  detail: CascadeDetail;
  tasks: CascadeTasks;
}

const POLL_MS = 1500;
const FINAL = new Set(['succeeded', 'failed', 'blocked', 'skipped', 'canceled']);

export function CascadePage({ id }: { id: string }) {
  const live = useApi<Live>(
    `cascade:${id}`,
    async () => {
      const enc = encodeURIComponent(id);
      const [detail, tasks] = await Promise.all([
        api<CascadeDetail>('GET', `rebuilds/${enc}`),
        api<CascadeTasks>('GET', `rebuilds/${enc}/tasks`),
      ]);
      return { detail, tasks };
    },
    (d) => (d === undefined || ACTIVE.has(d.detail.status) ? POLL_MS : undefined),
  );
  const [canceling, setCanceling] = useState<'ask' | 'sending' | 'sent' | undefined>(undefined);
  const [failure, setFailure] = useState<ApiFailure | undefined>(undefined);

  const cancel = async () => {
    setCanceling('sending');
    setFailure(undefined);
    try {
      await api('POST', `rebuilds/${encodeURIComponent(id)}/cancel`);
      setCanceling('sent');
      live.reload();
    } catch (err) {
      setFailure(err as ApiFailure);
      setCanceling(undefined);
    }
  };

  const d = live.data?.detail;
  const t = live.data?.tasks;
  const active = d ? ACTIVE.has(d.status) : false;
  const totals = d?.totals ?? d?.result?.totals ?? d?.progress?.totals;
  const image = d?.result?.image ?? d?.progress?.image ?? t?.request?.image;
  const requestedTasks = t?.request?.tasks;
  const done = t ? t.tasks.filter((x) => FINAL.has(x.state)).length : 0;

  return (
    <>
      <p>
        <a {...linkHandler('/cascades')}>← Cascades</a>
      </p>
      <h1>
        Cascade <span class="mono">{id}</span>
      </h1>
      <ErrorBox error={live.error} what="Loading the cascade" />
      {d ? (
        <Section
          title="Summary"
          actions={
            active ? (
              canceling === 'ask' || canceling === 'sending' ? (
                <span class="confirm" role="group" aria-label="Confirm cancel">
                  <span>Cancel this cascade and its runs?</span>
                  <button type="button" class="danger" onClick={() => void cancel()} disabled={canceling === 'sending'}>
                    {canceling === 'sending' ? 'Canceling…' : 'Cancel cascade'}
                  </button>
                  <button type="button" onClick={() => setCanceling(undefined)}>
                    Keep running
                  </button>
                </span>
              ) : (
                <button
                  type="button"
                  class="danger"
                  onClick={() => setCanceling('ask')}
                  disabled={canceling === 'sent' || d.progress?.canceling === true}
                >
                  {canceling === 'sent' || d.progress?.canceling ? 'Canceling…' : 'Cancel…'}
                </button>
              )
            ) : null
          }
        >
          <ErrorBox error={failure} what="Cancel" />
          <dl class="facts">
            <div>
              <dt>Status</dt>
              <dd aria-live="polite" data-testid="cascade-status">
                <Badge value={d.status} />
                {active && d.progress ? (
                  <span class="muted">
                    {' '}
                    {d.progress.canceling ? 'canceling' : d.progress.phase}
                    {d.progress.waves ? ` · wave ${d.progress.wave} of ${d.progress.waves}` : ''}
                  </span>
                ) : null}
              </dd>
            </div>
            <div>
              <dt>Image</dt>
              <dd class="mono">
                {image
                  ? `${image.ref}${image.digest ? `@${image.digest.slice(0, 19)}…` : ''}`
                  : requestedTasks
                    ? `${requestedTasks.length} given task${requestedTasks.length === 1 ? '' : 's'}`
                    : '—'}
              </dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>
                <Time iso={d.result?.startedAt ?? d.progress?.startedAt ?? d.createdTime} />
              </dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>
                {duration(
                  d.result?.startedAt ?? d.progress?.startedAt ?? d.createdTime,
                  active ? undefined : (d.result?.finishedAt ?? d.lastUpdatedTime),
                )}
              </dd>
            </div>
            {d.requestedBy ? (
              <div>
                <dt>Requested by</dt>
                <dd>{d.requestedBy}</dd>
              </div>
            ) : null}
            <div>
              <dt>Tasks</dt>
              <dd>{totals ? <Totals t={totals} /> : '—'}</dd>
            </div>
          </dl>
          {t && t.tasks.length > 0 ? (
            <div
              class="progress"
              role="progressbar"
              aria-label="Tasks finished"
              aria-valuemin={0}
              aria-valuemax={t.tasks.length}
              aria-valuenow={done}
            >
              <div style={{ width: `${(100 * done) / t.tasks.length}%` }} />
            </div>
          ) : null}
          {d.result?.error ? <p class="error">{d.result.error}</p> : null}
          {d.result?.notes?.length ? <Reasons reasons={d.result.notes} /> : null}
        </Section>
      ) : live.loading ? (
        <p class="muted">Loading…</p>
      ) : null}
      {t ? <Waves tasks={t} /> : null}
      {t && t.tasks.length > 0 ? <TaskTable tasks={t.tasks} /> : null}
    </>
  );
}

function Waves({ tasks }: { tasks: CascadeTasks }) {
  const byId = new Map(tasks.tasks.map((x) => [x.task, x]));
  const unwaved = tasks.tasks.filter((x) => !tasks.waves.some((w) => w.includes(x.task)));
  const columns = [...tasks.waves.map((w) => w.map((id) => byId.get(id)).filter((x): x is TaskView => !!x))];
  if (unwaved.length) columns.push(unwaved);
  return (
    <Section title="Waves">
      {columns.length === 0 ? <p class="muted">Planning…</p> : null}
      <div class="board" data-testid="waves">
        {columns.map((col, i) => (
          <section key={i} class="wave" aria-label={i < tasks.waves.length ? `Wave ${i + 1}` : 'Not scheduled'}>
            <h3>{i < tasks.waves.length ? `Wave ${i + 1}` : 'Not scheduled'}</h3>
            {col.map((x) => (
              <article key={x.task} class={`card card-${x.state}`} data-task={x.taskName} data-state={x.state}>
                <header>
                  <strong>{x.taskName}</strong> <Badge value={x.state} />
                </header>
                <div class="card-body">
                  {x.runId ? (
                    <span>
                      run <span class="mono">{x.runId}</span>
                      {x.runStatus ? ` · ${x.runStatus}` : ''}
                    </span>
                  ) : (
                    <span class="muted">{cardNote(x)}</span>
                  )}
                  {x.startedAt ? (
                    <span class="muted">
                      {' '}
                      · {duration(x.startedAt, x.finishedAt ?? (FINAL.has(x.state) ? x.startedAt : undefined))}
                    </span>
                  ) : null}
                </div>
              </article>
            ))}
          </section>
        ))}
      </div>
    </Section>
  );
}

function cardNote(x: TaskView): string {
  if (x.state === 'waiting') return 'waiting for its wave';
  if (x.state === 'notRun') return 'not run (the result will say why)';
  return x.reasons[0]?.code ?? x.decision;
}

function TaskTable({ tasks }: { tasks: TaskView[] }) {
  return (
    <Section title="Tasks">
      <table class="grid" aria-label="Tasks of this cascade">
        <thead>
          <tr>
            <th scope="col">Wave</th>
            <th scope="col">Task</th>
            <th scope="col">Decision</th>
            <th scope="col">State</th>
            <th scope="col">Run</th>
            <th scope="col">Duration</th>
            <th scope="col">Reasons</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((x) => (
            <tr key={x.task} data-task={x.taskName}>
              <td>{x.wave || '—'}</td>
              <td title={x.task}>{x.taskName}</td>
              <td>
                <Badge value={x.decision} />
              </td>
              <td>
                <Badge value={x.state} />
              </td>
              <td>
                {x.runId ? (
                  <>
                    <span class="mono">{x.runId}</span> <CopyButton text={x.runId} label="Copy run id" />
                    <div class="muted">
                      {x.runStatus}
                      {x.attempts && x.attempts > 1 ? ` · attempt ${x.attempts}` : ''}
                      {x.adopted ? ' · adopted native run' : ''}
                    </div>
                  </>
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
              <td>{x.startedAt ? duration(x.startedAt, x.finishedAt) : '—'}</td>
              <td>
                <Reasons reasons={x.reasons} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}
