// Impact: what a push of an image (or a rebuild of a task) would rebuild, in which waves, and what is blocked and
// why — the dependency graph as a layered picture beside the plan, with a dry run and a real rebuild.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiFailure, type Graph, type Plan, type PlannedTask } from '../api';
import { Badge, ErrorBox, Reasons, Section, Time } from '../components';
import { fromGraph, fromPlan, GraphView } from '../graph';
import { useApi } from '../hooks';
import { navigate, type Location } from '../router';

type Mode = 'image' | 'task';

interface Impact {
  plan: Plan;
  graph?: Graph;
}

function subjectOf(loc: Location): { mode: Mode; value: string } | undefined {
  const image = loc.query.get('image');
  if (image) return { mode: 'image', value: image };
  const task = loc.query.get('task');
  if (task) return { mode: 'task', value: task };
  return undefined;
}

function body(mode: Mode, value: string): Record<string, unknown> {
  return mode === 'image' ? { image: value } : { tasks: [value] };
}

export function ImpactPage({ loc }: { loc: Location }) {
  const subject = subjectOf(loc);
  const [mode, setMode] = useState<Mode>(subject?.mode ?? 'image');
  const [value, setValue] = useState(subject?.value ?? '');
  const key = subject ? `${subject.mode}:${subject.value}` : undefined;
  const impact = useApi<Impact>(key, async () => {
    if (!subject) throw new Error('no subject');
    if (subject.mode === 'task') return { plan: await api<Plan>('POST', 'plan', body('task', subject.value)) };
    const q = encodeURIComponent(subject.value);
    const [graph, plan] = await Promise.all([
      api<Graph>('GET', `graph?image=${q}`),
      api<Plan>('GET', `plan?image=${q}`),
    ]);
    return { graph, plan };
  });

  const submit = (e: Event) => {
    e.preventDefault();
    const v = value.trim();
    if (v) navigate(`/impact?${mode}=${encodeURIComponent(v)}`);
  };

  return (
    <>
      <h1>Impact</h1>
      <form class="subject" onSubmit={submit} aria-label="What to look at">
        <fieldset class="mode">
          <legend class="sr-only">Look at</legend>
          <label>
            <input type="radio" name="mode" checked={mode === 'image'} onChange={() => setMode('image')} /> Image
          </label>
          <label>
            <input type="radio" name="mode" checked={mode === 'task'} onChange={() => setMode('task')} /> Task
          </label>
        </fieldset>
        <label class="grow">
          <span class="sr-only">{mode === 'image' ? 'Image reference' : 'Task resource id'}</span>
          <input
            type="text"
            name="subject"
            value={value}
            onInput={(e) => setValue((e.target as HTMLInputElement).value)}
            placeholder={
              mode === 'image'
                ? 'mybaseregistry.azurecr.io/baseimages/node:15-alpine'
                : '/subscriptions/…/registries/myregistry/tasks/helloworld'
            }
            aria-label={mode === 'image' ? 'Image reference' : 'Task resource id'}
            spellcheck={false}
          />
        </label>
        <button type="submit" class="primary">
          Show impact
        </button>
      </form>
      {!subject ? (
        <p class="muted">
          Enter an image reference (what a push of it would rebuild) or a task id (that task and what builds on it).
        </p>
      ) : null}
      <ErrorBox error={impact.error} what="Loading the impact" />
      {subject && !impact.data && impact.loading ? <p class="muted">Planning…</p> : null}
      {subject && impact.data ? <ImpactView subject={subject} impact={impact.data} /> : null}
    </>
  );
}

