// One preInvocation hook for every function: the handler runs inside its invocation (src/telemetry/invocation.ts), so
// activities log through the invocation context without each registration passing it down — and an activity's lines
// carry the ids its input names (cascadeId, taskId, runId, eventId, checkId; src/telemetry/dimensions.ts).
import { app } from '@azure/functions';
import { dimensionsOfInput } from '../telemetry/dimensions.js';
import { runInInvocation } from '../telemetry/invocation.js';

app.hook.preInvocation((c) => {
  const handler = c.functionHandler;
  const context = c.invocationContext;
  const dims = context.options.trigger.type === 'activityTrigger' ? dimensionsOfInput(c.inputs[0]) : {};
  c.functionHandler = (input: unknown, ctx: typeof context) =>
    runInInvocation(context, () => handler(input, ctx), dims);
});
