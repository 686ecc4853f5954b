// One preInvocation hook for every function: the handler runs inside its invocation (src/telemetry/invocation.ts), so
// activities log through the invocation context without each registration passing it down.
import { app } from '@azure/functions';
import { runInInvocation } from '../telemetry/invocation.js';

app.hook.preInvocation((c) => {
  const handler = c.functionHandler;
  const context = c.invocationContext;
  c.functionHandler = (input: unknown, ctx: typeof context) => runInInvocation(context, () => handler(input, ctx));
});