function ImpactView({ subject, impact }: { subject: { mode: Mode; value: string }; impact: Impact }) {
  const [dry, setDry] = useState<Plan | undefined>(undefined);
  const [busy, setBusy] = useState<'dry' | 'real' | undefined>(undefined);
  const [confirming, setConfirming] = useState(false);
  const [failure, setFailure] = useState<ApiFailure | undefined>(undefined);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const plan = dry ?? impact.plan;
  const picture = useMemo(() => (impact.graph ? fromGraph(impact.graph, plan) : fromPlan(plan)), [impact.graph, plan]);

  const dryRun = async () => {
    setBusy('dry');
    setFailure(undefined);
    try {
      const r = await api<{ dryRun: true; plan: Plan }>('POST', 'rebuilds', {
        ...body(subject.mode, subject.value),
        dryRun: true,
      });
      setDry(r.plan);
    } catch (err) {
      setFailure(err as ApiFailure);
    } finally {
      setBusy(undefined);
    }
  };
  const rebuild = async () => {
    setBusy('real');
    setFailure(undefined);
    try {
      const r = await api<{ id: string }>('POST', 'rebuilds', body(subject.mode, subject.value));
      navigate(`/cascades/${encodeURIComponent(r.id)}`);
    } catch (err) {
      setFailure(err as ApiFailure);
      setBusy(undefined);
      setConfirming(false);
    }
  };

  const count = (d: PlannedTask['decision']) => plan.tasks.filter((t) => t.decision === d).length;
  const rebuilds = count('rebuild');
  return (
    <div class="impact">
      <Section
        title="Dependency graph"
        subtitle={subject.value}
        actions={
          <>
            <button type="button" onClick={() => void dryRun()} disabled={busy !== undefined}>
              {busy === 'dry' ? 'Running dry run…' : 'Dry run'}
            </button>
            {confirming ? (
              <span class="confirm" role="group" aria-label="Confirm rebuild">
                <span>
                  Start {rebuilds} run{rebuilds === 1 ? '' : 's'}?
                </span>
                <button type="button" class="danger" onClick={() => void rebuild()} disabled={busy !== undefined}>
                  {busy === 'real' ? 'Starting…' : 'Start rebuild'}
                </button>
                <button type="button" onClick={() => setConfirming(false)} disabled={busy !== undefined}>
                  Keep
                </button>
              </span>
            ) : (
              <button type="button" class="primary" onClick={() => setConfirming(true)} disabled={busy !== undefined}>
                Rebuild…
              </button>
            )}
          </>
        }
      >
        <ErrorBox error={failure} what="The request" />
        {dry ? (
          <p class="notice" role="status" data-testid="dry-run-result">
            Dry run: {rebuilds} task{rebuilds === 1 ? '' : 's'} would rebuild in {plan.waves.length} wave
            {plan.waves.length === 1 ? '' : 's'}, {count('skip')} skipped, {count('blocked')} blocked. Nothing was
            started.
          </p>
        ) : null}
        {impact.graph?.truncated ? <p class="notice">The graph is large; only part of it is drawn.</p> : null}
        {picture.nodes.length > 0 ? (
          <GraphView graph={picture} title={`Dependency graph of ${subject.value}`} onSelect={setSelected} />
        ) : (
          <p class="muted">Nothing depends on this.</p>
        )}
        <p class="legend" aria-hidden="true">
          <span class="key key-recorded">recorded base</span>
          <span class="key key-declared">declared base</span>
          <span class="key key-output">output image</span>
          <span class="key key-blocked">blocked</span>
          <span class="key key-skip">skipped</span>
          <span>→ image: pushed, nothing here builds from it</span>
        </p>
      </Section>
      <PlanPanel plan={plan} selected={selected} dry={dry !== undefined} />
    </div>
  );
}

function PlanPanel({ plan, selected, dry }: { plan: Plan; selected: string | undefined; dry: boolean }) {
  const byId = new Map(plan.tasks.map((t) => [t.task, t]));
  const unplaced = plan.tasks.filter((t) => !plan.waves.some((w) => w.includes(t.task)));
  return (
    <Section title={dry ? 'Plan (dry run)' : 'Plan'}>
      <p class="muted">
        {plan.tasks.length} task{plan.tasks.length === 1 ? '' : 's'} in {plan.waves.length} wave
        {plan.waves.length === 1 ? '' : 's'}; index refreshed <Time iso={plan.indexRefreshedAt} />
      </p>
      {plan.notes?.length ? <Reasons reasons={plan.notes} /> : null}
      {plan.cycles.length ? (
        <p class="error">
          Cycles (not scheduled):{' '}
          {plan.cycles.map((c) => c.map((id) => byId.get(id)?.taskName ?? id).join(' → ')).join('; ')}
        </p>
      ) : null}
      <ol class="waves">
        {plan.waves.map((wave, i) => (
          <li key={i}>
            <h3>Wave {i + 1}</h3>
            <ul class="plan-tasks">
              {wave.map((id) => {
                const t = byId.get(id);
                return t ? <PlanRow key={id} t={t} selected={same(selected, id)} /> : null;
              })}
            </ul>
          </li>
        ))}
      </ol>
      {unplaced.length ? (
        <>
          <h3>Not scheduled</h3>
          <ul class="plan-tasks">
            {unplaced.map((t) => (
              <PlanRow key={t.task} t={t} selected={same(selected, t.task)} />
            ))}
          </ul>
        </>
      ) : null}
    </Section>
  );
}

/** ARM ids compare case-insensitively (the index and the plan may spell them differently). */
function same(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function PlanRow({ t, selected }: { t: PlannedTask; selected: boolean }) {
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (selected) ref.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }, [selected]);
  return (
    <li
      ref={ref}
      tabIndex={-1}
      class={`plan-task${selected ? ' selected' : ''}`}
      id={`task-${t.taskName}`}
      data-task={t.taskName}
    >
      <div class="row-head">
        <strong title={t.task}>{t.taskName}</strong> <Badge value={t.decision} />
      </div>
      <Reasons reasons={t.reasons} />
    </li>
  );
}
