// The Event Grid extension's webhook: POST /runtime/webhooks/eventgrid?functionName=NAME&code=<system key>.
// Behaviour follows Microsoft.Azure.WebJobs.Extensions.EventGrid (HttpRequestProcessor, EventGridExtensionConfigProvider):
// `aeg-event-type` SubscriptionValidation -> 200 {validationResponse}; Notification -> one invocation per event,
// 202 when all succeeded, 500 otherwise; Unsubscribe -> 202; anything else -> 400.
import type { FunctionCatalog, FunctionInfo } from './catalog.js';
import type { Invoker } from './invoker.js';
import { keyMatches, presentedKey } from './keys.js';
import { type HostRequest, type HostResponse, emptyResponse, header, jsonResponse, textResponse } from './http-util.js';
import type { RpcParameterBinding } from './functions-core.js';

export const EVENT_GRID_PATH = '/runtime/webhooks/eventgrid';

export interface EventGridDeps {
  catalog: FunctionCatalog;
  invoker: Invoker;
  /** Keys accepted for the webhook: the `eventgrid_extension` system key and the master key. */
  acceptedKeys: string[];
  extraInputs: (fn: FunctionInfo) => RpcParameterBinding[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validationCode(body: unknown): string | undefined {
  if (Array.isArray(body)) {
    const data = isObject(body[0]) ? body[0].data : undefined;
    return isObject(data) && typeof data.validationCode === 'string' ? data.validationCode : undefined;
  }
  if (isObject(body)) {
    // CloudEvents deliver the validation data double-encoded.
    let data = body.data;
    if (typeof data === 'string') {
      try {
        data = JSON.parse(data) as unknown;
      } catch {
        return undefined;
      }
    }
    return isObject(data) && typeof data.validationCode === 'string' ? data.validationCode : undefined;
  }
  return undefined;
}

export async function handleEventGrid(req: HostRequest, deps: EventGridDeps): Promise<HostResponse> {
  if (!keyMatches(presentedKey(req.headers, req.query), ...deps.acceptedKeys)) return emptyResponse(401);
  const name = req.query.get('functionName') ?? '';
  const fn = deps.catalog.getOfType(name, 'eventGridTrigger');
  if (!fn) return textResponse(404, `cannot find function: '${name}'`);

  if (req.method === 'OPTIONS') {
    // CloudEvents abuse-protection handshake.
    return emptyResponse(200, {
      'webhook-allowed-origin': header(req, 'webhook-request-origin') ?? '*',
      'webhook-allowed-rate': '*',
    });
  }
  if (req.method !== 'POST') return emptyResponse(405, { allow: 'POST, OPTIONS' });

  const contentType = (header(req, 'content-type') ?? '').toLowerCase();
  const isCloudEvents = contentType.startsWith('application/cloudevents');
  const kind = (header(req, 'aeg-event-type') ?? (isCloudEvents ? 'Notification' : '')).toLowerCase();
  if (kind === 'unsubscribe') return emptyResponse(202);
  if (kind !== 'subscriptionvalidation' && kind !== 'notification') return textResponse(400, 'Request not supported.');

  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8')) as unknown;
  } catch {
    return textResponse(400, 'The request content is not valid JSON.');
  }

  if (kind === 'subscriptionvalidation') {
    const code = validationCode(body);
    if (code === undefined) return textResponse(400, 'The validation event has no data.validationCode.');
    return jsonResponse(200, { validationResponse: code });
  }

  const events = Array.isArray(body) ? body : [body];
  if (events.length === 0 || !events.every(isObject)) {
    return textResponse(400, 'The request content should be a JSON object or an array of objects.');
  }
  const results = await Promise.all(
    events.map((ev) =>
      deps.invoker.invoke(fn, [
        { name: fn.triggerBindingName, data: { json: JSON.stringify(ev) } },
        ...deps.extraInputs(fn),
      ]),
    ),
  );
  const failed = results.find((r) => r.error);
  return failed?.error ? textResponse(500, failed.error.message) : emptyResponse(202);
}
